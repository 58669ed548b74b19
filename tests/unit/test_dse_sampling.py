"""sweep.sample: seeded random / Latin-hypercube samples of parameter ranges, combined with grid and zip."""
import math

import numpy as np
import pytest
import yaml
from conftest import REPO

from eoesim.config import build_study, expand_sweep, schema_at
from eoesim.dse.sampling import map_unit, sample_rows, unit_samples
from eoesim.errors import ConfigError

RANGES = {
    "hardware.memory.hbm.capacity_gib": {"min": 0.5, "max": 64.0, "log": True},
    "hardware.chiplet.freq_ghz": {"min": 0.5, "max": 2.0},
    "eoe.router.k": {"min": 1, "max": 3},
    "hardware.chiplet.array": {"choices": [[32, 32], [64, 64], [128, 128]]},
    "hardware.chiplet.dataflow": {"choices": ["os", "ws", "is"]},
}


def sample(method="lhs", n=30, seed=None, ranges=RANGES):
    return {"method": method, "n": n, "seed": seed, "ranges": ranges}


@pytest.mark.parametrize("method", ["random", "lhs"])
def test_same_seed_same_points_other_seed_other_points(method):
    a = build_study({"seed": 3, "sweep": {"sample": sample(method)}})
    b = build_study({"seed": 3, "sweep": {"sample": sample(method)}})
    c = build_study({"seed": 4, "sweep": {"sample": sample(method)}})
    d = build_study({"seed": 4, "sweep": {"sample": sample(method, seed=3)}})  # the sample's own seed wins
    assert [p.id for p in a.points] == [p.id for p in b.points]
    assert [p.overrides for p in a.points] != [p.overrides for p in c.points]
    assert [p.overrides for p in d.points] == [p.overrides for p in a.points]


@pytest.mark.parametrize("method", ["random", "lhs"])
def test_samples_stay_in_bounds_integers_and_choices(method):
    rows = sample_rows(sample(method, n=200), 11, schema_at)
    assert 0 < len(rows) <= 200
    for row in rows:
        assert 0.5 <= row["hardware.memory.hbm.capacity_gib"] <= 64.0
        assert 0.5 <= row["hardware.chiplet.freq_ghz"] <= 2.0
        assert isinstance(row["eoe.router.k"], int) and 1 <= row["eoe.router.k"] <= 3  # integer key: implied
        assert row["hardware.chiplet.array"] in RANGES["hardware.chiplet.array"]["choices"]
        assert row["hardware.chiplet.dataflow"] in ("os", "ws", "is")
    assert {r["eoe.router.k"] for r in rows} == {1, 2, 3}
    assert {r["hardware.chiplet.dataflow"] for r in rows} == {"os", "ws", "is"}
    # floats keep 6 significant digits
    assert all(float(f"{r['hardware.chiplet.freq_ghz']:.6g}") == r["hardware.chiplet.freq_ghz"] for r in rows)


def test_lhs_puts_one_sample_in_each_stratum():
    n = 25
    units = unit_samples("lhs", n, 3, seed=5)
    for dim in range(3):
        assert sorted(np.floor(units[:, dim] * n).astype(int)) == list(range(n))
    rows = sample_rows(sample(n=n, ranges={"hardware.chiplet.freq_ghz": {"min": 1.0, "max": 2.0}}), 5, schema_at)
    strata = sorted(int((r["hardware.chiplet.freq_ghz"] - 1.0) * n) for r in rows)
    assert strata == list(range(n))


def test_mapping_of_unit_coordinates():
    assert map_unit(0.0, {"min": 1, "max": 100, "log": True}, False) == 1.0
    assert math.isclose(map_unit(0.5, {"min": 1, "max": 100, "log": True}, False), 10.0)
    assert map_unit(0.5, {"min": 2, "max": 4}, False) == 3.0
    assert [map_unit(u, {"min": 1, "max": 3}, True) for u in (0.0, 0.34, 0.67, 0.999)] == [1, 2, 3, 3]
    assert [map_unit(u, {"choices": ["a", "b"]}, False) for u in (0.0, 0.49, 0.5, 0.999)] == ["a", "a", "b", "b"]


def test_sample_combines_with_grid_as_a_cartesian_product():
    sweep = {"grid": {"mapping.cache_policy": ["lru", "lfu"]},
             "sample": sample(n=5, ranges={"hardware.chiplet.freq_ghz": {"min": 0.5, "max": 2.0}})}
    study = build_study({"sweep": sweep})
    assert len(study.points) == 10
    freqs = [p.overrides["hardware.chiplet.freq_ghz"] for p in study.points]
    assert freqs[:5] == freqs[5:]  # the same sample under every grid row
    assert [p.overrides["mapping.cache_policy"] for p in study.points] == ["lru"] * 5 + ["lfu"] * 5
    assert study.sweep_keys == ["mapping.cache_policy", "hardware.chiplet.freq_ghz"]
    for p in study.points:
        assert p.params["hardware"]["chiplet"]["freq_ghz"] == p.overrides["hardware.chiplet.freq_ghz"]


def test_coinciding_samples_are_kept_once():
    rows = sample_rows(sample(n=50, ranges={"hardware.chiplet.dataflow": {"choices": ["os", "ws"]}}), 1, schema_at)
    assert sorted(r["hardware.chiplet.dataflow"] for r in rows) == ["os", "ws"]


def test_point_ids_ignore_the_non_parameter_sections():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    ids = [p.id for p in build_study(config).points]
    assert len(set(ids)) == 9
    edited = {**config, "study": "renamed", "figures": {"load_curve": {"requests": 7}},
              "dse": {"refine": {"top_k": 2}}, "sanity": {"severity": {"negative_value": "warning"}}}
    assert [p.id for p in build_study(edited).points] == ids
    assert all("study" not in p.params and "sweep" not in p.params for p in build_study(edited).points)
    moved = {**config, "seed": 2}
    assert not set(p.id for p in build_study(moved).points) & set(ids)
    assert expand_sweep({"grid": {"a": [1, 2]}, "zip": {"b": [3, 4], "c": [5, 6]}}) == [
        {"a": 1, "b": 3, "c": 5}, {"a": 1, "b": 4, "c": 6}, {"a": 2, "b": 3, "c": 5}, {"a": 2, "b": 4, "c": 6}]


@pytest.mark.parametrize("ranges, fragments", [
    ({"hardware.chiplet.freq_ghz": {"min": 2.0, "max": 1.0}}, ["sweep.sample.ranges.hardware.chiplet.freq_ghz",
                                                               "min 2.0 > max 1.0"]),
    ({"hardware.chiplet.freq": {"min": 1.0, "max": 2.0}}, ["unknown key path 'hardware.chiplet.freq'"]),
    ({"hardware.chiplet.dataflow": {"choices": ["os", "xs"]}}, ["dataflow.choices[1]", "'xs'",
                                                                "one of ['os', 'ws', 'is']"]),
    ({"hardware.chiplet.freq_ghz": {"min": 0.0, "max": 2.0}}, ["freq_ghz.min", "> 0"]),
    ({"hardware.memory.hbm.capacity_gib": {"min": 0, "max": 2, "log": True}}, ["log range with min 0", "min > 0"]),
    ({"eoe.router.k": {"min": 1, "choices": [1]}}, ["eoe.router.k", "either {min, max"]),
])
def test_bad_ranges_name_key_value_and_allowed(ranges, fragments):
    with pytest.raises(ConfigError) as info:
        build_study({"sweep": {"sample": sample(n=4, ranges=ranges)}})
    for fragment in fragments:
        assert fragment in str(info.value)
