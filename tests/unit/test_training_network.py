"""Ring collectives and routes on the package network, against the ring formulas."""
import pytest
from training_cases import HOP_S, LINK_BW, hand_model

from eoesim.eoe.hardware import build_hardware
from eoesim.training.collectives import all_gather, all_reduce, concurrent_transfers, reduce_scatter, route


def hw(grid=(2, 2), topology="mesh"):
    return build_hardware({"package": {"grid": list(grid), "topology": topology}})


def test_dimension_order_routes():
    h = hw((4, 4))
    assert route(h, 0, 15) == [(0, 1), (1, 2), (2, 3), (3, 7), (7, 11), (11, 15)]  # row first, then column
    assert route(h, 12, 0) == [(12, 8), (8, 4), (4, 0)]
    assert route(hw((1, 4), "torus"), 0, 3) == [(0, 3)]  # the wrap-around link is shorter


def test_all_reduce_on_a_2x2_ring_is_the_ring_formula():
    """4 chiplets, ring 0-1-3-2 (every edge one hop, its own link): 2(n-1) steps of B/n."""
    nbytes = 4e6
    cost = all_reduce(hand_model(), hw(), [[0, 1, 3, 2]], nbytes)
    assert cost.seconds == pytest.approx(6 * (HOP_S + nbytes / 4 / LINK_BW))
    assert cost.link_bytes == pytest.approx(6 * 4 * nbytes / 4)  # each step: 4 edges x B/n, one hop each
    half = reduce_scatter(hand_model(), hw(), [[0, 1, 3, 2]], nbytes)
    assert half.seconds == pytest.approx(cost.seconds / 2)
    assert all_gather(hand_model(), hw(), [[0, 1, 3, 2]], nbytes).seconds == pytest.approx(half.seconds)


def test_rings_sharing_a_link_share_its_bandwidth():
    """Rings 0-1 and 0-1 again (two tensor ranks' rings laid on the same pair): the link carries both."""
    one = all_reduce(hand_model(), hw(), [[0, 1]], 1e6)
    two = all_reduce(hand_model(), hw(), [[0, 1], [0, 1]], 1e6)
    assert one.seconds == pytest.approx(2 * (HOP_S + 0.5e6 / LINK_BW))
    assert two.seconds == pytest.approx(2 * (HOP_S + 1e6 / LINK_BW))


def test_a_ring_whose_edges_cross_several_hops_pays_them():
    """Ring 0-3 on a 1x4 mesh: each edge crosses 3 links."""
    cost = all_reduce(hand_model(), hw((1, 4)), [[0, 3]], 2e6)
    assert cost.seconds == pytest.approx(2 * (3 * HOP_S + 1e6 / LINK_BW))
    assert cost.link_bytes == pytest.approx(2 * 2 * 3 * 1e6)


def test_one_member_or_nothing_costs_nothing():
    assert all_reduce(hand_model(), hw(), [[2]], 1e6).seconds == 0
    assert concurrent_transfers(hand_model(), hw(), [(1, 1)], 1e6).seconds == 0
