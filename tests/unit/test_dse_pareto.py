"""Pareto fronts, ranks and top-k on hand-made examples; the pareto.csv table and the figure's data."""
import json

import numpy as np
import pandas as pd
import pytest

from eoesim.dse.labels import point_label
from eoesim.dse.objectives import point_areas, usable_objectives
from eoesim.dse.pareto import pareto_mask, pareto_rank, top_k
from eoesim.dse.refine import objective_frame, pareto_table, select_refine
from eoesim.errors import EoesimError

# latency, energy: a dominates c and d; b is on the front; e duplicates a; f ties a's latency but has more
# energy (dominated); g ties b's energy with less latency than d
TWO = pd.DataFrame({"p": list("abcdefg"),
                    "lat": [1.0, 3.0, 2.0, 4.0, 1.0, 1.0, 2.5],
                    "en": [5.0, 2.0, 6.0, 5.0, 5.0, 7.0, 2.0]})


def test_two_objectives_with_ties_and_duplicates():
    front = TWO[pareto_mask(TWO, ["lat", "en"])]["p"].tolist()
    assert front == ["a", "e", "g"]  # a and its duplicate e both stay; g beats b (same energy, less latency)
    assert pareto_rank(TWO, ["lat", "en"]).tolist() == [0, 1, 1, 2, 0, 1, 0]


def test_three_objectives():
    frame = pd.DataFrame({"p": list("abcde"), "lat": [1, 2, 3, 1, 2], "en": [3, 2, 1, 3, 3], "area": [3, 3, 3, 2, 1]})
    assert frame[pareto_mask(frame, ["lat", "en", "area"])]["p"].tolist() == ["b", "c", "d", "e"]
    assert frame[pareto_mask(frame, ["lat", "en"])]["p"].tolist() == ["a", "b", "c", "d"]
    assert frame[pareto_mask(frame, ["lat"])]["p"].tolist() == ["a", "d"]


def test_top_k_takes_the_front_first_then_the_next_front():
    chosen = top_k(TWO, ["lat", "en"], 4)["p"].tolist()
    assert set(chosen[:3]) == {"a", "e", "g"} and chosen[3] in {"b", "c", "f"}
    assert top_k(TWO, ["lat", "en"], 0).empty
    assert len(top_k(TWO, ["lat", "en"], 100)) == len(TWO)


def test_non_finite_or_missing_objectives_are_errors():
    with pytest.raises(EoesimError, match="missing"):
        pareto_mask(TWO, ["lat", "cost"])
    with pytest.raises(EoesimError, match="non-finite"):
        pareto_mask(TWO.assign(lat=[1.0, np.nan, 2, 3, 4, 5, 6]), ["lat", "en"])


def summary(p99, mean, energy):
    return {"e2e_latency_s": {"p99": p99, "mean": mean}, "energy": {"per_token_j": energy}}


SELECTION_CHOICES = {
    "scalesim": {"study_fidelity": "surrogate", "refined_fidelity": "simulate", "rerun": True, "reason": "r"},
    "garnet": {"study_fidelity": "surrogate", "refined_fidelity": "surrogate", "rerun": False, "reason": "r"},
}
POINT_RUNS = {"p1": {"scalesim": "s1", "garnet": "g"}, "p2": {"scalesim": "s2", "garnet": "g"},
              "p3": {"scalesim": "s1", "garnet": "g"}}


def test_selection_and_pareto_table_both_fidelities():
    sweep = objective_frame({"p1": summary(1.0, 0.5, 2e-3), "p2": summary(2.0, 0.7, 1e-3),
                             "p3": summary(3.0, 0.9, 3e-3)}, {}, {"p1": "one"})
    selection = select_refine(sweep, ["e2e_latency_p99_s", "energy_per_token_j", "area_mm2"], 2,
                              SELECTION_CHOICES, POINT_RUNS, {})
    assert selection["objectives"] == ["e2e_latency_p99_s", "energy_per_token_j"]  # no RapidChiplet area
    assert "area_mm2 left out" in selection["note"]
    assert sorted(selection["points"]) == ["p1", "p2"]
    assert selection["simulators"]["scalesim"]["run_ids"] == ["s1", "s2"]
    assert selection["simulators"]["garnet"]["run_ids"] == []
    refined = objective_frame({"p1": summary(1.1, 0.5, 2e-3), "p2": summary(2.0, 0.7, 0.5e-3)}, {}, {})
    table = pareto_table(sweep, refined, json.loads(json.dumps(selection)))
    row = table.set_index("point_id")
    assert row.loc["p1", "label"] == "one" and row.loc["p2", "label"] == "p2"
    assert row.loc["p1", "e2e_latency_p99_s_refined"] == 1.1
    assert row.loc["p1", "e2e_latency_p99_s_rel_diff"] == pytest.approx(0.1)
    assert row.loc["p2", "energy_per_token_j_rel_diff"] == pytest.approx(-0.5)
    assert np.isnan(row.loc["p3", "e2e_latency_p99_s_refined"]) and not row.loc["p3", "refined"]
    assert row["pareto"].tolist() == [True, True, False]
    assert row.loc["p1", "refined_simulators"] == "scalesim" and row.loc["p1", "surrogate_simulators"] == "garnet"


def test_area_of_each_point_from_the_rapidchiplet_package_record():
    table = pd.DataFrame({"run_id": ["r1", "r1", "r2"], "record": ["package", "link", "package"],
                          "total_chiplet_area_mm2": [100.0, np.nan, 200.0]})
    areas = point_areas(table, {"p1": "r1", "p2": "r2", "p3": "r1"})
    assert areas == {"p1": 100.0, "p2": 200.0, "p3": 100.0}
    assert usable_objectives(["e2e_latency_p99_s", "area_mm2"], areas, ["p1", "p2"]) == (
        ["e2e_latency_p99_s", "area_mm2"], "")


def test_point_labels_are_short():
    label = point_label({"hardware.chiplet.array": [64, 64], "mapping.strategy": "many_to_one",
                         "hardware.memory.hbm.capacity_gib": 0.2263, "mapping.cache_policy": "lru",
                         "eoe.experts": [{"name": "a"}, {"name": "b"}]})
    assert label == "64x64 N:1 HBM0.23 lru 2exp"
