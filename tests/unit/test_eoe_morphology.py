"""Morphologies: chain, tree and graph built into router / expert / composition stages."""
import pytest

from eoesim.eoe.composition import check_composable
from eoesim.eoe.expert import Expert
from eoesim.eoe.morphology import build_morphology
from eoesim.errors import ConfigError

NAMES = ["a", "b", "c", "d", "m"]


def test_chain_default_is_every_expert_in_order():
    m = build_morphology({"kind": "chain"}, ["a", "b", "c"])
    dag = m.dag()
    assert [s["id"] for s in dag["stages"]] == ["expert:a", "expert:b", "expert:c"]
    assert dag["edges"] == [["expert:a", "expert:b"], ["expert:b", "expert:c"]]
    assert m.routers == []


def test_chain_with_a_routed_stage():
    m = build_morphology({"kind": "chain", "chain": ["a", ["b", "c"], "d"]}, NAMES)
    dag = m.dag()
    ids = [s["id"] for s in dag["stages"]]
    assert ids == ["expert:a", "router:stage1", "expert:b", "expert:c", "composition:stage1", "expert:d"]
    assert ["expert:a", "router:stage1"] in dag["edges"]
    assert ["composition:stage1", "expert:d"] in dag["edges"]
    assert [r.name for r in m.routers] == ["stage1"]
    assert m.placement_order() == ["a", "b", "c", "d"]


def test_tree_is_a_type_subtype_hierarchy():
    m = build_morphology({"kind": "tree", "tree": {"root": ["x", "d"], "x": ["a", "b", "c"]}}, NAMES)
    assert [r.name for r in m.routers] == ["root", "x"]
    dag = m.dag()
    assert ["router:root", "router:x"] in dag["edges"]
    assert ["router:x", "expert:a"] in dag["edges"]
    # one composition, at the top router, over every selected leaf
    assert [s["id"] for s in dag["stages"] if s["kind"] == "composition"] == ["composition:root"]
    assert ["expert:c", "composition:root"] in dag["edges"] and ["expert:d", "composition:root"] in dag["edges"]
    assert m.placement_order() == ["a", "b", "c", "d"]


def test_graph_branches_feed_the_manager():
    cfg = {"kind": "graph", "manager": "m",
           "branches": [{"kind": "chain", "chain": ["a", "b"]}, {"kind": "tree", "tree": {"root": ["c", "d"]}}]}
    m = build_morphology(cfg, NAMES)
    dag = m.dag()
    assert ["expert:b", "expert:m"] in dag["edges"]
    assert ["composition:b1/root", "expert:m"] in dag["edges"]
    assert m.placement_order() == ["a", "b", "c", "d", "m"]


@pytest.mark.parametrize("cfg,msg", [
    ({"kind": "ring"}, "eoe.morphology.kind"),
    ({"kind": "chain", "chain": ["a", "zz"]}, "'zz' is not an expert"),
    ({"kind": "tree", "tree": {"top": ["a"]}}, "no 'root'"),
    ({"kind": "tree", "tree": {"root": ["x"], "x": ["root"]}}, "cycle"),
    ({"kind": "tree", "tree": {"root": ["a", "a"]}}, "appears twice"),
    ({"kind": "tree", "tree": {"root": ["a"], "z": ["b"]}}, "not reachable"),
    ({"kind": "tree", "tree": {"root": ["a"], "a": ["b"]}}, "also expert names"),
    ({"kind": "graph", "branches": [{"chain": ["a"]}]}, "manager"),
    ({"kind": "graph", "manager": "a", "branches": [{"chain": ["a", "b"]}]}, "'a' is the graph's manager"),
])
def test_morphology_errors(cfg, msg):
    with pytest.raises(ConfigError, match=msg):
        build_morphology(cfg, NAMES)


def test_composition_needs_compatible_experts():
    e1 = Expert("a", 1, 8, 1, 1, 8, 4)
    e2 = Expert("b", 2, 8, 1, 1, 8, 4)
    e3 = Expert("c", 1, 16, 1, 1, 8, 4)
    check_composable("representation_average", [e1, e2])  # same d_model is enough
    with pytest.raises(ConfigError, match="equal d_model"):
        check_composable("representation_average", [e1, e3])
    with pytest.raises(ConfigError, match="identical shape"):
        check_composable("weight_summation", [e1, e2])
    check_composable("sequential_aggregation", [e1, e3])
    with pytest.raises(ConfigError, match="eoe.composition.kind"):
        check_composable("vote", [e1])
