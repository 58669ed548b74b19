"""Rules plot_cache_sensitivity and plot_expert_load_cdf on a small three-expert study with two SSD
configurations (real SCALE-Sim runs, surrogates for the rest), and their DAG-build-time checks.

One pick per request: the memory budget (half of the three experts = one, plus half an expert of KV room,
more than the 24-token requests' KV) cannot hold the two experts a composed pair needs at once."""
import copy

import numpy as np
import pandas as pd
import pytest
from snakemake_runner import job_counts, snakemake, write_study

from eoesim.config import build_study
from eoesim.eoe.expert import param_bytes, resolve_experts
from eoesim.eoe.hardware import GIB, build_hardware
from eoesim.figures import expert_load_cdf
from eoesim.simulators.base import get_simulator
from eoesim.stitch.e2e import stitch_point
from eoesim.stitch.study_model import StudyComponentModel

pytestmark = pytest.mark.slow
SHAPE = {"layers": 1, "d_model": 32, "heads": 2, "kv_heads": 2, "d_ff": 64, "vocab": 100}
STUDY = {
    "study": "cachefig",
    "eoe": {"experts": [{"name": n, **SHAPE} for n in ("a", "b", "c")], "router": {"kind": "topk", "k": 1},
            "requests": {"rate_per_s": 50, "count": 200, "prompt_tokens": {"dist": "fixed", "value": 16},
                         "output_tokens": {"dist": "fixed", "value": 8}}},
    "workload": {"scalesim": {"phase": "prefill", "seq_len": 16, "batch": 1}},
    "hardware": {"chiplet": {"array": [8, 8], "dataflow": "os"}},
    "sweep": {"grid": {"hardware.ssd.read_bandwidth_gb_per_s": [1.0, 4.0]}},
    "figures": {"cache_sensitivity": {"zipf_skews": [0.0, 1.0, 2.0], "repeats": 1}},
}
FIGURES = ("cache_sensitivity", "expert_load_cdf")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cachefig")
    write_study(workdir, STUDY)
    dry = snakemake(workdir, "-n")
    assert dry.returncode == 0, dry.stderr[-3000:]
    counts = job_counts(dry.stdout)
    assert counts["plot_cache_sensitivity"] == 1 and counts["plot_expert_load_cdf"] == 1  # part of rule all
    targets = ["results/cachefig/points.csv"] + [f"results/cachefig/figures/{name}.pdf" for name in FIGURES]
    proc = snakemake(workdir, *targets)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir


def point_model(workdir, pid, params):
    """The point's component model from the run's tables, built here without eoesim.stitch.variants."""
    base = workdir / "results" / "cachefig"
    points = pd.read_csv(base / "points.csv").set_index("point_id")
    tables, sim_points = {}, {}
    for column in points.columns:
        if column.endswith("_run_id") and isinstance(points.at[pid, column], str):
            sim = column[: -len("_run_id")]
            table = pd.read_csv(base / "tables" / f"{sim}.csv")
            tables[sim] = table[table["run_id"] == points.at[pid, column]]
    for sim in tables:  # the simulator's slice of the point, as the plan sees it
        sim_points[sim] = get_simulator(sim, {}).point_params(params)
    return StudyComponentModel(build_hardware(params["hardware"]), tables, sim_points)


def test_every_output_is_written_and_not_empty(finished):
    figures = finished / "results" / "cachefig" / "figures"
    for name in FIGURES:
        assert (figures / f"{name}.pdf").stat().st_size > 5000
        assert (figures / f"{name}.png").stat().st_size > 20000
        assert len(pd.read_csv(figures / f"{name}.csv")) > 0
        log = (finished / "results" / "cachefig" / "logs" / f"plot_{name}.log").read_text()
        assert "fontTools" not in log


def test_a_cache_sensitivity_row_equals_the_stitch_with_the_same_overrides(finished):
    frame = pd.read_csv(finished / "results" / "cachefig" / "figures" / "cache_sensitivity.csv")
    study = build_study(STUDY, "test")
    point = study.points[0]
    assert set(frame["point"]) == {point.id}
    assert len(frame) == 3 * 6  # static, LRU x2, LFU x2 and the point as configured, at three skews
    row = frame[(frame["series"] == "LRU") & (frame["zipf_skew"] == 2.0)].iloc[0]
    params = copy.deepcopy(dict(point.params))
    size = param_bytes(resolve_experts(params["eoe"]["experts"])[0])
    params["eoe"]["requests"]["zipf_skew"] = 2.0
    params["mapping"].update(cache_policy="lru", prefetch=0)
    params["hardware"]["memory"]["hbm"]["capacity_gib"] = 1.5 * size / GIB  # null budget: half of 3 experts + KV room
    params["hardware"]["memory"]["ddr"]["capacity_gib"] = 0.0
    summary = stitch_point(params, point_model(finished, point.id, params)).summary
    assert summary["unfinished_requests"] == 0
    assert row["hbm_experts"] == 1 and row["hbm_capacity_gib"] == pytest.approx(1.5 * size / GIB)
    assert row["hit_rate"] == pytest.approx(summary["cache"]["hit_rate"], abs=0)
    assert row["ssd_loads"] == summary["cache"]["ssd_loads"] > 0
    assert row["e2e_latency_mean_s"] == pytest.approx(summary["e2e_latency_s"]["mean"], rel=1e-12)


def test_one_cdf_per_ssd_configuration_with_the_loads_of_the_stitch(finished):
    frame = pd.read_csv(finished / "results" / "cachefig" / "figures" / "expert_load_cdf.csv")
    study = build_study(STUDY, "test")
    assert frame.groupby("ssd_config")["ssd_read_bandwidth_gb_per_s"].first().sort_values().tolist() == [1.0, 4.0]
    for point in study.points:  # the first (only) point of each SSD configuration
        rows = frame[frame["point"] == point.id]
        params = copy.deepcopy(dict(point.params))
        size = param_bytes(resolve_experts(params["eoe"]["experts"])[0])
        params["hardware"]["memory"]["hbm"]["capacity_gib"] = 1.5 * size / GIB
        params["hardware"]["memory"]["ddr"]["capacity_gib"] = 0.0
        loads = expert_load_cdf.load_table(stitch_point(params, point_model(finished, point.id, params)))
        assert len(rows) == len(loads) > 0
        expected = np.sort((loads["hbm_ready_s"] - loads["issue_s"]).to_numpy())
        np.testing.assert_allclose(rows["load_latency_s"].to_numpy(), expected, rtol=1e-12)
        np.testing.assert_allclose(rows["cdf"], np.arange(1, len(rows) + 1) / len(rows))


@pytest.mark.parametrize("section, value, fragments", [
    ("cache_sensitivity", {"point": 7}, ["figures.cache_sensitivity.point: 7 is not allowed",
                                         "allowed: a point index 0..1"]),
    ("expert_load", {"hbm_experts": 3}, ["figures.expert_load.hbm_experts: 3 is not allowed",
                                         "allowed: an integer below the 3 experts"]),
    ("cache_sensitivity", {"policies": ["mru"]}, ["figures.cache_sensitivity.policies[0]", "'mru'",
                                                  "one of ['static', 'lru', 'lfu']"]),
])
def test_bad_figure_settings_stop_the_dag_build(tmp_path, section, value, fragments):
    study = copy.deepcopy(STUDY)
    study["figures"].setdefault(section, {}).update(value)
    write_study(tmp_path, study)
    proc = snakemake(tmp_path, "-n")
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert all(f in output for f in fragments), output[-2000:]
