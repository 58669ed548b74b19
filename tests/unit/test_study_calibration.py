"""Study table -> calibration-dataset frame (eoesim.analysis.study_calibration), on REAL simulator outputs.

The golden outputs (tests/golden/<sim>/) are parsed with the adapter's parse() + annotate(), given the
columns a study table has (run_id, fidelity, source), mapped, and compared with the calibration dataset's
row of the same run where the dataset has one (Garnet 4x4 uniform_random 0.1; RapidChiplet 2x2 mesh
random_uniform, analytic and BookSim), else checked column by column against the parsed values.
"""
from __future__ import annotations

import gzip
import shutil

import pandas as pd
import pytest
import yaml

from eoesim.analysis import study_calibration as sc
from eoesim.analysis import surrogate_garnet, surrogate_rapidchiplet, surrogate_scalesim
from eoesim.analysis.calibrate import CALIBRATION_DIR, fit_pack
from eoesim.analysis.surrogate_scalesim import SCALESIM_COLUMNS
from eoesim.config import build_study, validate
from eoesim.errors import ConfigError, SimulatorUnavailableError
from eoesim.schema import load_schema, validate_against
from eoesim.simulators.base import get_simulator, registry
from eoesim.simulators.garnet import resolve_point
from eoesim.simulators.rapidchiplet_results import ANALYTIC_METRICS, BOOKSIM_METRIC, parse_results

RUN = "0123456789ab"


def as_table(rows: pd.DataFrame, run_id: str = RUN, fidelity: str = "simulate") -> pd.DataFrame:
    out = rows.copy()
    out.insert(0, "run_id", run_id)
    out["fidelity"] = fidelity
    if "source" not in out:
        out["source"] = "test"
    return out


def calibration(path: str) -> pd.DataFrame:
    return pd.read_csv(CALIBRATION_DIR / path)


# ---- only real runs ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("sim", sorted(registry()))
def test_a_surrogate_table_is_refused_naming_the_simulator_and_how_to_provide_it(sim):
    table = pd.DataFrame({"run_id": [RUN, RUN], "fidelity": ["simulate", "surrogate"]})
    with pytest.raises(SimulatorUnavailableError) as exc:
        sc.dataset_frame(sc.packs_of(sim)[0], table, {RUN: {}})
    text = str(exc.value)
    assert f"calibrate {sim}" in text and "1 of 2 rows have fidelity ['surrogate']" in text
    assert registry()[sim].how_to_provide in text and f"fidelity.{sim}: simulate" in text


def test_every_pack_has_a_mapping_and_unknown_packs_are_errors():
    from eoesim.analysis.packs import simulator_packs

    assert {p for packs in simulator_packs().values() for p in packs} == set(sc.MAPPINGS)
    with pytest.raises(ConfigError, match="'nope' is not a known pack; allowed"):
        sc.dataset_frame("nope", pd.DataFrame(), {})


# ---- scalesim ---------------------------------------------------------------------------------------------

def test_scalesim_rows_map_to_the_dataset_columns_and_refit_exactly():
    """The real calibration runs, as table rows (a second copy = a GEMM repeated), map back to themselves."""
    raw = calibration("scalesim/calibration.csv")
    table = as_table(pd.concat([raw, raw.head(10)], ignore_index=True))
    frame = sc.dataset_frame("scalesim", table, {RUN: {}})
    assert len(frame) == len(raw)  # repeated GEMMs on the same array are one observation
    assert (frame["gemm"] == raw["m"].astype(str) + "x" + raw["n"].astype(str) + "x" + raw["k"].astype(str)).all()
    for col in SCALESIM_COLUMNS:
        if col != "gemm":
            assert frame[col].tolist() == raw[col].tolist(), col
    model = fit_pack("scalesim", frame, validate_model=False)
    assert model.params["a_rows[ws]"] == pytest.approx(2.0, abs=1e-6)
    assert model.params["c_fold[os]"] == pytest.approx(-2.0, abs=1e-5)
    assert surrogate_scalesim.training_frame(frame)["array_shape"].nunique() == 5


# ---- garnet -------------------------------------------------------------------------------------------------

GARNET_SCHEMA = load_schema()["properties"]["workload"]["properties"]["garnet"]


@pytest.fixture
def garnet_table(golden, tmp_path):
    """The golden gem5 run (4x4 Mesh_XY, uniform_random, 0.1) parsed and annotated like a study table row."""
    src = golden / "garnet" / "mesh4x4_uniform_random_inj0.1"
    (tmp_path / "m5out").mkdir()
    for name in ("stats.txt", "config.json"):
        with gzip.open(src / f"{name}.gz", "rb") as fin, open(tmp_path / "m5out" / name, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    sim = get_simulator("garnet", {})
    point = resolve_point(validate_against({}, GARNET_SCHEMA, "test", "garnet"))
    return as_table(sim.annotate(sim.parse(tmp_path), point)), point


def test_garnet_golden_run_reproduces_its_calibration_row(garnet_table):
    table, point = garnet_table
    frame = sc.dataset_frame("garnet", table, {RUN: point})
    assert len(frame) == 1  # the vnet == all row
    raw = calibration("garnet/calibration.csv")
    same = raw[(raw["topology"] == "Mesh_XY") & (raw["rows"] == 4) & (raw["pattern"] == "uniform_random")
               & (raw["injection_rate"] == 0.1) & (raw["vcs_per_vnet"] == 4) & (raw["link_latency"] == 1)]
    assert len(same) == 1
    ours, theirs = surrogate_garnet.training_frame(frame), surrogate_garnet.training_frame(same.reset_index(drop=True))
    for col in theirs.columns:
        if pd.isna(theirs[col].iloc[0]):
            assert pd.isna(ours[col].iloc[0]), col
        elif pd.api.types.is_float_dtype(theirs[col]):
            assert ours[col].iloc[0] == pytest.approx(theirs[col].iloc[0], rel=1e-4), col
        else:
            assert ours[col].iloc[0] == theirs[col].iloc[0], col
    assert frame["ruby_clock"].iloc[0] == same["ruby_clock"].iloc[0] == "1GHz"


def test_garnet_settings_the_dataset_held_fixed_are_required(garnet_table):
    table, point = garnet_table
    other = dict(point, inj_vnet=2)
    with pytest.raises(ConfigError, match=r"run 0123456789ab: workload.garnet: inj_vnet=2 \(calibrated: 0\)"):
        sc.dataset_frame("garnet", table, {RUN: other})
    assert sc.unmet("garnet", {RUN: dict(point, topology="Crossbar")}) == [
        "run 0123456789ab: workload.garnet.topology = 'Crossbar'; allowed: ['Mesh_XY', 'chiplet_mesh']"]


# ---- rapidchiplet -------------------------------------------------------------------------------------------

def rapidchiplet_point(**workload):
    study = build_study({"workload": {"rapidchiplet": {"route": "experiment", "routing_algorithm": "splif",
                                                       "grid": [2, 2], "topology": "mesh",
                                                       "traffic": {"pattern": "random_uniform"}, **workload}}})
    return get_simulator("rapidchiplet", {}).point_params(study.points[0].params)


@pytest.fixture
def rapidchiplet_table(golden):
    """RapidChiplet's real 2x2 mesh random_uniform run with its BookSim sweep, as a study table."""
    point = rapidchiplet_point(booksim={"enabled": True})
    rows = parse_results(golden / "rapidchiplet/booksim/results_sample_exp_2x2.json",
                         list(ANALYTIC_METRICS) + [BOOKSIM_METRIC], precision=0.001, saturation_factor=5)
    return as_table(get_simulator("rapidchiplet", {}).annotate(rows, point)), point


def test_rapidchiplet_golden_run_reproduces_its_analytic_calibration_row(rapidchiplet_table):
    table, point = rapidchiplet_table
    frame = sc.dataset_frame("rapidchiplet", table, {RUN: point})
    raw = calibration("rapidchiplet/calibration.csv")
    same = raw[raw["run_id"] == "a_cal0000_mesh_2x2_random_uniform"].reset_index(drop=True)
    ours, theirs = surrogate_rapidchiplet.training_frame(frame), surrogate_rapidchiplet.training_frame(same)
    for col in ("topology", "traffic_pattern", "n_chiplets", "grid_rows", "grid_cols", "latency_avg_cycles",
                "aggregate_throughput_bits_per_cycle", "latency_min_cycles", "latency_max_cycles",
                "total_chiplet_area_mm2", "total_power_W"):
        assert ours[col].iloc[0] == pytest.approx(theirs[col].iloc[0]) if ours[col].dtype.kind == "f" \
            else ours[col].iloc[0] == theirs[col].iloc[0], col
    assert frame["seed"].tolist() == [0]  # point.seed null -> 0, as the rendered run seeds RapidChiplet


def test_rapidchiplet_golden_booksim_loads_reproduce_the_calibration_sweep(rapidchiplet_table):
    table, point = rapidchiplet_table
    frame = sc.dataset_frame("rapidchiplet_booksim", table, {RUN: point})
    raw = calibration("rapidchiplet/calibration_booksim.csv")
    sweep = raw[raw["run_id"] == "b_cal0000_bs_mesh_2x2_random_uniform"]
    rate = "injection_rate_flits_per_node_per_cycle"
    merged = frame.merge(sweep, on=rate, suffixes=("", "_cal"))
    assert len(merged) >= 3  # loads both sweeps ran
    calibrated = merged["packet_latency_avg_cycles_cal"].tolist()
    assert merged["packet_latency_avg_cycles"].tolist() == pytest.approx(calibrated)
    ours = surrogate_rapidchiplet.booksim_training_frame(frame)
    assert set(ours.columns) == set(surrogate_rapidchiplet.booksim_training_frame(sweep).columns)


def test_rapidchiplet_booksim_pack_needs_the_sweep_and_the_design_route_is_refused():
    reasons = sc.unmet("rapidchiplet_booksim", {RUN: rapidchiplet_point()})
    assert reasons == ["run 0123456789ab: workload.rapidchiplet.booksim.enabled = False; allowed: True"]
    design = get_simulator("rapidchiplet", {}).point_params(build_study({}).points[0].params)
    assert "workload.rapidchiplet.route = 'design'" in sc.unmet("rapidchiplet", {RUN: design})[0]


# ---- ramulator ----------------------------------------------------------------------------------------------

def test_ramulator_golden_rows_map_to_system_level_dataset_columns(golden, tmp_path):
    """The real v2.0 HBM2 run (no calibration run matches it: its trace differs) - column mapping only."""
    sim = get_simulator("ramulator", {"variant": "v2.0"})
    point = sim.point_params(validate({"workload": {"ramulator": {"channels": 8, "frontend": {"clock_ratio": [1, 1]},
                                                                  "stream": {"num_requests": 100}}}}))
    sim.render(point, tmp_path)
    shutil.copy(golden / "ramulator/v2.0/hbm2_loadstore/stdout.txt", tmp_path / "stdout.log")
    table = as_table(sim.annotate(sim.parse(tmp_path), point))
    frame = sc.dataset_frame("ramulator", table, {RUN: point})
    assert len(frame) == 1 and len(table) == 8
    row, first = frame.iloc[0], table.iloc[0]
    assert row["avg_read_latency_ns"] == first["system_avg_read_latency_ns"]
    assert row["achieved_bandwidth_GBps"] == pytest.approx(first["system_achieved_bandwidth_bytes_per_s"] / 1e9)
    # clock ratio 1:1 = 1 request per memory cycle; peak of 8 HBM2 channels = 8 x 2 pseudo-channels / nBL 4
    assert row["offered_load_frac_of_peak"] == pytest.approx(0.25)
    assert row["reads_served"] == table["reads_served"].sum() and row["channels"] == 8
    raw_cols = set(calibration("ramulator2/calibration.csv").columns)
    assert {"standard", "pattern", "channels", "read_fraction", "offered_load_frac_of_peak", "avg_read_latency_ns",
            "achieved_bandwidth_GBps", "bandwidth_utilization"} <= set(frame.columns) & raw_cols


# ---- mqsim --------------------------------------------------------------------------------------------------

def test_mqsim_flows_the_pack_has_no_input_for_cannot_regenerate_it(golden):
    section = yaml.safe_load((golden / "mqsim/eoe_small/section.yaml").read_text())
    point = get_simulator("mqsim").point_params(validate({"seed": 7, "workload": {"mqsim": section}}))
    reasons = sc.unmet("mqsim", {RUN: point})
    # a spread-out burst (1 us between requests), a small flash array, and a second flow sharing the SSD
    assert any("flows[0]: flash.blocks_per_plane=256 (calibrated: 2048) +3 more" in r for r in reasons), reasons
    assert any("flows[0]: transfers of different request counts" in r for r in reasons)
    assert any("flows[1].kind = 'synthetic'; allowed: 'trace'" in r for r in reasons)


def test_mqsim_bursts_and_rereads_map():
    flow = {"kind": "trace", "io": {"request_size_kib": 128, "arrival": {"process": "poisson", "mean_interval_us": 50},
                                    "expert_loads": [{"name": "e", "weight_bytes": 8 * 2**20, "loads": 10}]}}
    point = get_simulator("mqsim").point_params(validate({"workload": {"mqsim": {"flows": [flow]}}}))
    assert sc.unmet("mqsim", {RUN: point}) == []


def test_the_calibrate_study_maps_every_pack():
    study = build_study(yaml.safe_load(open(sc.__file__.replace("analysis/study_calibration.py",
                                                                 "config/studies/calibrate.yaml"))))
    from eoesim.plan import plan_study

    plan = plan_study(study)
    assert sorted(sc.regenerable_packs(plan.runs)) == sorted(sc.MAPPINGS)
    assert len({p["array_rows"] != p["array_cols"] for p in plan.runs["scalesim"].values()}) == 2


def test_square_arrays_only_cannot_regenerate_the_scalesim_pack():
    square = {"a": {"array_rows": 32, "array_cols": 32}, "b": {"array_rows": 64, "array_cols": 64}}
    reasons = sc.unidentified("scalesim", square)
    assert sc.unmet("scalesim", square) == [] and len(reasons) == 1 and "non-square" in reasons[0]
    assert sc.regenerable_packs({"scalesim": square}) == []
    mixed = {**square, "c": {"array_rows": 32, "array_cols": 64}}
    assert sc.unidentified("scalesim", mixed) == [] and sc.regenerable_packs({"scalesim": mixed}) == ["scalesim"]


def test_a_study_with_one_real_memory_run_regenerates_no_ramulator_pack():
    """The default study with a real Ramulator has one Ramulator run: its calibrate_pack job used to fail the
    workflow with 'ramulator surrogate: 1 training rows are too few' (issue 15, real-simulator run)."""
    from eoesim.plan import plan_study

    plan = plan_study(build_study({}))
    one_run = {"ramulator": plan.runs["ramulator"]}
    assert len(one_run["ramulator"]) == 1 and sc.regenerable_packs(one_run) == []
    assert "1 training row(s) and a fit needs at least 3" in sc.unidentified("ramulator", one_run["ramulator"])[0]
    calibrate = plan_study(build_study(yaml.safe_load(open(sc.__file__.replace(
        "analysis/study_calibration.py", "config/studies/calibrate.yaml"))))).runs["ramulator"]
    assert len(calibrate) == 3 and sc.unidentified("ramulator", calibrate) == []
