"""SCALE-Sim report parsing on real reports (v3 from PyPI, v2 from source) and damaged copies of them."""
import shutil

import pytest

from eoesim.errors import ParseError
from eoesim.simulators.scalesim_reports import (
    BANDWIDTH_REPORT,
    COMPUTE_REPORT,
    DETAILED_ACCESS_REPORT,
    read_reports,
)


def test_v3_report_values_equal_the_files(golden):
    t = read_reports(golden / "scalesim" / "v3")
    assert len(t) == 1
    row = t.iloc[0]
    assert row["scalesim_report_version"] == "v3"
    assert row["total_cycles_incl_prefetch"] == 81226
    assert row["total_cycles"] == 77111
    assert row["stall_cycles"] == 0
    assert row["overall_util_pct"] == pytest.approx(21.008675805008366)
    assert row["mapping_efficiency_pct"] == 100.0
    assert row["compute_util_pct"] == pytest.approx(16.666666666666803)
    assert row["ifmap_dram_bw_words_per_cycle"] == pytest.approx(9.570701932858595)
    assert row["ofmap_dram_bw_words_per_cycle"] == pytest.approx(7.093923181127789)
    assert row["dram_ifmap_reads_words"] == 9408
    assert row["dram_filter_reads_words"] == 663552
    assert row["dram_ofmap_writes_words"] == 518431
    assert row["sram_filter_reads_words"] == 663552
    assert row["dram_ifmap_start_cycle"] == -983.0


def test_v3_cycles_match_scalesim_stdout(golden):
    stdout = (golden / "scalesim" / "v3" / "stdout.txt").read_text()
    row = read_reports(golden / "scalesim" / "v3").iloc[0]
    assert f"Total cycles: {row['total_cycles_incl_prefetch']}" in stdout
    assert f"Compute cycles: {row['total_cycles']}" in stdout


def test_v2_report_values_equal_the_files(golden):
    t = read_reports(golden / "scalesim" / "v2")
    row = t.iloc[0]
    assert row["scalesim_report_version"] == "v2"
    assert row["total_cycles"] == 2543
    assert row["total_cycles_incl_prefetch"] != row["total_cycles_incl_prefetch"]  # NaN: v2 has no such column
    assert row["overall_util_pct"] == pytest.approx(80.5348014156508)
    assert row["dram_ofmap_writes_words"] == 8192
    assert row["ofmap_dram_bw_words_per_cycle"] == 32.0


@pytest.fixture
def v3_copy(golden, tmp_path):
    for name in (COMPUTE_REPORT, BANDWIDTH_REPORT, DETAILED_ACCESS_REPORT):
        shutil.copy(golden / "scalesim" / "v3" / name, tmp_path / name)
    return tmp_path


@pytest.mark.parametrize("report", [COMPUTE_REPORT, BANDWIDTH_REPORT, DETAILED_ACCESS_REPORT])
def test_truncated_report_names_the_file_and_line(v3_copy, report):
    path = v3_copy / report
    text = path.read_text()
    path.write_text(text[: len(text) - 25])
    with pytest.raises(ParseError, match=rf"{report}:2"):
        read_reports(v3_copy)


@pytest.mark.parametrize("report", [COMPUTE_REPORT, BANDWIDTH_REPORT, DETAILED_ACCESS_REPORT])
def test_empty_report_is_a_parse_error(v3_copy, report):
    (v3_copy / report).write_text("")
    with pytest.raises(ParseError, match=rf"{report}:1: report is empty"):
        read_reports(v3_copy)


def test_header_only_report_is_a_parse_error(v3_copy):
    path = v3_copy / COMPUTE_REPORT
    path.write_text(path.read_text().splitlines()[0] + "\n")
    with pytest.raises(ParseError, match="no layer rows"):
        read_reports(v3_copy)


def test_garbled_field_is_a_parse_error(v3_copy):
    path = v3_copy / COMPUTE_REPORT
    path.write_text(path.read_text().replace("81226", "81x26"))
    with pytest.raises(ParseError, match=rf"{COMPUTE_REPORT}:2: non-numeric"):
        read_reports(v3_copy)


def test_unknown_header_is_a_parse_error(v3_copy):
    path = v3_copy / BANDWIDTH_REPORT
    path.write_text(path.read_text().replace("Avg IFMAP SRAM BW", "Average IFMAP SRAM"))
    with pytest.raises(ParseError, match=rf"{BANDWIDTH_REPORT}:1: unexpected header"):
        read_reports(v3_copy)


def test_missing_report_is_a_parse_error(v3_copy):
    (v3_copy / DETAILED_ACCESS_REPORT).unlink()
    with pytest.raises(ParseError, match=rf"{DETAILED_ACCESS_REPORT}: report file is missing"):
        read_reports(v3_copy)


def test_reports_covering_different_layers_are_a_parse_error(v3_copy):
    path = v3_copy / BANDWIDTH_REPORT
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[1].replace("0,", "1,", 1) + "\n")
    with pytest.raises(ParseError, match="differ"):
        read_reports(v3_copy)
