"""Golden tests of the Garnet stats parser on the real gem5 v24.0.0.1 sample (tests/golden/garnet/).

The sample's stats.txt/config.json are stored gzip-compressed and decompressed into tmp_path. Failure
tests damage a copy of the real file the way the documented failure modes do (truncation, a second
dump, a repeated line); none of them asserts simulator results.
"""
from __future__ import annotations

import gzip
import math
import re
import shutil

import pandas as pd
import pytest

from eoesim.errors import ParseError
from eoesim.simulators.garnet_stats import _latency_columns, parse_run, read_config, read_stats

SAMPLE = "mesh4x4_uniform_random_inj0.1"
NET = "system.ruby.network."


@pytest.fixture
def m5out(golden, tmp_path):
    """The sample's m5out/ (stats.txt, config.json) restored in tmp_path."""
    out = tmp_path / "m5out"
    out.mkdir()
    for name in ("stats.txt", "config.json"):
        with gzip.open(golden / "garnet" / SAMPLE / f"{name}.gz", "rb") as src, open(out / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return out


@pytest.fixture
def rows(m5out):
    return parse_run(m5out / "stats.txt", m5out / "config.json")


def file_scalar(text: str, name: str) -> float:
    """Independent reading of one scalar stat line: '<name> <value> ...'."""
    match = re.search(rf"^{re.escape(name)}\s+(\S+)", text, re.MULTILINE)
    assert match, name
    return float(match.group(1))


def file_vector(text: str, name: str) -> list[float]:
    """Independent reading of one per-vnet line: '<name> | v ... | v ... (Unspecified)'."""
    match = re.search(rf"^{re.escape(name)}\s+\|(.*)$", text, re.MULTILINE)
    assert match, name
    return [float(col.split()[0]) for col in match.group(1).split("|")]


def test_sample_is_the_documented_run(m5out):
    cfg = read_config(m5out / "config.json")
    assert (cfg.topology, cfg.num_cpus, cfg.num_dirs, cfg.synthetic) == ("Mesh_XY", 16, 16, "uniform_random")
    assert (cfg.injection_rate, cfg.inj_vnet, cfg.sim_ticks_requested) == (0.1, 0, 10_000_000)
    assert (cfg.ruby_clock_ticks, cfg.sys_clock_ticks, cfg.num_vnets, cfg.flit_size_bytes) == (1000, 1000, 3, 16)
    assert (cfg.num_routers, cfg.num_int_links, cfg.num_ext_links) == (16, 48, 32)


def test_total_row_equals_the_file(rows, m5out):
    text = (m5out / "stats.txt").read_text()
    total = rows[rows["vnet"] == "all"].iloc[0]
    for stat, col in [("packets_injected::total", "packets_injected"), ("packets_received::total", "packets_received"),
                      ("flits_injected::total", "flits_injected"), ("flits_received::total", "flits_received"),
                      ("average_packet_latency", "average_packet_latency_ticks"),
                      ("average_packet_network_latency", "average_packet_network_latency_ticks"),
                      ("average_packet_queueing_latency", "average_packet_queueing_latency_ticks"),
                      ("average_flit_latency", "average_flit_latency_ticks"),
                      ("average_flit_network_latency", "average_flit_network_latency_ticks"),
                      ("average_flit_queueing_latency", "average_flit_queueing_latency_ticks"),
                      ("average_hops", "average_hops"), ("ext_in_link_utilization", "ext_in_link_flits"),
                      ("ext_out_link_utilization", "ext_out_link_flits"), ("int_link_utilization", "int_link_flits"),
                      ("avg_link_utilization", "link_flits_per_cycle"), ("avg_vc_load::total", "avg_vc_load")]:
        assert total[col] == file_scalar(text, NET + stat), stat
    assert total["sim_ticks"] == file_scalar(text, "simTicks") == 10_000_000
    assert total["ticks_per_s"] == file_scalar(text, "simFreq") == 1e12


def test_total_row_values_and_derived_cycles(rows):
    total = rows[rows["vnet"] == "all"].iloc[0]
    assert (total["packets_injected"], total["packets_received"]) == (15976, 15962)
    assert (total["flits_injected"], total["flits_received"]) == (15976, 15962)
    assert total["average_packet_latency_ticks"] == 10090.778098
    assert total["average_packet_latency_cycles"] == pytest.approx(10.090778098, rel=1e-12)
    assert total["average_packet_latency_ns"] == pytest.approx(10.090778098, rel=1e-12)
    assert total["average_packet_network_latency_cycles"] == pytest.approx(8.090590152, rel=1e-12)
    assert total["average_packet_queueing_latency_cycles"] == pytest.approx(2.000187946, rel=1e-12)
    assert total["average_flit_latency_cycles"] == pytest.approx(10.090778098, rel=1e-12)
    assert total["average_hops"] == 2.502067
    assert (total["ext_in_link_flits"], total["ext_out_link_flits"], total["int_link_flits"]) == (15974, 15965, 39964)
    assert total["link_flits_per_cycle"] == 7.1903
    # gem5's avg_link_utilization is the sum over all 80 network links (48 int + 2 x 16 ext) of flits/cycle
    assert total["link_flits_per_cycle"] == pytest.approx((15974 + 15965 + 39964) / 10_000)
    assert (total["network_cycles"], total["tester_cycles"]) == (10_000, 10_000)
    assert total["int_link_utilization"] == pytest.approx(39964 / 48 / 10_000)
    # the calibration row of this same run (computed outside this project) gives the same derived values
    assert total["reception_rate_pkts_per_node_per_cycle"] == pytest.approx(0.0997625, rel=1e-12)
    assert total["offered_rate_pkts_per_node_per_cycle"] == pytest.approx(0.09985, rel=1e-12)
    assert total["acceptance_ratio"] == pytest.approx(0.997625, rel=1e-12)
    assert total["delivered_fraction"] == pytest.approx(15962 / 15976)
    assert not total["saturated"]
    assert total["saturated"] is not pd.NA


def test_per_vnet_rows_equal_the_file(rows, m5out):
    text = (m5out / "stats.txt").read_text()
    vnets = rows[rows["vnet"] != "all"].set_index("vnet")
    assert list(vnets.index) == ["0", "1", "2"]
    for stat in ("packets_injected", "packets_received", "flits_injected", "flits_received"):
        assert list(vnets[stat]) == file_vector(text, NET + stat), stat
    assert file_vector(text, NET + "packets_received") == [15962, 0, 0]
    pairs = [("average_packet_vnet_latency", "average_packet_network_latency_ticks"),
             ("average_packet_vqueue_latency", "average_packet_queueing_latency_ticks"),
             ("average_flit_vnet_latency", "average_flit_network_latency_ticks"),
             ("average_flit_vqueue_latency", "average_flit_queueing_latency_ticks")]
    for stat, col in pairs:
        expected = file_vector(text, NET + stat)
        assert vnets.loc["0", col] == expected[0]
        assert math.isnan(expected[1]) and math.isnan(vnets.loc["1", col])  # gem5 prints nan for an empty vnet
    v0 = vnets.loc["0"]
    assert v0["average_packet_network_latency_cycles"] == pytest.approx(8.090590152, rel=1e-12)
    assert v0["average_packet_latency_ticks"] == pytest.approx(8090.590152 + 2000.187946, rel=1e-12)
    assert v0["reception_rate_pkts_per_node_per_cycle"] == pytest.approx(0.0997625, rel=1e-12)
    assert vnets.loc["2", "packets_injected"] == 0 and vnets.loc["2", "reception_rate_pkts_per_node_per_cycle"] == 0
    assert vnets["saturated"].isna().all() and vnets["average_hops"].isna().all()
    assert set(rows["topology"]) == {"Mesh_XY"} and set(rows["sim_ticks"]) == {10_000_000}


def test_saturation_flag_follows_the_threshold(m5out):
    total = parse_run(m5out / "stats.txt", m5out / "config.json", saturation_threshold=0.999)
    assert bool(total.loc[total["vnet"] == "all", "saturated"].iloc[0])  # acceptance 0.9976 < 0.999


def test_latency_conversion_uses_ruby_clock_for_cycles_and_simfreq_for_ns():
    cols = _latency_columns("x", 10_000.0, ruby_clock_ticks=500, ticks_per_s=1e12)  # 2 GHz network clock
    assert cols == {"x_ticks": 10_000.0, "x_cycles": 20.0, "x_ns": 10.0}


# ---- damaged copies of the real file ----------------------------------------------------------------

def test_truncated_stats_is_a_parse_error_naming_file_and_line(m5out):
    path = m5out / "stats.txt"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: len(lines) // 2])[:-7])  # cut mid-line, as a killed run leaves it
    with pytest.raises(ParseError, match=r"stats\.txt:\d+: truncated: no 'End Simulation Statistics'") as err:
        parse_run(path, m5out / "config.json")
    assert err.value.line == len(lines) // 2


def test_stats_cut_before_end_marker_is_a_parse_error(m5out):
    path = m5out / "stats.txt"
    text = path.read_text()
    path.write_text(text[: text.index("---------- End Simulation")])
    with pytest.raises(ParseError, match="truncated"):
        read_stats(path)


def test_second_dump_is_a_parse_error(m5out):
    path = m5out / "stats.txt"
    text = path.read_text()
    path.write_text(text + text)  # what a second m5.stats.dump() appends
    n_lines = len(text.splitlines())
    with pytest.raises(ParseError, match="duplicate statistics dump") as err:
        read_stats(path)
    assert err.value.line == n_lines + 2


def test_duplicate_stat_is_a_parse_error_with_line(m5out):
    path = m5out / "stats.txt"
    lines = path.read_text().splitlines(keepends=True)
    i = next(i for i, ln in enumerate(lines) if ln.startswith(NET + "average_hops"))
    lines.insert(i + 1, lines[i])
    path.write_text("".join(lines))
    with pytest.raises(ParseError, match=r"duplicate stat system\.ruby\.network\.average_hops \(first at line") as err:
        read_stats(path)
    assert err.value.line == i + 2


def test_per_vnet_line_with_a_missing_column_is_a_parse_error(m5out):
    path = m5out / "stats.txt"
    text = path.read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith(NET + "average_packet_vnet_latency"))
    path.write_text(text.replace(line, line.rsplit("|", 1)[0] + " (Unspecified)"))
    with pytest.raises(ParseError, match=r"average_packet_vnet_latency: 2 per-vnet values, expected 3"):
        parse_run(path, m5out / "config.json")


def test_empty_stats_and_missing_or_truncated_config(m5out):
    (m5out / "stats.txt").write_text("")
    with pytest.raises(ParseError, match="no 'Begin Simulation Statistics' marker"):
        read_stats(m5out / "stats.txt")
    text = (m5out / "config.json").read_text()
    (m5out / "config.json").write_text(text[: len(text) // 3])
    with pytest.raises(ParseError, match=r"config\.json:\d+: not valid JSON"):
        read_config(m5out / "config.json")
    (m5out / "config.json").unlink()
    with pytest.raises(ParseError, match="config.json is missing"):
        read_config(m5out / "config.json")


@pytest.mark.parametrize("stat", ["average_packet_latency", "average_hops"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_nan_headline_metric_is_a_parse_error_so_the_run_is_never_published(m5out, stat, value):
    """Issue 16.2: a stats.txt whose network-wide latency or hops is nan (the real sample with that one value
    replaced, as gem5 prints it when nothing was measured) was published and only failed the later sanity."""
    path = m5out / "stats.txt"
    text = path.read_text()
    line = re.search(rf"^{re.escape(NET + stat)}\s+\S+", text, re.MULTILINE)
    path.write_text(text[:line.start()] + f"{NET}{stat} {value}" + text[line.end():])
    lineno = text[:line.start()].count("\n") + 1
    with pytest.raises(ParseError, match=rf"stats\.txt:{lineno}: {re.escape(NET + stat)} is {value} \(network "
                                         r"total; \d+ packets received\): gem5 measured no packet"):
        parse_run(path, m5out / "config.json")
