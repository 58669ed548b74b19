"""Expert residency in HBM / DDR under static, LRU and LFU policies (hand-traced sequences)."""
import pytest

from eoesim.eoe.caching import ExpertCache, default_hot_set
from eoesim.errors import ConfigError

SIZES = {"a": 4.0, "b": 4.0, "c": 4.0, "d": 4.0}
POP = {"a": 0.4, "b": 0.3, "c": 0.2, "d": 0.1}


def test_default_hot_set_is_the_most_popular_that_fit():
    assert default_hot_set(SIZES, POP, 9.0) == ["a", "b"]
    assert default_hot_set({"a": 8.0, "b": 2.0}, {"a": 1.0, "b": 0.5}, 9.0) == ["a"]


def test_static_never_moves():
    c = ExpertCache("static", 8.0, 4.0, SIZES, POP, hot_set=["a", "c"])
    # HBM = {a, c}; DDR holds the most popular that fit: a
    assert [c.access(k, 4.0) for k in "acbdb"] == ["hbm", "hbm", "ssd", "ssd", "ssd"]
    st = c.stats.as_dict()
    assert (st["hbm_hits"], st["ssd_loads"], st["hit_rate"]) == (2, 3, 0.4)


def test_lru_evicts_the_least_recently_used():
    c = ExpertCache("lru", 8.0, 12.0, SIZES, POP, hot_set=["a", "b"])
    # DDR starts with a, b, c (most popular that fit)
    assert c.access("a", 4.0) == "hbm"      # HBM a,b -> recency b, a
    assert c.access("c", 4.0) == "ddr"      # evicts b -> HBM a, c
    assert c.resident("b") == "ddr"
    assert c.access("d", 4.0) == "ssd"      # evicts a (LRU); d enters DDR, evicting a (DDR's LRU)
    assert c.resident("a") is None
    assert c.access("c", 4.0) == "hbm"
    assert c.access("a", 4.0) == "ssd"


def test_lfu_evicts_the_least_frequently_used():
    c = ExpertCache("lfu", 8.0, 16.0, SIZES, POP, hot_set=["a", "b"])
    for k in "aaab":
        c.access(k, 4.0)
    assert c.access("c", 4.0) == "ddr"      # evicts b (1 use) not a (3 uses)
    assert c.resident("a") == "hbm" and c.resident("b") == "ddr"
    assert c.access("b", 4.0) == "ddr"      # b (2 uses) evicts c (1 use)
    assert c.resident("c") == "ddr"


def test_prefetches_are_counted_apart_from_demand_accesses():
    c = ExpertCache("lru", 8.0, 16.0, SIZES, POP, hot_set=[])
    assert c.access("a", 4.0, prefetch=True) == "ddr"
    assert c.access("a", 4.0) == "hbm"
    st = c.stats.as_dict()
    assert (st["accesses"], st["hbm_hits"], st["prefetches"], st["prefetch_loads"]) == (1, 1, 1, 1)


def test_derived_entries_are_computed_not_loaded():
    c = ExpertCache("lru", 8.0, 16.0, SIZES, POP, hot_set=["a"])
    assert c.access("merged(a+b)", 4.0, derived=True) == "derive"
    assert c.access("merged(a+b)", 4.0, derived=True) == "hbm"
    assert c.resident("merged(a+b)") == "hbm"


def test_cache_config_errors():
    with pytest.raises(ConfigError, match="cache_policy"):
        ExpertCache("fifo", 8.0, 8.0, SIZES, POP)
    with pytest.raises(ConfigError, match="fits in HBM"):
        ExpertCache("static", 8.0, 8.0, SIZES, POP, hot_set=["a", "b", "c"])
    with pytest.raises(ConfigError, match="not experts"):
        ExpertCache("static", 8.0, 8.0, SIZES, POP, hot_set=["z"])
    with pytest.raises(ConfigError, match="capacity_gib"):
        ExpertCache("lru", 2.0, 8.0, SIZES, POP)
    assert ExpertCache("lru", 8.0, 8.0, SIZES, POP, hot_set=1).hot == ("a",)
