"""Golden tests of the Ramulator stats parsers on real outputs (tests/golden/ramulator, see PROVENANCE.md)."""
from __future__ import annotations

import json
import math
import re

import pytest
import yaml

from eoesim.errors import ParseError
from eoesim.simulators.ramulator_stats import (
    V20_CONTROLLER_STATS,
    load_v20_stdout,
    load_v21_stats,
    read_stats,
    yaml_after_log,
)


@pytest.fixture
def v20(golden):
    return golden / "ramulator" / "v2.0"


@pytest.fixture
def v21(golden):
    return golden / "ramulator" / "v2.1"


def file_values_v20(text: str) -> dict[int, dict[str, float]]:
    """Independent reading of the v2.0 stdout: every `<stat>_<ch>: value` line under each `id: Channel ch`."""
    values: dict[int, dict[str, float]] = {}
    ch = None
    for line in text.splitlines():
        m = re.match(r"^\s+id: Channel (\d+)$", line)
        if m:
            ch = int(m.group(1))
            values[ch] = {}
            continue
        m = re.match(r"^\s+(\w+)_(\d+): (\S+)$", line)
        if ch is not None and m and int(m.group(2)) == ch:
            values[ch][m.group(1)] = float(m.group(3).replace(".nan", "nan"))
    return values


# ----------------------------------------------------------------------------------- v2.0 stdout YAML

def test_v20_every_channel_parsed_with_file_values(v20):
    path = v20 / "hbm2_loadstore" / "stdout.txt"
    rows = read_stats("v2.0", path, tick_ps=1000, request_bytes=64, expected_channels=8)
    assert list(rows["channel"]) == list(range(8))
    expected = file_values_v20(path.read_text())
    assert sorted(expected) == list(range(8))
    columns = {"num_read_reqs": "read_requests", "num_write_reqs": "write_requests",
               "read_latency": "read_latency_sum_cycles", "avg_read_latency": "sim_avg_read_latency_cycles",
               "row_hits": "row_hits", "row_misses": "row_misses", "row_conflicts": "row_conflicts",
               "read_row_hits": "read_row_hits", "write_row_conflicts": "write_row_conflicts",
               "queue_len_avg": "queue_len_avg", "read_queue_len_avg": "read_queue_len_avg",
               "write_queue_len_avg": "write_queue_len_avg", "priority_queue_len_avg": "priority_queue_len_avg"}
    for ch in range(8):
        row = rows.iloc[ch]
        for stat, col in columns.items():
            want, got = expected[ch][stat], row[col]
            assert (math.isnan(want) and math.isnan(got)) or got == pytest.approx(want, rel=1e-9), (ch, stat)


def test_v20_sample_values_and_derived_columns(v20):
    rows = read_stats("v2.0", v20 / "hbm2_loadstore" / "stdout.txt", 1000, 64, 8).set_index("channel")
    c0 = rows.loc[0]
    assert (c0.read_requests, c0.write_requests) == (9302, 3023)
    assert (c0.row_hits, c0.row_misses, c0.row_conflicts) == (6682, 475, 2792)
    assert c0.sim_avg_read_latency_cycles == pytest.approx(72.4668884)
    assert c0.queue_len_avg == pytest.approx(42.6941566)
    # derived: served = row-classified requests; corrected latency = sum / served
    assert c0.reads_served == 4598 + 375 + 1971
    assert c0.writes_served == 2084 + 100 + 821
    assert c0.avg_read_latency_cycles == pytest.approx(674087 / 6944)
    assert c0.avg_read_latency_ns == pytest.approx(674087 / 6944 * 1.0)
    assert c0.row_hit_rate == pytest.approx(6682 / (6682 + 475 + 2792))
    assert c0.achieved_bandwidth_bytes_per_s == pytest.approx((6944 + 3005) * 64 / (24470 * 1e-9))
    c4 = rows.loc[4]
    assert (c4.read_requests, c4.write_requests, c4.read_latency_sum_cycles) == (9160, 2986, 654966)
    assert (rows.memory_system_cycles == 24470).all()
    assert (rows.system_read_requests == 13991).all() and (rows.system_write_requests == 6009).all()
    assert rows.system_achieved_bandwidth_bytes_per_s.iloc[0] == pytest.approx(20000 * 64 / 24470e-9)
    assert rows.system_avg_read_latency_cycles.iloc[0] == pytest.approx((674087 + 654966) / (6944 + 7006))
    assert rows.sim_time_ns.iloc[0] == pytest.approx(24470.0)


def test_v20_idle_channels_stay_nan_not_zero(v20):
    rows = read_stats("v2.0", v20 / "hbm2_loadstore" / "stdout.txt", 1000, 64, 8).set_index("channel")
    for ch in (1, 2, 3, 5, 6, 7):
        assert math.isnan(rows.loc[ch, "sim_avg_read_latency_cycles"])  # `.nan` in the file
        assert math.isnan(rows.loc[ch, "avg_read_latency_cycles"])
        assert math.isnan(rows.loc[ch, "row_hit_rate"])
        assert rows.loc[ch, "reads_served"] == 0 and rows.loc[ch, "achieved_bandwidth_bytes_per_s"] == 0.0


def test_naive_yaml_load_loses_channels_but_parser_keeps_them(v20):
    """The duplicate-key trap: PyYAML keeps only the LAST `Controller:` (Channel 7, an idle one)."""
    text = (v20 / "hbm2_loadstore" / "stdout.txt").read_text()
    body, start = yaml_after_log(text)
    assert start == 3  # two spdlog lines precede the YAML
    naive = yaml.safe_load(body)["MemorySystem"]["Controller"]
    assert isinstance(naive, dict) and naive["id"] == "Channel 7"
    assert "num_read_reqs_0" not in naive  # channel 0's 9302 reads are gone
    raw = load_v20_stdout(v20 / "hbm2_loadstore" / "stdout.txt")
    assert sorted(raw.controllers) == list(range(8))
    assert raw.controllers[0]["num_read_reqs"] == 9302
    assert sum(c["num_write_reqs"] for c in raw.controllers.values()) == 3023 + 2986


def test_v20_single_channel_simpleo3_sample(v20):
    rows = read_stats("v2.0", v20 / "example_simpleO3" / "stdout.txt", 833, 64, 1)
    assert len(rows) == 1
    r = rows.iloc[0]
    assert r.frontend == "SimpleO3" and r.channel == 0
    assert (r.read_requests, r.reads_served, r.read_latency_sum_cycles) == (6, 6, 279)
    assert r.avg_read_latency_cycles == pytest.approx(46.5) == r.sim_avg_read_latency_cycles
    assert r.avg_read_latency_ns == pytest.approx(46.5 * 0.833)
    assert (r.row_hits, r.row_misses, r.row_conflicts) == (2, 4, 0)
    assert r.memory_system_cycles == 81306


def test_v20_every_required_stat_present_in_sample(v20):
    values = file_values_v20((v20 / "hbm2_loadstore" / "stdout.txt").read_text())
    for ch, stats in values.items():
        assert set(V20_CONTROLLER_STATS) <= set(stats), ch


# --------------------------------------------------------------------------------- v2.1 stats files

def test_v21_json_every_channel_with_file_values(v21):
    path = v21 / "hbm2_loadstore" / "stats.json"
    doc = json.loads(path.read_text())
    rows = read_stats("v2.1", path, 1000, 32, 8)
    assert list(rows["channel"]) == list(range(8))
    for ctrl in doc["memory_system"]["controller"]:
        ch = int(ctrl["id"].split()[-1])
        row = rows.iloc[ch]
        assert row.memory_system_cycles == ctrl["cycles"] == 20956
        assert row.read_requests == ctrl["num_read_reqs"]
        assert row.write_requests == ctrl["num_write_reqs"]
        assert row.reads_served == ctrl["num_read_reqs_served"]
        assert row.writes_served == ctrl["num_write_reqs_served"]
        assert row.read_latency_sum_cycles == ctrl["read_latency"]
        assert row.sim_avg_read_latency_cycles == ctrl["avg_read_latency"]
        assert (row.row_hits, row.row_misses, row.row_conflicts) == (
            ctrl["row_hits"], ctrl["row_misses"], ctrl["row_conflicts"])
        assert row.queue_len_avg == ctrl["queue_len_avg"]
        # our bandwidth formula reproduces the simulator's own throughput (float32 there)
        assert row.achieved_bandwidth_bytes_per_s == pytest.approx(ctrl["total_throughput_MBps"] * 1e6, rel=1e-6,
                                                                   abs=1.0)
    c0 = rows.iloc[0]
    assert (c0.read_requests, c0.write_requests, c0.reads_served) == (3475, 1477, 3468)
    assert c0.avg_read_latency_cycles == pytest.approx(199353 / 3468)
    assert (rows.system_read_requests == 13991).all() and (rows.system_write_requests == 6009).all()


def test_v21_idle_channel_zero_latency_becomes_nan_in_corrected_column(v21):
    rows = read_stats("v2.1", v21 / "hbm2_loadstore" / "stats.json", 1000, 32, 8).set_index("channel")
    for ch in (1, 3, 5, 7):
        assert rows.loc[ch, "sim_avg_read_latency_cycles"] == 0.0  # what 2.1 prints
        assert math.isnan(rows.loc[ch, "avg_read_latency_cycles"])


def test_v21_yaml_and_json_agree(v21):
    from_json = read_stats("v2.1", v21 / "hbm2_loadstore" / "stats.json", 1000, 32, 8)
    from_yaml = read_stats("v2.1", v21 / "hbm2_loadstore" / "stats.yaml", 1000, 32, 8)
    ints = ["channel", "memory_system_cycles", "read_requests", "write_requests", "reads_served", "writes_served",
            "read_latency_sum_cycles", "row_hits", "row_misses", "row_conflicts"]
    assert from_json[ints].equals(from_yaml[ints])
    # JSON keeps 6 decimals, YAML 6 significant digits
    assert from_yaml["queue_len_avg"].to_numpy() == pytest.approx(from_json["queue_len_avg"].to_numpy(), rel=1e-5,
                                                                  abs=1e-6)


# ------------------------------------------------------------------------------- malformed / truncated

def test_v20_truncated_stdout_is_a_parse_error(v20, tmp_path):
    text = (v20 / "hbm2_loadstore" / "stdout.txt").read_text()
    (tmp_path / "cut_in_block.txt").write_text(text[: text.index("id: Channel 5")])
    with pytest.raises(ParseError, match=r"cut_in_block.txt:\d+: .*truncated"):
        load_v20_stdout(tmp_path / "cut_in_block.txt", expected_channels=8)
    (tmp_path / "cut_between.txt").write_text(text[: text.index("  Controller:\n    impl: Generic\n    id: Channel 5")])
    with pytest.raises(ParseError, match=r"cut_between.txt:\d+: expected statistics of channels 0..7, found "
                                         r"\[0, 1, 2, 3, 4\] \(missing \[5, 6, 7\]; output truncated\?\)"):
        load_v20_stdout(tmp_path / "cut_between.txt", expected_channels=8)


def test_v20_missing_channels_against_expected_count(v20):
    with pytest.raises(ParseError, match=r"missing \[8, 9"):
        load_v20_stdout(v20 / "hbm2_loadstore" / "stdout.txt", expected_channels=16)


def test_v20_no_stats_yaml(tmp_path, v20):
    (tmp_path / "stdout.txt").write_text((v20 / "failure_examples" / "missing_trace_out.txt").read_text())
    with pytest.raises(ParseError, match="no line 'Frontend:'"):
        load_v20_stdout(tmp_path / "stdout.txt")


def test_v20_malformed_yaml_names_the_line(tmp_path, v20):
    lines = (v20 / "example_simpleO3" / "stdout.txt").read_text().splitlines()
    lines[30] = "    row_hits_0: [unclosed"
    (tmp_path / "stdout.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(ParseError, match=r"stdout.txt:3\d: stats YAML is malformed"):
        load_v20_stdout(tmp_path / "stdout.txt")


def test_v20_non_numeric_stat_is_a_parse_error(tmp_path, v20):
    text = (v20 / "example_simpleO3" / "stdout.txt").read_text().replace("row_hits_0: 2", "row_hits_0: lots")
    (tmp_path / "stdout.txt").write_text(text)
    with pytest.raises(ParseError, match="row_hits_0 is not a number"):
        load_v20_stdout(tmp_path / "stdout.txt")


def test_v21_truncated_json_names_the_line(tmp_path, v21):
    text = (v21 / "hbm2_loadstore" / "stats.json").read_text()
    (tmp_path / "stats.json").write_text(text[: len(text) // 2])
    with pytest.raises(ParseError, match=r"stats.json:\d+: stats JSON is malformed"):
        load_v21_stats(tmp_path / "stats.json")


def test_v21_missing_stats_file(tmp_path):
    with pytest.raises(ParseError, match="stats file is missing"):
        load_v21_stats(tmp_path / "stats.json")


def test_v21_duplicate_channel_is_a_parse_error(tmp_path, v21):
    doc = json.loads((v21 / "hbm2_loadstore" / "stats.json").read_text())
    doc["memory_system"]["controller"][1]["id"] = "Channel 0"
    (tmp_path / "stats.json").write_text(json.dumps(doc))
    with pytest.raises(ParseError, match="channel 0 is reported twice"):
        load_v21_stats(tmp_path / "stats.json")
