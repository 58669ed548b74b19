"""Figures 3 (NoC latency), 4 (memory load) and 7 (parity + error table): data equal their sources."""
import warnings

import numpy as np
import pandas as pd
import pytest
from figure_artists import markers, sorted_points

from eoesim.analysis import calibrate
from eoesim.analysis.accuracy import error_table, metric_errors
from eoesim.analysis.packs import load_pack
from eoesim.analysis.parity import heldout_predictions
from eoesim.analysis.surrogate import OutOfDomainWarning
from eoesim.analysis.surrogate_garnet import training_frame as garnet_training_frame
from eoesim.figures import memory_load, noc_latency
from eoesim.figures.components import STUDY_SOURCE
from eoesim.figures.parity_figures import metric_label, plot_error_table, plot_parity


def raw(pack):
    return pd.read_csv(calibrate.dataset_path(pack))


def assert_written(paths, data):
    for key in ("pdf", "png", "csv"):
        assert paths[key].stat().st_size > 2000 if key != "csv" else paths[key].stat().st_size > 0
    pd.testing.assert_frame_equal(pd.read_csv(paths["csv"]), data.reset_index(drop=True), check_dtype=False)


#: the default study's garnet row (a surrogate row: the figure must fall back to the calibration runs)
GARNET_SURROGATE_ROW = pd.DataFrame([{
    "run_id": "358ced533cad", "vnet": "all", "mesh_rows": 4, "mesh_cols": 4, "pattern": "uniform_random",
    "injection_rate": 0.1, "vcs_per_vnet": 4, "link_latency": 1, "router_latency": 1,
    "average_packet_latency_cycles": 10.1, "fidelity": "surrogate", "source": "surrogate garnet/..."}])


# ------------------------------------------------------------------------------------------ figure 3
@pytest.fixture(scope="module")
def noc():
    points = noc_latency.measured_points(GARNET_SURROGATE_ROW, raw("garnet"))
    curves = noc_latency.surrogate_curves(load_pack("garnet"), points)
    return noc_latency.figure_data(points, curves)


def test_noc_measured_points_are_the_steady_state_calibration_runs(noc):
    cal = raw("garnet")
    steady = ~garnet_training_frame(cal)["saturated"].to_numpy()
    # the figure is of plain XY meshes: the dataset's chiplet packages are not its points
    design = ((cal["vcs_per_vnet"] == 4) & (cal["link_latency"] == 1) & (cal["router_latency"] == 1)
              & (cal["topology"] == "Mesh_XY"))
    expected = cal[steady & design.to_numpy()]
    measured = noc[noc["kind"] == "measured"]
    assert len(measured) == len(expected) > 50
    merged = measured.merge(expected, left_on=["mesh_rows", "pattern", noc_latency.RATE],
                            right_on=["rows", "pattern", "injection_rate"], validate="one_to_one")
    assert len(merged) == len(expected)
    np.testing.assert_allclose(merged[noc_latency.LATENCY], merged["average_packet_latency_cycles"])
    assert measured["source"].str.contains("calibration run").all()


def test_noc_saturation_markers_and_lines_are_the_packs_predictions(noc):
    model = load_pack("garnet")
    sat = noc[noc["kind"] == "saturation"]
    assert len(sat) == 3 * 6  # three meshes x six patterns
    query = sat[["mesh_rows", "mesh_cols", "pattern", "vcs_per_vnet", "link_latency", "router_latency"]].copy()
    query["injection_rate"] = 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        expected = model.predict(query)["saturation_injection_rate"].to_numpy()
    np.testing.assert_allclose(sat[noc_latency.RATE].to_numpy(), expected, rtol=1e-12)
    line = noc[noc["kind"] == "surrogate"]
    grid = line[list(query.columns[:-1])].assign(injection_rate=line[noc_latency.RATE].to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        np.testing.assert_allclose(line[noc_latency.LATENCY], model.predict(grid)["avg_packet_latency_cycles"])
    sat_of_line = line.merge(sat[["mesh_rows", "pattern", noc_latency.RATE]].rename(
        columns={noc_latency.RATE: "sat"}), on=["mesh_rows", "pattern"])
    assert (sat_of_line[noc_latency.RATE] < sat_of_line["sat"]).all()
    beyond = sat_of_line[noc_latency.RATE] > 0.9 * sat_of_line["sat"]
    assert not (sat_of_line["in_domain"].astype(bool) & beyond).any()


def test_noc_prefers_the_studys_own_gem5_runs(tmp_path):
    table = pd.DataFrame([{"run_id": f"r{i}", "vnet": vnet, "topology": "Mesh_XY", "mesh_rows": 4, "num_cpus": 16,
                           "synthetic": "transpose", "injection_rate": rate, "vcs_per_vnet": 4,
                           "link_latency_cycles": 1, "router_latency_cycles": 1,
                           "average_packet_latency_cycles": lat, "saturated": sat, "fidelity": "simulate"}
                          for i, (vnet, rate, lat, sat) in enumerate([("all", 0.05, 10.5, False),
                                                                      ("all", 0.2, 11.5, False),
                                                                      ("0", 0.2, 99.0, None),
                                                                      ("all", 0.6, 900.0, True)])])
    points = noc_latency.measured_points(table, raw("garnet"))
    assert list(points[noc_latency.LATENCY]) == [10.5, 11.5]
    assert (points["source"] == STUDY_SOURCE).all() and (points["mesh_cols"] == 4).all()
    data = noc_latency.figure_data(points, noc_latency.surrogate_curves(load_pack("garnet"), points))
    assert_written(noc_latency.plot(data, tmp_path / "noc_latency"), data)


def test_noc_figure_is_written_with_the_plotted_data(noc, tmp_path, drawn):
    assert_written(noc_latency.plot(noc, tmp_path / "noc_latency"), noc)
    meshes = noc[["mesh_rows", "mesh_cols"]].drop_duplicates().sort_values(["mesh_rows", "mesh_cols"])
    axes = drawn[-1].get_axes()
    for ax, (_, mesh) in zip(axes, meshes.iterrows()):
        on = noc[(noc["mesh_rows"] == mesh["mesh_rows"]) & (noc["mesh_cols"] == mesh["mesh_cols"])]
        measured = on[on["kind"] == "measured"]
        np.testing.assert_allclose(markers(ax), sorted_points(measured[noc_latency.RATE],
                                                              measured[noc_latency.LATENCY]))
        curves = [line.get_ydata() for line in ax.get_lines() if line.get_linestyle() == ":"]
        line = on[on["kind"] == "surrogate"].sort_values("pattern", kind="stable")  # drawn pattern by pattern
        np.testing.assert_allclose(np.concatenate(curves), line[noc_latency.LATENCY])
        marks = sorted(line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--")
        assert marks == pytest.approx(sorted(on.loc[on["kind"] == "saturation", noc_latency.RATE]))


# ------------------------------------------------------------------------------------------ figure 4
RAMULATOR_SURROGATE_ROW = pd.DataFrame([{
    "run_id": "e463c6835ab3", "standard": "HBM2", "pattern": "random", "channels": 4, "read_fraction": 0.7,
    "offered_load_frac_of_peak": 0.5, "fidelity": "surrogate"}])


@pytest.fixture(scope="module")
def memory():
    points = memory_load.measured_points(RAMULATOR_SURROGATE_ROW, raw("ramulator"))
    return memory_load.figure_data(points, memory_load.surrogate_curves(load_pack("ramulator"), points))


def test_memory_measured_points_are_the_calibration_runs_of_the_study_config(memory):
    cal = raw("ramulator")
    expected = cal[(cal["pattern"] == "random") & (cal["channels"] == 4) & (cal["read_fraction"] == 0.7)]
    measured = memory[memory["kind"] == "measured"].sort_values(["standard", memory_load.LOAD])
    expected = expected.sort_values(["standard", "offered_load_frac_of_peak"])
    assert len(measured) == len(expected) >= 4 * 7   # at least the shared grid's 7 loads per standard
    for col in (memory_load.OFFERED, memory_load.ACHIEVED, memory_load.LATENCY):
        np.testing.assert_allclose(measured[col].to_numpy(), expected[col].to_numpy())
    assert set(measured["standard"]) == {"DDR4", "DDR5", "HBM2", "HBM3"}


def test_memory_lines_are_the_packs_predictions(memory):
    line = memory[memory["kind"] == "surrogate"]
    grid = line[["standard", "pattern", "channels", "read_fraction", memory_load.LOAD]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        pred = load_pack("ramulator").predict(grid)
    np.testing.assert_allclose(line[memory_load.LATENCY], pred["avg_read_latency_ns"])
    np.testing.assert_allclose(line[memory_load.ACHIEVED], pred["achieved_bandwidth_GBps"])
    assert list(line["in_domain"].astype(bool)) == list(pred["in_domain"])
    assert not line["in_domain"].astype(bool).all()  # the knee is drawn as outside the domain


def test_memory_figure_draws_the_measured_points_and_the_packs_lines(memory, tmp_path, drawn):
    assert_written(memory_load.plot(memory, tmp_path / "memory_load"), memory)
    ax_bw, ax_lat = drawn[-1].get_axes()[:2]
    measured = memory[memory["kind"] == "measured"]
    line = memory[memory["kind"] == "surrogate"].sort_values("standard", kind="stable")
    for ax, column in ((ax_bw, memory_load.ACHIEVED), (ax_lat, memory_load.LATENCY)):
        np.testing.assert_allclose(markers(ax), sorted_points(measured[memory_load.OFFERED], measured[column]))
        full_lines = [(x.get_xdata(), x.get_ydata()) for x in ax.get_lines() if x.get_linestyle() == ":"]
        np.testing.assert_allclose(np.concatenate([y for _, y in full_lines]), line[column])
        np.testing.assert_allclose(np.concatenate([x for x, _ in full_lines]), line[memory_load.OFFERED])


def test_memory_without_a_study_config_uses_sequential_most_channels_reads_only(tmp_path):
    points = memory_load.measured_points(None, raw("ramulator"))
    assert set(zip(points["pattern"], points["channels"], points["read_fraction"])) == {("sequential", 8, 1.0)}
    data = memory_load.figure_data(points, memory_load.surrogate_curves(load_pack("ramulator"), points))
    assert_written(memory_load.plot(data, tmp_path / "memory_load"), data)


def test_memory_adds_the_studys_own_ramulator_runs():
    table = pd.DataFrame([{"run_id": "a", "channel": ch, "standard": "DDR4", "pattern": "sequential",
                           "num_channels": 2, "read_fraction": 1.0, "offered_bandwidth_bytes_per_s": 19.2e9,
                           "peak_bandwidth_bytes_per_s": 38.4e9, "system_avg_read_latency_ns": 31.0,
                           "system_achieved_bandwidth_bytes_per_s": 19.1e9, "fidelity": "simulate"}
                          for ch in (0, 1)])
    points = memory_load.measured_points(table, raw("ramulator"))
    study = points[points["source"] == STUDY_SOURCE]
    assert len(study) == 1 and study.iloc[0][memory_load.ACHIEVED] == pytest.approx(19.1)
    assert study.iloc[0][memory_load.LOAD] == pytest.approx(0.5)
    assert set(zip(points["pattern"], points["channels"])) == {("sequential", 2)}


# ------------------------------------------------------------------------------------------ figure 7
@pytest.mark.parametrize("pack", ["mqsim", "rapidchiplet", "rapidchiplet_booksim"])
def test_parity_predictions_are_held_out_and_reproduce_the_packs_cv_error(pack, tmp_path, drawn):
    model = load_pack(pack)
    data = heldout_predictions(pack, model, raw(pack), "calibration")
    assert list(dict.fromkeys(data["metric"])) == list(model.primary)
    cv = model.validation["cv"]["in_domain"]
    for metric, rows in data.groupby("metric"):
        inside = rows[rows["in_domain"]]
        assert len(inside) == cv[metric]["n"]
        assert inside["abs_pct_error"].mean() == pytest.approx(cv[metric]["mape_pct"], abs=1e-4)
        assert inside["abs_pct_error"].max() == pytest.approx(cv[metric]["max_ape_pct"], abs=1e-4)
        frame = calibrate.DATASETS[pack].training_frame(raw(pack)).reset_index(drop=True)
        np.testing.assert_allclose(rows["measured"], frame.loc[rows["dataset_row"], metric])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        in_sample = model.predict(calibrate.DATASETS[pack].training_frame(raw(pack)).reset_index(drop=True))
    first = data[data["metric"] == model.primary[0]]
    assert not np.allclose(first["predicted_heldout"], in_sample.loc[first["dataset_row"], model.primary[0]])
    assert_written(plot_parity(data, tmp_path / f"parity_{pack}"), data)
    for ax, metric in zip(drawn[-1].get_axes(), model.primary):
        rows = data[data["metric"] == metric]
        np.testing.assert_allclose(markers(ax), sorted_points(rows["measured"], rows["predicted_heldout"]))


def test_error_table_equals_the_packs_stored_validation(tmp_path):
    models = {p: load_pack(p) for p in ("garnet", "ramulator", "mqsim")}
    table = error_table(models)
    assert len(table) == sum(len(m.outputs) for m in models.values())
    row = table[(table["pack"] == "garnet") & (table["metric"] == "avg_packet_latency_cycles")].iloc[0]
    cv = models["garnet"].validation["cv"]["in_domain"]["avg_packet_latency_cycles"]
    assert (row["cv_mape_pct"], row["cv_max_ape_pct"], row["n_cv"]) == (cv["mape_pct"], cv["max_ape_pct"], cv["n"])
    held = models["garnet"].validation["group_holdout"]
    worst = max(held, key=lambda c: held[c]["in_domain"]["avg_packet_latency_cycles"]["mape_pct"])
    assert row["held_out_by"] == worst
    assert row["held_out_mape_pct"] == held[worst]["in_domain"]["avg_packet_latency_cycles"]["mape_pct"]
    sat = table[table["metric"] == "saturation_throughput_MBps"].iloc[0]
    assert sat["scope"] == "in_domain"  # the flows' saturation probes (with arrival times) are inside the domain
    status = {(e.pack, e.metric): e.meets_target for m in models.values() for e in metric_errors(m) if e.primary}
    assert status[("garnet", "avg_packet_latency_cycles")] and not status[("mqsim", "response_time_us")]
    assert_written(plot_error_table(table, tmp_path / "surrogate_errors"), table)


def test_metric_labels_carry_units():
    assert metric_label("avg_read_latency_ns") == "avg read latency (ns)"
    assert metric_label("aggregate_throughput_bits_per_cycle") == "aggregate throughput (bit/cycle)"
    assert metric_label("response_time_us") == "response time (µs)"
    assert metric_label("total_cycles") == "total cycles"
    assert metric_label("read_energy_nJ") == "read energy (nJ)" and metric_label("leakage_mW") == "leakage (mW)"
