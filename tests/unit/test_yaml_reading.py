"""Study and site files are read strictly (eoesim.yamlfile): a key given twice at any level, text that is not
UTF-8, a directory or invalid YAML is one ConfigError line naming the file, the line(s) and what is allowed.
"""
import pytest

from eoesim.errors import ConfigError
from eoesim.site import load_site_config
from eoesim.yamlfile import parse_yaml, read_yaml


@pytest.mark.parametrize("text, key, lines", [
    ("hardware:\n  a: 1\nhardware:\n  b: 2\n", "hardware", (1, 3)),
    ("x:\n  y:\n    z: 1\n    z: 2\n", "x.y.z", (3, 4)),
    ("e:\n  - {n: a}\n  - {n: b, n: c}\n", "e[1].n", (3, 3)),
    ("a: {b: [{c: 1}, {c: 2, d: 3, d: 4}]}\n", "a.b[1].d", (1, 1)),
])
def test_a_key_given_twice_at_any_level_names_its_path_and_both_lines(text, key, lines):
    with pytest.raises(ConfigError) as info:
        parse_yaml(text, "study.yaml")
    message = str(info.value)
    assert f"study.yaml:{lines[1]}: {key}: given twice (lines {lines[0]} and {lines[1]})" in message
    assert "allowed: each key once" in message and "\n" not in message


def test_anchors_and_merge_keys_are_not_duplicates():
    data = parse_yaml("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n", "s.yaml")
    assert data == {"base": {"x": 1, "y": 2}, "d": {"x": 1, "y": 3}}


def test_equal_text_of_different_types_is_two_keys():
    assert parse_yaml("1: a\n'1': b\n", "s.yaml") == {1: "a", "1": "b"}


def test_unreadable_files_are_one_line_each(tmp_path):
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("study: ok\nname: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.yaml:2: byte 0xe9 is not UTF-8 text; allowed: a study config"):
        read_yaml(latin1, "study config")
    with pytest.raises(ConfigError, match="is a directory; allowed: a study config file"):
        read_yaml(tmp_path, "study config")
    with pytest.raises(ConfigError, match="the study config file does not exist"):
        read_yaml(tmp_path / "missing.yaml", "study config")
    broken = tmp_path / "broken.yaml"
    broken.write_text("study: x\nsweep: {grid: [1, 2}\n")
    with pytest.raises(ConfigError) as info:
        read_yaml(broken, "study config")
    assert str(info.value).startswith(f"{broken}:2: not valid YAML: ") and "\n" not in str(info.value)


def test_the_site_config_is_read_the_same_way(tmp_path):
    site = tmp_path / "simulators.yaml"
    site.write_text("scalesim:\n  timeout_s: 5\nscalesim:\n  mode: python\n")
    with pytest.raises(ConfigError, match=r"simulators\.yaml:3: scalesim: given twice \(lines 1 and 3\)"):
        load_site_config(site)
