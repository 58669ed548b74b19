"""Figure pareto from a hand-made pareto.csv: files written, CSV = the plotted values of the source."""
import pandas as pd
import pytest
from figure_artists import scatter_offsets, sorted_points

from eoesim.dse.plot import pareto_figure
from eoesim.dse.refine import objective_frame, pareto_table


def table(area=True):
    def s(p99, e):
        return {"e2e_latency_s": {"p99": p99, "mean": p99 / 2}, "energy": {"per_token_j": e}}
    summaries = {f"p{i}": s(lat, en) for i, (lat, en) in
                 enumerate([(0.2, 1.5e-3), (0.3, 1.4e-3), (0.5, 1.3e-3), (0.4, 1.6e-3), (2.0, 1.7e-3)])}
    areas = {p: 100.0 + 10 * i for i, p in enumerate(summaries)} if area else {}
    sweep = objective_frame(summaries, areas, {p: f"cfg {p}" for p in summaries})
    refined = objective_frame({"p1": s(0.33, 1.45e-3)}, areas, {})
    objectives = ["e2e_latency_p99_s", "energy_per_token_j"] + (["area_mm2"] if area else [])
    selection = {"objectives": objectives, "simulators": {
        "scalesim": {"rerun": True, "refined_fidelity": "simulate"}}}
    return pareto_table(sweep, refined, selection)


@pytest.mark.parametrize("area", [True, False])
def test_figure_files_and_csv_equal_the_source(tmp_path, area, drawn):
    source = table(area)
    paths = pareto_figure(source, tmp_path / "pareto")
    for key in ("pdf", "png", "csv"):
        assert paths[key].stat().st_size > 0
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"
    data = pd.read_csv(paths["csv"])
    sweep = data[data["estimate"] == "sweep"].set_index("point_id")
    src = source.set_index("point_id")
    assert list(sweep.index) == list(src.index)
    assert (sweep["e2e_latency_p99_s"] == src["e2e_latency_p99_s"]).all()
    assert sweep["energy_per_token_mj"].to_numpy() == pytest.approx(src["energy_per_token_j"].to_numpy() * 1e3,
                                                                    rel=1e-12)
    assert (sweep["pareto"] == src["pareto"]).all()
    refined = data[data["estimate"] == "refined"].set_index("point_id")
    assert list(refined.index) == ["p1"]
    assert refined.loc["p1", "e2e_latency_p99_s"] == src.loc["p1", "e2e_latency_p99_s_refined"]
    numbered = sweep.dropna(subset=["number"])
    assert set(numbered.index) <= set(src.index[src["pareto"]])
    assert sorted(numbered["number"].astype(int)) == list(range(1, len(numbered) + 1))
    assert ("area_mm2" in data.columns) == area
    others, front, refined_marks = scatter_offsets(drawn[-1].get_axes()[0])
    mj = src["energy_per_token_j"] * 1e3
    on_front = src["pareto"].astype(bool)
    assert sorted_points(*others.T) == pytest.approx(sorted_points(src.loc[~on_front, "e2e_latency_p99_s"],
                                                                   mj[~on_front]))
    assert sorted_points(*front.T) == pytest.approx(sorted_points(src.loc[on_front, "e2e_latency_p99_s"],
                                                                  mj[on_front]))
    assert refined_marks[0] == pytest.approx([src.loc["p1", "e2e_latency_p99_s_refined"],
                                              src.loc["p1", "energy_per_token_j_refined"] * 1e3])
    assert len(refined_marks) == 1
