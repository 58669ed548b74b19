"""Expert -> chiplet mappings on a grid; neighbouring experts on adjacent chiplets."""
import pytest

from eoesim.eoe.hardware import build_hardware
from eoesim.eoe.mapping import build_mapping
from eoesim.errors import ConfigError

HW = build_hardware({"package": {"grid": [2, 3]}})  # chiplets 0 1 2 / 3 4 5
ORDER = ["a", "b", "c", "d"]
POP = {"a": 0.1, "b": 0.6, "c": 0.2, "d": 0.1}


def test_snake_order_and_hops():
    assert HW.snake_order() == [0, 1, 2, 5, 4, 3]
    assert HW.hops(0, 5) == 3 and HW.hops(2, 5) == 1
    torus = build_hardware({"package": {"grid": [4, 4], "topology": "torus"}})
    assert torus.hops(0, 3) == 1 and torus.hops(0, 15) == 2


def test_one_to_one_puts_neighbours_on_adjacent_chiplets():
    m = build_mapping({"strategy": "one_to_one"}, ORDER, HW, POP)
    chips = [m.placements[e][0][0] for e in ORDER]
    assert chips == [0, 1, 2, 5]
    assert all(HW.hops(x, y) == 1 for x, y in zip(chips, chips[1:]))
    with pytest.raises(ConfigError, match="at most 6 experts"):
        build_mapping({"strategy": "one_to_one"}, list("abcdefg"), HW, POP)


def test_one_to_many_splits_each_expert_over_adjacent_chiplets():
    m = build_mapping({"strategy": "one_to_many", "chiplets_per_expert": 3}, ["a", "b"], HW, POP)
    assert m.placements == {"a": ((0, 1, 2),), "b": ((5, 4, 3),)}
    assert build_mapping({"strategy": "one_to_many"}, ["a", "b", "c"], HW, POP).placements["c"] == ((4, 3),)
    with pytest.raises(ConfigError, match="chiplets_per_expert"):
        build_mapping({"strategy": "one_to_many", "chiplets_per_expert": 2}, ORDER, HW, POP)
    # more experts than chiplets: the strategy is what is not allowed (not "at most 0 chiplets per expert")
    with pytest.raises(ConfigError, match=r"mapping\.strategy: one_to_many maps 7 experts onto 6 chiplets.*"
                                          r"allowed: at most 6 experts"):
        build_mapping({"strategy": "one_to_many"}, list("abcdefg"), HW, POP)


def test_many_to_one_colocates_the_cold_experts():
    m = build_mapping({"strategy": "many_to_one", "chiplets_used": 2}, ORDER, HW, POP)
    # the hottest expert (b) gets a chiplet of its own; the three colder ones share the next
    assert m.placements["b"] == ((0,),)
    assert {m.placements[e][0][0] for e in "acd"} == {1}
    assert sorted(m.experts_on(1)) == ["a", "c", "d"]
    # the default, ceil(experts / 2) chiplets, is capped at the grid: 16 experts on the 6 chiplets
    many = [f"e{i}" for i in range(16)]
    placed = build_mapping({"strategy": "many_to_one"}, many, HW, POP).placements
    assert {chips for (chips,) in placed.values()} == {(c,) for c in range(6)}


def test_many_to_many_replicates_and_round_robins():
    m = build_mapping({"strategy": "many_to_many", "replicas": 2}, ORDER, HW, POP)
    assert m.placements["a"] == ((0,), (5,))  # snake positions 0 and 0 + 6//2
    assert m.replica("a", 0) == (0,) and m.replica("a", 1) == (5,) and m.replica("a", 2) == (0,)
    hosted = [len(m.experts_on(c)) for c in range(6)]
    assert sum(hosted) == 8 and max(hosted) >= 1


@pytest.mark.parametrize(("cfg", "fix"), [
    ({"chiplets_per_expert": 2}, "fewer chiplets_per_expert"),
    ({"chiplets_per_expert": 1, "chiplets_used": 3}, r"more mapping\.chiplets_used"),
    # one chiplet per expert already: fewer per expert is no way out (it was suggested)
    ({"chiplets_per_expert": 1}, r"a larger hardware\.package\.grid"),
])
def test_replicate_short_of_chiplets_names_a_way_out_the_study_has(cfg, fix):
    n = 4 if cfg["chiplets_per_expert"] == 2 or "chiplets_used" in cfg else 7
    with pytest.raises(ConfigError, match=r"mapping\.strategy: replicate needs .*allowed: at most \d experts on \d "
                                          rf"chiplets \(or {fix}\)$"):
        build_mapping({"strategy": "replicate", **cfg}, list("abcdefg")[:n], HW, POP)


def test_mapping_errors():
    with pytest.raises(ConfigError, match="mapping.strategy"):
        build_mapping({"strategy": "random"}, ORDER, HW, POP)
    with pytest.raises(ConfigError, match="router_chiplet"):
        build_mapping({"router_chiplet": 6}, ORDER, HW, POP)
