"""Routers: top-k, threshold (variable-size top-k) and fixed assignment over a morphology node."""
import numpy as np
import pytest

from eoesim.eoe.morphology import build_morphology
from eoesim.eoe.router import build_router, expert_popularity, home_child, route_node
from eoesim.errors import ConfigError

NAMES = ["a", "b", "c", "d"]


def flat():
    return build_morphology({"kind": "tree"}, NAMES).routers[0]


def test_home_child_follows_the_domain_home_expert():
    m = build_morphology({"kind": "tree", "tree": {"root": ["x", "y"], "x": ["a", "b"], "y": ["c", "d"]}}, NAMES)
    root = m.routers[0]
    # domain d's home expert is NAMES[d % 4]: a, b in x (child 0); c, d in y (child 1)
    assert home_child(root, NAMES, 6).tolist() == [0, 0, 1, 1, 0, 0]


def test_topk_without_noise_picks_home_then_lowest_index():
    r = build_router({"kind": "topk", "k": 2, "noise_std": 0.0}, NAMES, 4)
    picks = route_node(r, flat(), np.array([2, 0, 3]), NAMES, 4, seed=1)
    assert picks == [[2, 0], [0, 1], [3, 0]]


def test_threshold_is_a_variable_size_topk():
    # no noise: gate = softmax([affinity at home, 0, 0, 0]) ; affinity ln(3) -> home 0.5, others 1/6 each
    node = flat()
    r = build_router({"kind": "threshold", "threshold": 0.4, "affinity": float(np.log(3)), "noise_std": 0.0},
                     NAMES, 4)
    assert route_node(r, node, np.array([1]), NAMES, 4, seed=1) == [[1]]
    r = build_router({"kind": "threshold", "threshold": 0.15, "affinity": float(np.log(3)), "noise_std": 0.0},
                     NAMES, 4)
    assert route_node(r, node, np.array([1]), NAMES, 4, seed=1) == [[1, 0, 2, 3]]


def test_threshold_with_noise_varies_the_number_of_picks_and_keeps_at_least_one():
    r = build_router({"kind": "threshold", "threshold": 0.3, "noise_std": 1.5}, NAMES, 4)
    picks = route_node(r, flat(), np.zeros(2000, dtype=int), NAMES, 4, seed=3)
    sizes = {len(p) for p in picks}
    assert min(sizes) >= 1 and len(sizes) > 1


def test_topk_is_seeded():
    r = build_router({"kind": "topk", "k": 2}, NAMES, 4)
    d = np.arange(500) % 4
    assert route_node(r, flat(), d, NAMES, 4, seed=5) == route_node(r, flat(), d, NAMES, 4, seed=5)
    assert route_node(r, flat(), d, NAMES, 4, seed=5) != route_node(r, flat(), d, NAMES, 4, seed=6)


def test_high_affinity_routes_top1_to_home():
    r = build_router({"kind": "topk", "k": 1, "affinity": 50.0}, NAMES, 4)
    d = np.arange(100) % 4
    assert [p[0] for p in route_node(r, flat(), d, NAMES, 4, seed=1)] == d.tolist()


def test_fixed_assignment_by_domain_index_and_expert_name():
    r = build_router({"kind": "fixed", "assignment": {"0": ["c", "d"], "b": "a"}}, NAMES, 4)
    picks = route_node(r, flat(), np.array([0, 1, 2, 3]), NAMES, 4, seed=1)
    assert picks == [[2, 3], [0], [2], [3]]  # domains without an entry go home


def test_router_config_errors():
    with pytest.raises(ConfigError, match="eoe.router.kind"):
        build_router({"kind": "learned"}, NAMES, 4)
    with pytest.raises(ConfigError, match="eoe.router.assignment.zz"):
        build_router({"kind": "fixed", "assignment": {"zz": ["a"]}}, NAMES, 4)
    with pytest.raises(ConfigError, match="are not experts"):
        build_router({"kind": "fixed", "assignment": {"0": ["q"]}}, NAMES, 4)
    with pytest.raises(ConfigError, match="threshold"):
        build_router({"kind": "threshold", "threshold": 0}, NAMES, 4)


def test_router_gate_gemm_and_popularity():
    r = build_router({"cost": {"hidden": 64}}, NAMES, 4)
    g = r.gemm(100, 4)
    assert (g.m, g.n, g.k) == (100, 4, 64)
    assert build_router({"cost": {"hidden": 0}}, NAMES, 4).gemm(100, 4) is None
    pop = expert_popularity(NAMES, np.array([0.4, 0.3, 0.2, 0.05, 0.05]))  # domain 4's home is a
    assert pop == pytest.approx({"a": 0.45, "b": 0.3, "c": 0.2, "d": 0.05})
