"""Sanity checks on REAL simulator outputs (tests/golden/): a clean copy passes, a corrupted copy fires.

Each test copies a real sample into tmp_path, builds the table our adapter parser makes of it, lays it
out like results/<study>/runs/<sim>/<run_id>/, then corrupts one thing (a table value, an echoed
config entry, a rendered input) and asserts the named check reports exactly that.
"""
from __future__ import annotations

import gzip
import json
import shutil

import pandas as pd
import pytest
import yaml

from eoesim.provenance import sha256_file
from eoesim.schema import load_schema
from eoesim.simulators.garnet_stats import parse_run
from eoesim.simulators.mqsim_results import read_flow_table
from eoesim.simulators.rapidchiplet_results import ANALYTIC_METRICS, BOOKSIM_METRIC, parse_results
from eoesim.simulators.scalesim import ScaleSim
from eoesim.simulators.scalesim_reports import read_reports
from eoesim.trust.bounds import standard_peak_bytes_per_s
from eoesim.trust.checks import SanityCheckError, raise_on_errors
from eoesim.trust.echo import booksim_echo_mismatches, scalesim_echo_mismatches
from eoesim.trust.suite import registry, run_checks
from eoesim.trust.sweep import non_moving

RUN = "0123456789ab"


def status(results: pd.DataFrame, check: str, sim: str) -> pd.Series:
    row = results[(results["check"] == check) & (results["simulator"] == sim)]
    assert len(row) == 1, (check, sim, results)
    return row.iloc[0]


def write_run_json(rundir, inputs):
    record = {"run_id": RUN, "inputs_sha256": {n: sha256_file(rundir / n) for n in inputs}}
    (rundir / "run.json").write_text(json.dumps(record))


# ------------------------------------------------------------------------------------------ SCALE-Sim
@pytest.fixture
def scalesim_run(golden, tmp_path):
    """The real SCALE-Sim v3 sample as runs/scalesim/<run>/ and its table (as collect_table makes it)."""
    src = golden / "scalesim" / "v3"
    rundir = tmp_path / "runs" / "scalesim" / RUN
    rundir.mkdir(parents=True)
    shutil.copy(src / "scale.cfg", rundir / "scale.cfg")
    shutil.copy(src / "stdout.txt", rundir / "stdout.log")
    write_run_json(rundir, ["scale.cfg"])
    table = read_reports(src)
    table.insert(0, "run_id", RUN)
    table.insert(1, "array_rows", 32)
    table.insert(2, "array_cols", 32)
    table.insert(3, "dataflow", "ws")
    table["fidelity"], table["source"] = "simulate", "scalesim 3.0.0"
    return tmp_path / "runs", rundir, table


def test_clean_real_scalesim_run_passes_every_check(scalesim_run):
    runs, _, table = scalesim_run
    results = run_checks({"scalesim": table}, runs)
    assert set(results["status"]) == {"pass"}, results[results["status"] != "pass"]
    assert status(results, "scalesim_config_echo", "scalesim")["rows_checked"] == len(table) == 1
    raise_on_errors(results)


def test_negative_cycles_and_util_above_100_fail_naming_rows_and_hint(scalesim_run):
    runs, _, table = scalesim_run
    bad = table.copy()
    bad["total_cycles"] = -bad["total_cycles"]
    bad["compute_util_pct"] = 120.0
    results = run_checks({"scalesim": bad}, runs)
    neg = status(results, "negative_value", "scalesim")
    assert (neg["status"], neg["rows_affected"], neg["sample_rows"]) == ("fail", 1, f"{RUN}:layer_id=0")
    assert "total_cycles is negative" in neg["message"] and "-77111" in neg["message"]
    pct = status(results, "percent_out_of_range", "scalesim")
    assert pct["status"] == "fail" and "compute_util_pct outside 0..100" in pct["message"]
    with pytest.raises(SanityCheckError) as info:
        raise_on_errors(results)
    text = str(info.value)
    assert "negative_value [scalesim]" in text and f"{RUN}:layer_id=0" in text and "Hint:" in text


def test_nan_and_inf_metrics_fail(scalesim_run):
    runs, _, table = scalesim_run
    bad = table.copy()
    bad["overall_util_pct"] = float("nan")
    bad["ifmap_dram_bw_words_per_cycle"] = float("inf")
    row = status(run_checks({"scalesim": bad}, runs), "non_finite_value", "scalesim")
    assert row["status"] == "fail"
    assert "overall_util_pct is not a finite number" in row["message"]
    assert "ifmap_dram_bw_words_per_cycle is infinite" in row["message"]


def test_scalesim_echo_catches_a_dataflow_and_array_it_did_not_run(scalesim_run):
    runs, rundir, table = scalesim_run
    cfg = (rundir / "scale.cfg").read_text()
    (rundir / "scale.cfg").write_text(cfg.replace("Dataflow : ws", "Dataflow : os").replace("ArrayWidth:     32",
                                                                                             "ArrayWidth:     64"))
    write_run_json(rundir, ["scale.cfg"])  # rendered like this: only the echo disagrees
    row = status(run_checks({"scalesim": table}, runs), "scalesim_config_echo", "scalesim")
    assert row["status"] == "fail"
    assert "Dataflow: rendered Output Stationary, SCALE-Sim ran Weight Stationary" in row["message"]
    assert "Array Size: rendered 32x64, SCALE-Sim ran 32x32" in row["message"]


def test_invalid_dataflow_fallback_is_a_mismatch(golden):
    cfg = (golden / "scalesim" / "v3" / "scale.cfg").read_text().replace("Dataflow : ws", "Dataflow : xs")
    stdout = (golden / "scalesim" / "v3" / "stdout.txt").read_text()
    assert scalesim_echo_mismatches(cfg, stdout) == [
        "Dataflow: rendered (invalid xs), SCALE-Sim ran Weight Stationary"]


def test_rendered_input_changed_after_the_run_fails(scalesim_run):
    runs, rundir, table = scalesim_run
    with open(rundir / "scale.cfg", "a") as fh:
        fh.write("\n# edited\n")
    row = status(run_checks({"scalesim": table}, runs), "rendered_input_overwritten", "scalesim")
    assert row["status"] == "fail" and "scale.cfg changed after rendering" in row["message"]


def test_non_moving_cycles_across_array_sizes_warns(golden):
    real = read_reports(golden / "scalesim" / "v3")
    common = {"dataflow": "ws", "gemm": "g", "m": 7, "n": 384, "k": 1728, "fidelity": "simulate"}
    rows = [dict(real.iloc[0], run_id=f"r{a}", array_rows=a, array_cols=a, **common) for a in (32, 64)]
    flat = pd.DataFrame(rows)
    results = run_checks({"scalesim": flat})
    row = status(results, "metric_does_not_move", "scalesim")
    assert (row["status"], row["severity"], row["rows_affected"]) == ("warn", "warning", 2)
    assert "total_cycles = 77111 for every array_rows/array_cols (32x32, 64x64)" in row["message"]
    moving = flat.copy()
    moving.loc[1, "total_cycles"] = 40000
    assert non_moving(moving, ScaleSim.swept_axes[0]) == []
    # surrogate rows are smooth models and are not tested
    assert status(run_checks({"scalesim": flat.assign(fidelity="surrogate")}), "metric_does_not_move",
                  "scalesim")["status"] == "pass"


def test_severity_overrides(scalesim_run):
    runs, _, table = scalesim_run
    bad = table.assign(total_cycles=-1)
    results = run_checks({"scalesim": bad}, runs, {"negative_value": "warning", "percent_out_of_range": "off"})
    assert status(results, "negative_value", "scalesim")["status"] == "warn"
    assert "percent_out_of_range" not in set(results["check"])
    raise_on_errors(results)  # warnings do not raise
    with pytest.raises(SanityCheckError, match="unknown check"):
        run_checks({"scalesim": table}, runs, {"no_such_check": "error"})


# ------------------------------------------------------------------------------------------ gem5 Garnet
@pytest.fixture
def garnet_run(golden, tmp_path):
    """The real gem5 Garnet sample: rendered args (its command's arguments), m5out/, and parsed rows."""
    src = golden / "garnet" / "mesh4x4_uniform_random_inj0.1"
    rundir = tmp_path / "runs" / "garnet" / RUN
    (rundir / "m5out").mkdir(parents=True)
    for name in ("stats.txt", "config.json"):
        with gzip.open(src / f"{name}.gz", "rb") as fin, open(rundir / "m5out" / name, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    args = [a for a in (src / "command.txt").read_text().split() if a.startswith("--") and a != "--network=garnet"]
    (rundir / "garnet_synth_traffic.args").write_text("\n".join(args) + "\n")
    table = parse_run(rundir / "m5out" / "stats.txt", rundir / "m5out" / "config.json")
    table.insert(0, "run_id", RUN)
    table["fidelity"] = "simulate"
    return tmp_path / "runs", rundir, table


def test_clean_real_garnet_run_passes(garnet_run):
    runs, _, table = garnet_run
    results = run_checks({"garnet": table}, runs)
    assert set(results["status"]) == {"pass"}, results[results["status"] != "pass"]
    assert status(results, "gem5_config_echo", "garnet")["rows_checked"] == len(table) == 4


def test_gem5_echo_catches_router_latency_and_cpus(garnet_run):
    runs, rundir, table = garnet_run
    config = json.loads((rundir / "m5out" / "config.json").read_text())
    for router in config["system"]["ruby"]["network"]["routers"]:
        router["latency"] = 3
    config["system"]["cpu"] = config["system"]["cpu"][:8]
    (rundir / "m5out" / "config.json").write_text(json.dumps(config))
    row = status(run_checks({"garnet": table}, runs), "gem5_config_echo", "garnet")
    assert row["status"] == "fail" and row["rows_affected"] == 4
    assert "router-latency=1 rendered, gem5 routers have [3]" in row["message"]
    assert "num-cpus=16 rendered, gem5 ran 8" in row["message"]


def test_received_above_injected_fails(garnet_run):
    runs, _, table = garnet_run
    bad = table.copy()
    total = bad["vnet"] == "all"
    bad.loc[total, "packets_received"] = bad.loc[total, "packets_injected"] + 5
    row = status(run_checks({"garnet": bad}, runs), "received_above_injected", "garnet")
    assert row["status"] == "fail" and row["sample_rows"] == f"{RUN}:vnet=all"


# ------------------------------------------------------------------------------------------ MQSim
@pytest.fixture
def mqsim_run(golden, tmp_path):
    rundir = tmp_path / "runs" / "mqsim" / RUN
    shutil.copytree(golden / "mqsim" / "eoe_small", rundir)
    table = read_flow_table(rundir)
    table.insert(0, "run_id", RUN)
    table["fidelity"] = "simulate"
    return tmp_path / "runs", rundir, table


def test_clean_real_mqsim_run_passes(mqsim_run):
    runs, _, table = mqsim_run
    results = run_checks({"mqsim": table}, runs)
    assert set(results["status"]) == {"pass"}, results[results["status"] != "pass"]


def test_mqsim_defaults_fallback_message_fails(mqsim_run, golden):
    runs, rundir, table = mqsim_run
    shutil.copy(golden / "mqsim" / "failures" / "default_workload_fallback" / "stdout.log", rundir / "stdout.log")
    row = status(run_checks({"mqsim": table}, runs), "mqsim_defaults_fallback", "mqsim")
    assert row["status"] == "fail" and row["rows_affected"] == len(table)
    assert "Using MQSim's default workload definitions" in row["message"]


def test_mqsim_throughput_above_offered_and_channel_ceiling_fails(mqsim_run):
    runs, _, table = mqsim_run
    bad = table.copy()
    bad.loc[0, "throughput_bytes_per_s"] = 1e12  # 1 TB/s from an 8-channel SSD
    row = status(run_checks({"mqsim": bad}, runs), "mqsim_throughput_implausible", "mqsim")
    assert row["status"] == "fail" and row["rows_affected"] == 1
    assert "throughput_bytes_per_s 1e+12 > offered_bandwidth_bytes_per_s" in row["message"]
    assert "flash channels" in row["message"] and "PCIe" in row["message"]


# ------------------------------------------------------------------------------------------ BookSim / Ramulator
def test_booksim_echo_matches_real_run_and_catches_a_changed_key(golden):
    base = golden / "rapidchiplet" / "booksim"
    stdout = (base / "raw_booksim_stdout_last_load.txt").read_text()
    rendered = json.loads((base / "generated_inputs" / "booksim_config_sample_exp_2x2.json").read_text())
    assert booksim_echo_mismatches(rendered, stdout) == []
    assert booksim_echo_mismatches(dict(rendered, num_vcs=8, routing_delay=2), stdout) == [
        "num_vcs=8 rendered, BookSim ran 4", "routing_delay=2 rendered, BookSim ran 0"]
    assert booksim_echo_mismatches(dict(rendered, vc_buf_size=16, warmup_periods=1, sim_type="latency"), stdout) == [
        "sim_type=latency rendered, not in BookSim's configuration"]


def test_ramulator_bandwidth_above_jedec_peak_fails():
    assert standard_peak_bytes_per_s("HBM2", "HBM2_2Gbps", 8) == 256e9
    assert standard_peak_bytes_per_s("DDR4", "DDR4_2400R", 2) == 2 * 8 * 2400e6
    rows = pd.DataFrame({"run_id": [RUN, RUN], "channel": [0, 1], "standard": "HBM2", "timing_preset": "HBM2_2Gbps",
                         "num_channels": 8, "peak_bandwidth_bytes_per_s": [512e9, 512e9],
                         "system_achieved_bandwidth_bytes_per_s": [200e9, 300e9], "fidelity": "simulate"})
    row = status(run_checks({"ramulator": rows}), "bandwidth_above_peak", "ramulator")
    # the table's own peak (512 GB/s) is wrong for HBM2-2Gbps x 8 channels: the JEDEC 256 GB/s applies
    assert row["status"] == "fail" and row["sample_rows"] == f"{RUN}:channel=1"
    assert "achieved 300 GB/s > peak 256 GB/s" in row["message"]


def test_hbm3_peak_is_the_one_ramulator_2_0_models():
    """Ramulator 2.0a's HBM3 has HBM2's 128-bit channels (32 GB/s at 2 Gbps): 8 channels peak at 256 GB/s,
    so the 133 GB/s a real 8-channel HBM3 run achieves is not above its peak (issue 15.2)."""
    assert standard_peak_bytes_per_s("HBM3", "HBM3_2Gbps", 8) == 256e9
    rows = pd.DataFrame({"run_id": RUN, "channel": range(8), "standard": "HBM3", "timing_preset": "HBM3_2Gbps",
                         "num_channels": 8, "peak_bandwidth_bytes_per_s": 256e9,
                         "system_achieved_bandwidth_bytes_per_s": 133e9, "fidelity": "simulate"})
    assert status(run_checks({"ramulator": rows}), "bandwidth_above_peak", "ramulator")["status"] == "pass"
    rows["system_achieved_bandwidth_bytes_per_s"] = 300e9
    assert status(run_checks({"ramulator": rows}), "bandwidth_above_peak", "ramulator")["status"] == "fail"


def test_real_hbm3_run_passes_bandwidth_above_peak(golden, tmp_path):
    """The real Ramulator 2.0 HBM3 run (tests/golden/ramulator/v2.0/hbm3_loadstore): 153.6 GB/s on 8 channels,
    which the old 64-bit HBM3 channel (128 GB/s) called impossible."""
    from eoesim.config import build_study
    from eoesim.simulators.base import get_simulator

    src = golden / "ramulator" / "v2.0" / "hbm3_loadstore"
    sim = get_simulator("ramulator", {"variant": "v2.0"})
    wl = {"standard": "HBM3", "channels": 8, "frontend": {"impl": "LoadStoreTrace", "offered_load": 0.6},
          "stream": {"num_requests": 20000}}
    point = sim.point_params(build_study({"workload": {"ramulator": wl}}).points[0].params)
    sim.render(point, tmp_path)
    assert (tmp_path / "config.yaml").read_text() == (src / "config.yaml").read_text()
    shutil.copy(src / "stdout.log", tmp_path / "stdout.log")
    sim.check(tmp_path, 0)
    table = sim.annotate(sim.parse(tmp_path), point)
    table.insert(0, "run_id", RUN)
    table["fidelity"] = "simulate"
    assert table["system_achieved_bandwidth_bytes_per_s"].iloc[0] == pytest.approx(153.6e9, rel=1e-3)
    assert status(run_checks({"ramulator": table}), "bandwidth_above_peak", "ramulator")["status"] == "pass"


def test_real_rapidchiplet_table_passes_non_finite_check_but_a_nan_package_latency_fails(golden):
    """A real RapidChiplet + BookSim table has chiplet_type, link_length and booksim_load records without the
    package's latency/throughput: only the package row must carry them (issue 15.1)."""
    table = parse_results(golden / "rapidchiplet" / "booksim" / "results_sample_exp_2x2.json",
                          list(ANALYTIC_METRICS) + [BOOKSIM_METRIC], precision=0.001, saturation_factor=5)
    table.insert(0, "run_id", RUN)
    table["fidelity"], table["source"] = "simulate", "rapidchiplet 66e63e5"
    assert set(table["record"]) == {"package", "chiplet_type", "link_length", "booksim_load"}
    assert status(run_checks({"rapidchiplet": table}), "non_finite_value", "rapidchiplet")["status"] == "pass"
    bad = table.copy()
    bad.loc[bad["record"] == "package", "latency_avg_cycles"] = float("nan")
    row = status(run_checks({"rapidchiplet": bad}), "non_finite_value", "rapidchiplet")
    assert row["status"] == "fail" and row["rows_affected"] == 1 and "latency_avg_cycles" in row["message"]


# ------------------------------------------------------------------------------------------ registry
def test_every_check_has_a_docstring_severity_and_a_schema_entry():
    checks = registry()
    schema = load_schema()["properties"]["sanity"]["properties"]["severity"]["properties"]
    assert sorted(schema) == sorted(checks)
    for chk in checks.values():
        assert chk.severity in ("error", "warning") and len(chk.why) > 40 and chk.hint
    assert yaml.safe_load("x: off")["x"] is False  # why the schema also accepts false for "off"
