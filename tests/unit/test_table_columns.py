"""One set of columns per simulator (issue 15.6): a calibrated surrogate's rows name every quantity the way the
simulated table does (real tables built here from real outputs in tests/golden/), so a table that mixes
simulated and surrogate rows - or a consumer written against one of them - never sees two names for one thing."""
import gzip
import re
import shutil

import pytest
import yaml

from eoesim.config import build_study
from eoesim.simulators.base import get_simulator
from eoesim.surrogates import predict_runs

#: surrogate columns with no simulated counterpart: provenance, validity, and the pack's own derived quantities
#: (``fixed_settings``: whether the settings the calibration runs held fixed are the point's)
SURROGATE_ONLY = {"fidelity", "source", "in_domain", "run_id", "load_fraction_of_saturation", "fixed_settings"}
#: the pack's own query inputs and derived quantities
PACK_ONLY = {
    "mqsim": {"offered_load_MBps", "saturation_throughput_MBps", "read_fraction", "pattern", "footprint_KiB",
              "requests_per_transfer", "transfer_arrivals_us", "transfers"},
    "garnet": {"saturation_injection_rate", "chiplet_rows", "chiplet_cols", "interposer_link_latency",
               "interposer_link_width_bits"},
    "ramulator": {"offered_load_frac_of_peak", "load_fraction_of_ceiling", "bandwidth_ceiling_utilization"},
}
ERROR_COLUMN = re.compile(r"_rel_err_pct$")


def surrogate_columns(name, point):
    return set(predict_runs(get_simulator(name), {"r": point}).columns)


def real_mqsim(golden):
    src = golden / "mqsim" / "eoe_small"
    sim = get_simulator("mqsim")
    study = build_study({"seed": 7, "workload": {"mqsim": yaml.safe_load((src / "section.yaml").read_text())}})
    return set(sim.annotate(sim.parse(src), sim.point_params(study.points[0].params)).columns)


def real_garnet(golden, tmp_path):
    (tmp_path / "m5out").mkdir()
    for name in ("stats.txt", "config.json"):
        with gzip.open(golden / "garnet" / "mesh4x4_uniform_random_inj0.1" / f"{name}.gz", "rb") as fin, \
                open(tmp_path / "m5out" / name, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    sim = get_simulator("garnet")
    return set(sim.annotate(sim.parse(tmp_path), sim.point_params(build_study({}).points[0].params)).columns)


def real_ramulator(golden, tmp_path):
    sim = get_simulator("ramulator", {"variant": "v2.0"})
    study = build_study({"workload": {"ramulator": {"standard": "HBM2", "channels": 8,
                                                    "frontend": {"clock_ratio": [1, 1]},
                                                    "stream": {"num_requests": 20000, "read_fraction": 0.69955}}}})
    point = sim.point_params(study.points[0].params)
    sim.render(point, tmp_path)
    shutil.copy(golden / "ramulator" / "v2.0" / "hbm2_loadstore" / "stdout.txt", tmp_path / "stdout.log")
    return set(sim.annotate(sim.parse(tmp_path), point).columns)


@pytest.mark.parametrize("name", ["mqsim", "garnet", "ramulator"])
def test_surrogate_rows_use_the_simulated_tables_names(name, golden, tmp_path):
    real = {"mqsim": lambda: real_mqsim(golden), "garnet": lambda: real_garnet(golden, tmp_path),
            "ramulator": lambda: real_ramulator(golden, tmp_path)}[name]()
    study = {"mqsim": {"workload": {"mqsim": {"ssd": {"flash": {"technology": "TLC"}}}}}}.get(name, {})
    surrogate = surrogate_columns(name, get_simulator(name).point_params(build_study(study).points[0].params))
    unnamed = {c for c in surrogate - real if not ERROR_COLUMN.search(c)} - SURROGATE_ONLY - PACK_ONLY[name]
    assert unnamed == set(), f"{name}: surrogate columns the simulated table names differently: {sorted(unnamed)}"


def test_the_names_the_issue_found_are_one_per_simulator(golden, tmp_path):
    mq = real_mqsim(golden) | surrogate_columns(
        "mqsim", get_simulator("mqsim").point_params(build_study(
            {"workload": {"mqsim": {"ssd": {"flash": {"technology": "TLC"}}}}}).points[0].params))
    assert {"request_size_kib", "throughput_bytes_per_s"} <= mq
    assert not {"request_size_KiB", "achieved_throughput_MBps"} & mq
    garnet = real_garnet(golden, tmp_path) | surrogate_columns(
        "garnet", get_simulator("garnet").point_params(build_study({}).points[0].params))
    assert {"synthetic", "mesh_cols"} <= garnet and "pattern" not in garnet


def test_mqsim_surrogate_throughput_is_the_packs_achieved_throughput_in_bytes_per_s():
    from eoesim.analysis.packs import load_pack

    sim = get_simulator("mqsim")
    point = sim.point_params(build_study({"workload": {"mqsim": {"ssd": {"flash": {"technology": "TLC"}}}}})
                             .points[0].params)
    row = predict_runs(sim, {"r": point}).iloc[0]
    direct = load_pack("mqsim").predict(sim.surrogate_query(point)).iloc[0]
    assert row["throughput_bytes_per_s"] == pytest.approx(direct["achieved_throughput_MBps"] * 1e6)
    assert row["request_size_kib"] == point["flows"][0]["io"]["request_size_kib"]
