"""Study config validation, defaults, sweep expansion and design-point ids."""
import re

import pytest
import yaml

from eoesim.config import build_study, load_study, point_id
from eoesim.errors import ConfigError

# (config, substrings the error must contain: key path, bad value, what is allowed)
BAD_CONFIGS = [
    ({"colour": "red"}, ["colour", "unknown key", "allowed keys", "hardware"]),
    ({"hardware": {"chiplet": {"dataflow": "rs"}}}, ["hardware.chiplet.dataflow", "'rs'", "['os', 'ws', 'is']"]),
    ({"hardware": {"chiplet": {"array": [0, 32]}}}, ["hardware.chiplet.array[0]", "0", ">= 1"]),
    ({"hardware": {"chiplet": {"array": [32, 32, 4]}}}, ["hardware.chiplet.array", "[32, 32, 4]", "at most 2"]),
    ({"hardware": {"chiplet": {"array": "32x32"}}}, ["hardware.chiplet.array", "'32x32'", "type array"]),
    ({"hardware": {"chiplet": {"freq_ghz": 0}}}, ["hardware.chiplet.freq_ghz", "0", "> 0"]),
    ({"hardware": {"chiplet": {"sram_kib": {"ifmap": -5}}}}, ["hardware.chiplet.sram_kib.ifmap", "-5", ">= 1"]),
    ({"hardware": {"chiplet": {"sram_kib": {"psum": 5}}}}, ["hardware.chiplet.sram_kib.psum", "unknown key", "ifmap"]),
    ({"hardware": {"chiplet": {"interface_bandwidth": "auto"}}}, ["interface_bandwidth", "'auto'", "['calc', 'user']"]),
    ({"seed": -1}, ["seed", "-1", ">= 0"]),
    ({"seed": "one"}, ["seed", "'one'", "type integer"]),
    ({"study": "my study!"}, ["study", "'my study!'", "matching"]),
    ({"fidelity": {"scalesim": "exact"}}, ["fidelity.scalesim", "'exact'", "simulate", "surrogate", "auto"]),
    ({"fidelity": {"booksim": "auto"}}, ["fidelity.booksim", "unknown key", "scalesim"]),
    ({"workload": {"scalesim": {"phase": "train"}}}, ["workload.scalesim.phase", "'train'", "['prefill', 'decode']"]),
    ({"workload": {"scalesim": {"seq_len": 0}}}, ["workload.scalesim.seq_len", "0", ">= 1"]),
    ({"workload": {"scalesim": {"batch": 1.5}}}, ["workload.scalesim.batch", "1.5", "type integer"]),
    ({"eoe": {"experts": []}}, ["eoe.experts", "[]", "at least 1"]),
    ({"eoe": {"experts": [{"name": "x", "preset": "gpt-9"}]}}, ["eoe.experts[0].preset", "'gpt-9'", "tiny-25m"]),
    ({"eoe": {"experts": [{"preset": "tiny-25m"}]}}, ["eoe.experts[0]", "missing required key", "name"]),
    ({"eoe": {"experts": [{"name": "x", "layers": 2}]}}, ["eoe.experts[0]", "d_model", "preset"]),
    ({"eoe": {"experts": [{"name": "x", "preset": "tiny-25m", "heads": 3}]}}, ["eoe.experts[0].heads", "3", "divisor of d_model"]),
    ({"eoe": {"experts": [{"name": "x", "preset": "small-1b", "kv_heads": 5}]}}, ["eoe.experts[0].kv_heads", "5", "divisor of heads"]),
    ({"eoe": {"experts": [{"name": "x", "preset": "tiny-25m"}, {"name": "x", "preset": "tiny-25m"}]}},
     ["eoe.experts", "duplicate", "'x'", "unique"]),
    ({"sweep": {"grid": {"hardware.chiplet.dataflow": []}}}, ["sweep.grid.hardware.chiplet.dataflow", "[]", "at least 1"]),
    ({"sweep": {"grid": {"hardware.chiplet.dataflow": ["os", "xs"]}}},
     ["sweep.grid.hardware.chiplet.dataflow[1]", "'xs'", "['os', 'ws', 'is']"]),
    ({"sweep": {"grid": {"hardware.chiplet.arrays": [[8, 8]]}}},
     ["sweep.grid.hardware.chiplet.arrays", "unknown key path", "hardware.chiplet.array"]),
    ({"sweep": {"grid": {"study": ["a", "b"]}}}, ["sweep.grid.study", "unknown key path"]),
    ({"sweep": {"zip": {"workload.scalesim.seq_len": [8, 16], "workload.scalesim.batch": [1]}}},
     ["sweep.zip", "unequal length", "one common length"]),
    ({"sweep": {"grid": {"seed": [1]}, "zip": {"seed": [2]}}}, ["sweep", "both grid and zip", "['seed']"]),
    ({"sweep": {"grid": {"hardware.chiplet.dataflow": ["os", "os"]}}}, ["appears twice", "distinct"]),
    ({"sweep": {"random": {"seed": [1]}}}, ["sweep.random", "unknown key", "grid", "zip"]),
    ({"sweep": {"grid": {"hardware.chiplet.array": [[64, 64], [64, 2000]]}}},
     ["sweep.grid.hardware.chiplet.array[1][1]", "2000", "<= 1024"]),
]


@pytest.mark.parametrize("config, expected", BAD_CONFIGS, ids=[str(i) for i in range(len(BAD_CONFIGS))])
def test_bad_config_is_rejected_with_key_value_and_allowed(config, expected):
    with pytest.raises(ConfigError) as info:
        build_study(config)
    message = str(info.value)
    for part in expected:
        assert part in message, f"{part!r} not in error: {message}"


def test_there_are_at_least_15_bad_configs():
    assert len(BAD_CONFIGS) >= 15


def test_defaults_are_filled_in():
    study = build_study({})
    (point,) = study.points
    assert study.name == "eoe_default"
    assert point.params["hardware"]["chiplet"]["array"] == [128, 128]
    assert point.params["hardware"]["chiplet"]["sram_kib"] == {"ifmap": 256, "filter": 256, "ofmap": 128}
    assert point.params["workload"]["scalesim"] == {"phase": "prefill", "seq_len": 64, "batch": 1}
    assert study.config["fidelity"]["scalesim"] == "simulate"


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
