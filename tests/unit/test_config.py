"""Study config validation, defaults, sweep expansion and design-point ids."""
import re

import pytest
import yaml

from eoesim.config import build_study, load_study, point_id
from eoesim.errors import ConfigError


def test_defaults_are_filled_in():
    study = build_study({})
    (point,) = study.points
    assert study.name == "eoe_default"
    assert point.params["hardware"]["chiplet"]["array"] == [128, 128]
    assert point.params["hardware"]["chiplet"]["sram_kib"] == {"ifmap": 256, "filter": 256, "ofmap": 128}
    assert point.params["workload"]["scalesim"] == {"phase": "prefill", "seq_len": 64, "batch": 1}
    assert study.config["fidelity"]["scalesim"] == "simulate"


def test_whole_floats_for_integer_keys_become_ints():
    """YAML reads ``seed: 1.0`` and ``1.0e+4`` as floats; JSON Schema accepts them as integers, but numpy's
    seeding (the sampled sweep) and ``range`` do not: they become ints, and the point ids do not change."""
    def study(whole):
        sample = {"method": "lhs", "n": whole(4), "ranges": {"eoe.router.k": {"min": 1, "max": 2}}}
        return build_study({"seed": whole(3), "eoe": {"requests": {"count": whole(40)}},
                            "hardware": {"package": {"grid": [whole(2), whole(2)]}}, "sweep": {"sample": sample}})

    floats, ints = study(float), study(int)
    assert [p.id for p in floats.points] == [p.id for p in ints.points]
    params = floats.points[0].params
    assert type(params["seed"]) is int and type(params["eoe"]["requests"]["count"]) is int
    assert all(type(n) is int for n in params["hardware"]["package"]["grid"])
    with pytest.raises(ConfigError, match="seed"):
        build_study({"seed": 1.5})


def test_grid_is_a_cartesian_product_and_zip_pairs_values():
    study = build_study({"sweep": {
        "grid": {"hardware.chiplet.array": [[32, 32], [64, 64]], "hardware.chiplet.dataflow": ["os", "ws", "is"]},
        "zip": {"workload.scalesim.seq_len": [16, 32], "workload.scalesim.batch": [4, 2]},
    }})
    assert len(study.points) == 2 * 3 * 2
    pairs = {(p.params["workload"]["scalesim"]["seq_len"], p.params["workload"]["scalesim"]["batch"])
             for p in study.points}
    assert pairs == {(16, 4), (32, 2)}
    combos = {(tuple(p.params["hardware"]["chiplet"]["array"]), p.params["hardware"]["chiplet"]["dataflow"])
              for p in study.points}
    assert len(combos) == 6


def test_point_ids_are_12_hex_of_canonical_params_and_stable():
    a = build_study({"sweep": {"grid": {"hardware.chiplet.dataflow": ["os", "ws"]}}})
    b = build_study({"study": "other", "sweep": {"grid": {"hardware.chiplet.dataflow": ["ws", "os"]}}})
    assert all(re.fullmatch(r"[0-9a-f]{12}", p.id) for p in a.points)
    assert {p.id for p in a.points} == {p.id for p in b.points}  # name and sweep order do not matter
    assert a.points[0].id == point_id(a.points[0].params)
    assert a.points[0].id != a.points[1].id


def test_explicit_expert_fields_override_the_preset():
    study = build_study({"eoe": {"experts": [{"name": "e", "preset": "tiny-25m", "d_ff": 2048}]}})
    (expert,) = study.points[0].experts
    assert (expert.d_model, expert.d_ff, expert.heads) == (256, 2048, 4)


def test_load_study_reports_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_study(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("study: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_study(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_study(listy)


def test_the_shipped_default_study_is_valid(repo):
    study = load_study(repo / "config" / "config.yaml")
    assert len(study.points) == 9
    raw = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    assert set(raw["sweep"]["grid"]) == {"hardware.chiplet.array", "hardware.chiplet.dataflow"}
