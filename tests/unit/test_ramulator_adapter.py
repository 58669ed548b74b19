"""The Ramulator adapter: design-point resolution (presets, physics), rendering, argv, check, parse, availability.

Failure tests run tiny stand-in executables written into tmp_path that reproduce the documented failure
modes of Ramulator 2.0 / 2.1 (messages copied from tests/golden/ramulator/v2.0/failure_examples and the
contract); they never produce result rows.
"""
from __future__ import annotations

import json
import shutil
import stat
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from eoesim.config import validate
from eoesim.errors import ConfigError, SimulatorError, SimulatorUnavailableError
from eoesim.execute import execute_run
from eoesim.runners import STDERR_LOG, STDOUT_LOG, DockerRunner
from eoesim.simulators.base import get_simulator, registry
from eoesim.simulators.ramulator import POINT_FILE, TRACE_FILE
from eoesim.site import load_site_config


def study(**ramulator):
    return validate({"workload": {"ramulator": ramulator}})


def sim(variant="v2.0", **site):
    return get_simulator("ramulator", {"variant": variant, **site})


def rendered(tmp_path, variant="v2.0", site=None, **ramulator):
    s = sim(variant, **(site or {}))
    point = s.point_params(study(**ramulator))
    files = s.render(point, tmp_path)
    return s, point, files


# ------------------------------------------------------------------------------------ config & points

def test_registered_and_schema_defaults():
    assert "ramulator" in registry()
    cfg = study()
    assert cfg["workload"]["ramulator"]["standard"] == "HBM2"
    assert cfg["workload"]["ramulator"]["frontend"]["impl"] == "LoadStoreTrace"


def test_site_schema_accepts_variants_and_rejects_unknown(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text("ramulator: {variant: 'v2.1', python_path: /opt/ramulator2/python}\n")
    assert load_site_config(path)["ramulator"]["variant"] == "v2.1"
    path.write_text("ramulator: {variant: 'v3'}\n")
    with pytest.raises(ConfigError, match=r"ramulator.variant: 'v3' is not allowed"):
        load_site_config(path)


def test_default_point_v20():
    p = sim("v2.0").point_params(study())
    assert (p["org_preset"], p["timing_preset"], p["channels"]) == ("HBM2_4Gb", "HBM2_2Gbps", 8)
    # peak = 8 channels x 2 pseudo-channels / nBL 4 = 4 req/cycle; offered 0.5 -> 2 requests per memory cycle
    assert (p["frontend_clock_ratio"], p["memory_clock_ratio"]) == (2, 1)
    assert p["alignment_bytes"] == 16  # v2.0 HBM address-mapper granularity
    assert p["num_requests"] == 80000
    assert p["tick_ps"] == 1000 and p["request_bytes"] == 64
    assert p["peak_bandwidth_bytes_per_s"] == pytest.approx(256e9)
    assert p["offered_bandwidth_bytes_per_s"] == pytest.approx(128e9)
    assert p["seed"] is None  # sequential, read-only: nothing random, so the seed does not split runs


def test_default_point_v21():
    p = sim("v2.1").point_params(study(standard="HBM3"))
    assert (p["org_preset"], p["timing_preset"], p["controller_impl"]) == ("HBM3_16Gb_8hi", "HBM3_6400Mbps", "HBM34")
    assert p["tick_ps"] == 312.5  # HBM3 in 2.1 ticks at half CK
    assert p["request_bytes"] == 32 and p["alignment_bytes"] == 32
    assert p["peak_bandwidth_bytes_per_s"] == pytest.approx(8 * 51.2e9)


def test_offered_load_physics_matches_the_calibration_runs(golden):
    """The clock_ratio pairs, offered and peak bandwidth of the real v2.0 calibration runs are reproduced."""
    table = pd.read_csv(golden / "ramulator" / "calibration_clock_ratios.csv")
    s = sim("v2.0")
    for row in table.itertuples():
        p = s.point_params(study(standard=row.standard, channels=int(row.channels),
                                 frontend={"offered_load": float(row.offered_load_frac_of_peak)}))
        assert (p["org_preset"], p["timing_preset"]) == (row.org_preset, row.timing_preset)
        assert (p["frontend_clock_ratio"], p["memory_clock_ratio"]) == (row.frontend_clock_ratio,
                                                                        row.memory_clock_ratio), row
        assert p["offered_req_per_mem_cycle"] == pytest.approx(row.offered_req_per_mem_cycle, abs=1e-6)
        assert p["offered_bandwidth_bytes_per_s"] / 1e9 == pytest.approx(row.offered_bandwidth_GBps, abs=2e-4)
        assert p["peak_bandwidth_bytes_per_s"] / 1e9 == pytest.approx(row.peak_bandwidth_GBps, abs=2e-4)


def test_simpleo3_clock_ratio_from_core_frequency():
    p = sim("v2.0").point_params(study(standard="DDR4", channels=1, frontend={"impl": "SimpleO3"}))
    assert (p["frontend_clock_ratio"], p["memory_clock_ratio"]) == (8, 3)  # 3.2 GHz x 0.833 ns (upstream example)
    assert p["alignment_bytes"] == 64 and p["offered_bandwidth_bytes_per_s"] is None


def test_explicit_clock_ratio_overrides_offered_load():
    p = sim().point_params(study(frontend={"clock_ratio": [3, 7]}))
    assert (p["frontend_clock_ratio"], p["memory_clock_ratio"]) == (3, 7)


@pytest.mark.parametrize("variant,key,value,allowed", [
    ("v2.0", "timing_preset", "HBM2_2000Mbps", r"\['HBM2_2Gbps'\]"),
    ("v2.1", "timing_preset", "HBM2_2Gbps", r"\['HBM2_1600Mbps', 'HBM2_2000Mbps', 'HBM2_2400Mbps'\]"),
    ("v2.0", "org_preset", "HBM2_16Gb", r"\['HBM2_2Gb', 'HBM2_4Gb', 'HBM2_8Gb'\]"),
    ("v2.1", "org_preset", "HBM3_8Gb", r"\['HBM3_16Gb_8hi', .*'HBM3_8Gb_8hi'\]"),
])
def test_unknown_preset_lists_the_valid_ones(variant, key, value, allowed):
    standard = value[:4]
    with pytest.raises(ConfigError, match=rf"workload.ramulator.{key}: '{value}' is not a {standard} .* preset of "
                                          rf"Ramulator {variant}; allowed: {allowed}"):
        sim(variant).point_params(study(standard=standard, **{key: value}))


@pytest.mark.parametrize("variant,wl,message", [
    ("v2.0", {"channels": 6}, r"channels: 6 is not allowed; allowed: a power of two"),
    ("v2.0", {"standard": "HBM2", "ranks": 2}, r"ranks: 2 is not allowed for HBM2 \(no rank level\); allowed: 1"),
    ("v2.0", {"controller": {"scheduler": "FRFCFS-RowHit"}},
     r"controller.scheduler: 'FRFCFS-RowHit' is not available in Ramulator v2.0; allowed: \['FRFCFS'\]"),
    ("v2.0", {"controller": {"refresh": "NoRefresh"}}, r"controller.refresh: 'NoRefresh' is not available"),
    ("v2.0", {"stream": {"footprint_bytes": 1 << 40}}, r"exceeds the 2147483648 addressable bytes"),
    ("v2.0", {"stream": {"bubbles": 5}}, r"bubbles: 5 has no effect with frontend LoadStoreTrace"),
    ("v2.0", {"frontend": {"impl": "SimpleO3"}, "stream": {"read_fraction": 0.3}}, r"read_fraction: 0.3"),
    ("v2.0", {"stream": {"pattern": "strided", "stride_bytes": 24}}, r"stride_bytes: 24 .*alignment_bytes=16"),
])
def test_cross_field_errors(variant, wl, message):
    with pytest.raises(ConfigError, match=message):
        sim(variant).point_params(study(**wl))


def test_unknown_site_variant_is_a_config_error():
    with pytest.raises(ConfigError, match=r"ramulator.variant: 'v9' is not a known Ramulator variant"):
        get_simulator("ramulator", {"variant": "v9"}).point_params(study())


# ------------------------------------------------------------------------------------------- render

def test_render_v20_matches_the_sample_config(tmp_path, golden):
    _, point, files = rendered(tmp_path, channels=8, frontend={"clock_ratio": [1, 1]}, stream={"num_requests": 100})
    assert [f.name for f in files] == ["config.yaml", TRACE_FILE, POINT_FILE]
    ours = yaml.safe_load((tmp_path / "config.yaml").read_text())
    sample = yaml.safe_load((golden / "ramulator" / "v2.0" / "hbm2_loadstore" / "hbm2_config.yaml").read_text())
    assert ours["Frontend"]["path"] == TRACE_FILE
    ours["Frontend"]["path"] = sample["Frontend"]["path"]
    assert ours == sample
    lines = (tmp_path / TRACE_FILE).read_text().splitlines()
    assert lines[:3] == ["LD 0x0", "LD 0x10", "LD 0x20"] and len(lines) == 100


def test_render_v20_ddr5_has_rfm_group_and_ranks(tmp_path):
    rendered(tmp_path, standard="DDR5", channels=2, ranks=2,
             controller={"row_policy": "closed", "row_policy_cap": 8, "addr_mapper": "MOP4CLXOR"},
             stream={"num_requests": 10})
    cfg = yaml.safe_load((tmp_path / "config.yaml").read_text())
    dram = cfg["MemorySystem"]["DRAM"]
    assert dram["RFM"] == {"BRC": 2}
    assert dram["org"] == {"preset": "DDR5_16Gb_x8", "channel": 2, "rank": 2}
    assert cfg["MemorySystem"]["Controller"]["RowPolicy"] == {"impl": "ClosedRowPolicy", "cap": 8}
    assert cfg["MemorySystem"]["AddrMapper"]["impl"] == "MOP4CLXOR"
    assert cfg["MemorySystem"]["clock_ratio"] == 8 and cfg["Frontend"]["clock_ratio"] == 1  # 0.5 x 2 ch / nBL 8


def test_render_v20_simpleo3(tmp_path):
    _, point, _ = rendered(tmp_path, standard="DDR4", channels=1,
                           frontend={"impl": "SimpleO3", "llc_capacity_kib": 1024},
                           stream={"num_requests": 50, "bubbles": 9, "read_fraction": 0.75})
    fe = yaml.safe_load((tmp_path / "config.yaml").read_text())["Frontend"]
    assert fe["impl"] == "SimpleO3" and fe["traces"] == [TRACE_FILE]
    assert fe["num_expected_insts"] == 50 * 10  # one pass over the trace
    assert fe["llc_capacity_per_core"] == "1024KB"
    assert fe["Translation"] == {"impl": "NoTranslation", "max_addr": point["addressable_bytes"]}
    first = (tmp_path / TRACE_FILE).read_text().splitlines()[0]
    assert first.startswith("9 0")
    sidecar = json.loads((tmp_path / POINT_FILE).read_text())
    assert sidecar["trace"]["writes"] == round(50 * 0.25 / 0.75)


def test_render_v21_script(tmp_path):
    rendered(tmp_path, "v2.1", standard="DDR4", channels=4, ranks=2,
             controller={"scheduler": "FRFCFS-RowHit", "refresh": "NoRefresh"}, stream={"num_requests": 10})
    text = (tmp_path / "ramulator_config.py").read_text()
    compile(text, "ramulator_config.py", "exec")
    assert 'ramulator.dram.DDR4(org_preset="DDR4_8Gb_x8", timing_preset="DDR4_2400R", rank=2)' in text
    assert "ramulator.controller.GenericDDR(" in text
    assert "ramulator.scheduler.FRFCFSRowHit()" in text and "ramulator.refresh_manager.NoRefresh()" in text
    assert "controllers=[make_controller() for _ in range(4)]" in text
    assert 'LoadStoreTrace(clock_ratio=1, path="ramulator.trace")' in text
    assert '"stats.json"' in text


def test_render_refuses_a_point_of_another_variant(tmp_path):
    point = sim("v2.0").point_params(study(stream={"num_requests": 5}))
    with pytest.raises(Exception, match="re-plan"):
        sim("v2.1").render(point, tmp_path)


# ------------------------------------------------------------------------------------- argv & runner

def test_argv_and_runner(tmp_path):
    binary = tmp_path / "bin" / "ramulator2"
    assert sim("v2.0", binary=str(binary)).argv(tmp_path) == [str(binary), "-f", "config.yaml"]
    s21 = sim("v2.1", python="/usr/bin/python3", python_path=str(tmp_path / "py"))
    assert s21.argv(tmp_path) == ["/usr/bin/python3", "-m", "ramulator", "run", "ramulator_config.py"]
    assert s21.runner().env["PYTHONPATH"].startswith(str(tmp_path / "py"))
    docker = sim("v2.1", mode="docker", image="ramulator:2.1", python_path="/opt/ramulator2/python")
    runner = docker.runner()
    assert isinstance(runner, DockerRunner) and runner.env == {"PYTHONPATH": "/opt/ramulator2/python"}
    assert docker.argv(tmp_path)[0] == "python3"
    with pytest.raises(SimulatorUnavailableError, match="set ramulator.image"):
        sim("v2.0", mode="docker").runner()


def test_resources_scale_with_requests():
    s = sim()
    small = s.resources(s.point_params(study(stream={"num_requests": 1000})))
    big = s.resources(s.point_params(study(stream={"num_requests": 5_000_000})))
    assert small.runtime_min < big.runtime_min and small.cores == 1


# ---------------------------------------------------------------------------------- check & parse

#: the golden runs' trace: 20,000 LoadStoreTrace lines of which 6,009 are stores
GOLDEN_STREAM = {"num_requests": 20000, "read_fraction": 0.69955}


def golden_run(tmp_path, golden, variant="v2.0", stream=GOLDEN_STREAM):
    """A run directory holding our rendered inputs next to the real sample outputs of the same setup."""
    s, point, _ = rendered(tmp_path, variant, channels=8, frontend={"clock_ratio": [1, 1]}, stream=stream)
    sample = golden / "ramulator" / variant / "hbm2_loadstore"
    if variant == "v2.0":
        shutil.copy(sample / "stdout.txt", tmp_path / STDOUT_LOG)
    else:
        shutil.copy(sample / "stats.json", tmp_path / "stats.json")
        shutil.copy(sample / "stdout.txt", tmp_path / STDOUT_LOG)
    shutil.copy(sample / "stderr.txt", tmp_path / STDERR_LOG)
    return s, point


@pytest.mark.parametrize("variant", ["v2.0", "v2.1"])
def test_check_parse_annotate_on_real_outputs(tmp_path, golden, variant):
    s, point = golden_run(tmp_path, golden, variant)
    s.check(tmp_path, 0)
    rows = s.annotate(s.parse(tmp_path), point)
    assert list(rows["channel"]) == list(range(8))
    assert (rows["num_channels"] == 8).all() and (rows["standard"] == "HBM2").all()
    assert (rows["variant"] == variant).all()
    expected_util = rows["system_achieved_bandwidth_bytes_per_s"] / point["peak_bandwidth_bytes_per_s"]
    assert rows["system_bandwidth_utilization"].tolist() == pytest.approx(expected_util.tolist())
    if variant == "v2.0":
        assert rows.loc[0, "read_requests"] == 9302
    else:
        assert rows.loc[0, "reads_served"] == 3468


def test_check_rejects_incomplete_stats(tmp_path, golden):
    s, _ = golden_run(tmp_path, golden)
    text = (tmp_path / STDOUT_LOG).read_text()
    (tmp_path / STDOUT_LOG).write_text(text[: text.index("id: Channel 6")])
    with pytest.raises(SimulatorError, match="exited 0 but its statistics are incomplete"):
        s.check(tmp_path, 0)


def test_check_rejects_an_error_line_with_exit_code_0(tmp_path, golden):
    """Issue 16.2: Ramulator 2.0 exiting 0 after its own [error] line (the real line of a missing config,
    written into the real sample's stdout) must not be published."""
    s, _ = golden_run(tmp_path, golden)
    error = (golden / "ramulator" / "v2.0" / "failure_examples" / "missing_config_out.txt").read_text()
    (tmp_path / STDOUT_LOG).write_text(error + (tmp_path / STDOUT_LOG).read_text())
    with pytest.raises(SimulatorError, match="exited 0 but printed an error: Config file /nonexist.yaml does not"):
        s.check(tmp_path, 0)


@pytest.mark.parametrize("variant", ["v2.0", "v2.1"])
def test_check_rejects_request_totals_that_differ_from_the_trace(tmp_path, golden, variant):
    """Issue 16.2: an 80,000-line read-only trace 'run' with the sample's 13,991 reads + 6,009 writes."""
    s, _ = golden_run(tmp_path, golden, variant, stream={"num_requests": 80000, "read_fraction": 1.0})
    with pytest.raises(SimulatorError, match="accepted 13991 reads and 6009 writes but ramulator.trace has 80000 LD "
                                             "and 0 ST lines: it did not run the rendered trace"):
        s.check(tmp_path, 0)


def test_check_v21_missing_stats_file(tmp_path, golden):
    s, _ = golden_run(tmp_path, golden, "v2.1")
    (tmp_path / "stats.json").unlink()
    with pytest.raises(SimulatorError, match="stats file is missing"):
        s.check(tmp_path, 0)


@pytest.mark.parametrize("sample,rc,message", [
    ("missing_trace_out.txt", 134,
     r"exited with code 134 \(SIGABRT.*\): Ramulator::ConfigurationError: Trace /nonexist.trace does not exist!"),
    ("bad_impl_out.txt", 134, r"Ramulator::InitializationError: Trying to create an implementation \"HBM9\""),
    ("missing_config_out.txt", 255, r"exited with code 255: Config file /nonexist.yaml does not exist!"),
])
def test_check_v20_failures_carry_the_simulator_message(tmp_path, golden, sample, rc, message):
    s, _ = golden_run(tmp_path, golden)
    (tmp_path / STDOUT_LOG).write_text("")
    (tmp_path / STDERR_LOG).write_text((golden / "ramulator" / "v2.0" / "failure_examples" / sample).read_text())
    with pytest.raises(SimulatorError, match=message):
        s.check(tmp_path, rc)


def test_check_v21_python_exception(tmp_path, golden):
    s, _ = golden_run(tmp_path, golden, "v2.1")
    (tmp_path / STDERR_LOG).write_text(
        "\x1b[32m[info]\x1b[0m loading\nTraceback (most recent call last):\n  File \"ramulator_config.py\", line 9\n"
        "RuntimeError: Trace /nonexist.trace does not exist!\n")
    with pytest.raises(SimulatorError, match=r"exited with code 1: RuntimeError: Trace /nonexist.trace does not"):
        s.check(tmp_path, 1)


def stand_in(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "standin" / "ramulator2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\nimport os, sys\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.mark.parametrize("body,message", [
    # uncaught C++ exception -> std::terminate -> SIGABRT (the shell reports 134, Popen -6)
    ("sys.stdout.write('[Ramulator::LoadStoreTrace] [info] Loading trace file /nonexist.trace ...\\n')\n"
     "sys.stdout.flush()\n"
     "sys.stderr.write(\"terminate called after throwing an instance of 'Ramulator::ConfigurationError'\\n"
     "  what():  Trace /nonexist.trace does not exist!\\n\")\nsys.stderr.flush()\nos.abort()",
     r"exited with code -6 \(SIGABRT.*Ramulator::ConfigurationError: Trace /nonexist.trace does not exist!"),
    ("sys.stdout.write('[2026-11-22 17:44:39.824] [error] Config file /nonexist.yaml does not exist!\\n')\n"
     "sys.exit(255)",
     r"exited with code 255: Config file /nonexist.yaml does not exist!"),
])
def test_failed_run_end_to_end_keeps_logs_and_gives_no_rows(tmp_path, body, message):
    """execute_run with a stand-in binary that reproduces a documented v2.0 failure."""
    binary = stand_in(tmp_path, body)
    s = sim("v2.0", binary=str(binary))
    point = s.point_params(study(stream={"num_requests": 10}))
    final, logs = tmp_path / "runs" / "r1", tmp_path / "logs" / "r1"
    with pytest.raises(SimulatorError, match=message):
        execute_run(s, point, "r1", final, logs, s.runner(), 30, {"version": "stand-in"})
    assert not final.exists()
    assert (logs / "config.yaml").is_file() and (logs / TRACE_FILE).is_file() and (logs / STDERR_LOG).is_file()
    assert not (logs / "result.csv").exists()


# -------------------------------------------------------------------------------------- availability

def test_availability_v20_missing_binary_names_the_site_key(tmp_path):
    a = sim("v2.0", binary=str(tmp_path / "nope" / "ramulator2")).availability()
    assert not a.available and "ramulator.binary" in a.detail and "v2.0" in a.detail


def test_availability_v20_reports_the_binary_version(tmp_path):
    binary = stand_in(tmp_path, "print('2.0')")  # what argparse's --version prints for tag v2.0a
    a = sim("v2.0", binary=str(binary)).availability()
    assert a.available and a.version == "v2.0 (2.0; unknown commit)" and a.mode == "native"


def test_availability_v21_without_package_names_the_site_key(tmp_path):
    a = sim("v2.1", python_path=str(tmp_path)).availability()
    assert not a.available and "ramulator.python_path" in a.detail


def test_availability_docker_without_image():
    a = sim("v2.0", mode="docker").availability()
    assert not a.available and "ramulator.image" in a.detail
