"""Parsing RapidChiplet's results JSON (golden samples from real runs) and BookSim's stdout."""
import json

import pandas as pd
import pytest

from eoesim.errors import ParseError
from eoesim.simulators.rapidchiplet_booksim import parse_booksim_stdout
from eoesim.simulators.rapidchiplet_results import ANALYTIC_METRICS, BOOKSIM_METRIC, parse_results

ANALYTIC = "rapidchiplet/analytic/sample_analytic.json"
BOOKSIM = "rapidchiplet/booksim/results_sample_exp_2x2.json"
ALL = list(ANALYTIC_METRICS) + [BOOKSIM_METRIC]


def record(frame, kind):
    return frame[frame["record"] == kind].reset_index(drop=True)


def test_analytic_sample(golden):
    rows = parse_results(golden / ANALYTIC)
    pkg = record(rows, "package").iloc[0]
    assert pkg["chip_width_mm"] == pkg["chip_height_mm"] == 35.64090791667644
    assert pkg["total_chiplet_area_mm2"] == 1238.4000000000003
    assert pkg["total_interposer_area_mm2"] == 1270.2743171250092
    assert pkg["total_power_W"] == pkg["total_chiplet_power_W"] == 328.0 and pkg["total_interposer_power_W"] == 0.0
    assert pkg["link_count"] == 32
    assert (pkg["link_length_min_mm"], pkg["link_length_avg_mm"], pkg["link_length_max_mm"]) == \
        (1.438, 9.666925622461807, 34.353)
    assert pkg["link_bw_min_bits_per_cycle"] == pkg["link_bw_max_bits_per_cycle"] == 1929.0
    assert pkg["total_cost_usd"] == 49.841678073190025
    assert (pkg["interposer_cost_usd"], pkg["interposer_dies_per_wafer"], pkg["interposer_yield"]) == \
        (14.623177840802889, 123, 0.6115694911362226)
    latency = (pkg["latency_min_cycles"], pkg["latency_avg_cycles"], pkg["latency_max_cycles"])
    assert latency == (34, 70.00000000000011, 134)
    assert pkg["aggregate_throughput_bits_per_cycle"] == 17146.66666666662
    assert pkg["rc_total_time_taken_s"] == 0.013135433197021484
    chip = record(rows, "chiplet_type")
    assert list(chip["chiplet_type"]) == ["example_experiment"]
    assert (chip.loc[0, "chiplet_dies_per_wafer"], chip.loc[0, "chiplet_yield"], chip.loc[0, "chiplet_cost_usd"]) == \
        (367, 0.7209805335255948, 1.8896457765667578)
    links = record(rows, "link_length")
    assert dict(zip(links["link_length_mm"], links["links_of_length"])) == {1.438: 24, 34.353: 8}
    assert "injection_rate_flits_per_node_per_cycle" not in rows
    assert len(rows) == 4


def test_booksim_sample_one_row_per_load_with_normalised_keys(golden):
    rows = parse_results(golden / BOOKSIM, ALL, precision=0.001, saturation_factor=5)
    loads = record(rows, "booksim_load")
    assert list(loads["injection_rate_flits_per_node_per_cycle"]) == [
        0.001, 0.1, 0.2, 0.21, 0.22, 0.221, 0.222, 0.223, 0.224, 0.225, 0.226, 0.227, 0.23]
    first = loads.iloc[0]
    assert (first["packet_latency_avg_cycles"], first["packet_latency_min_cycles"],
            first["packet_latency_max_cycles"]) == \
        (43.0877, 34.0, 62.0)
    assert first["accepted_packet_rate_avg_packets_per_node_per_cycle"] == 0.000927288
    assert first["injected_flit_rate_avg_flits_per_node_per_cycle"] == 0.000931373
    assert first["hops_avg"] == 2.32456 and first["booksim_host_run_time_s"] == 0.044806
    assert (loads["zero_load_packet_latency_cycles"] == 43.0877).all()
    at_227 = loads[loads["injection_rate_flits_per_node_per_cycle"] == 0.227].iloc[0]
    assert at_227["packet_latency_avg_cycles"] == 216.919 and at_227["network_latency_avg_cycles"] == 158.969
    assert bool(at_227["beyond_saturation_criterion"]) and not bool(first["beyond_saturation_criterion"])
    assert list(loads["is_max_stable_load"]) == [False] * 12 + [True]
    pkg = record(rows, "package").iloc[0]
    assert pkg["booksim_saturation_load_flits_per_node_per_cycle"] == 0.23 and pkg["booksim_n_nodes"] == 16
    assert (pkg["latency_avg_cycles"], pkg["aggregate_throughput_bits_per_cycle"]) == (43.33333333333335,
                                                                                       7715.999999999998)
    # the package of this design is RapidChiplet's 2x2 sample: 4 links of 1.438 mm
    lengths = record(rows, "link_length")
    assert dict(zip(lengths["link_length_mm"], lengths["links_of_length"])) == {1.438: 4}


def test_coarser_precision_rounds_loads_and_detects_collisions(golden):
    with pytest.raises(ParseError, match="both round to 0.2"):
        parse_results(golden / BOOKSIM, ALL, precision=0.1)


def test_rapidchiplets_booksim_numbers_match_booksims_own_output(golden):
    """RapidChiplet re-reads BookSim's stdout by splitting at spaces; our independent parser agrees."""
    stats = parse_booksim_stdout((golden / "rapidchiplet/booksim/raw_booksim_stdout_last_load.txt").read_text())
    rows = record(parse_results(golden / BOOKSIM, ALL), "booksim_load")
    at_227 = rows[rows["injection_rate_flits_per_node_per_cycle"] == 0.227].iloc[0]
    cls = stats.classes[0]
    assert cls["packet_latency"] == {"avg": 216.919, "min": 34.0, "max": 1355.0}
    assert at_227["packet_latency_max_cycles"] == cls["packet_latency"]["max"]
    assert at_227["accepted_flit_rate_avg_flits_per_node_per_cycle"] == cls["accepted_flit_rate"]["avg"] == 0.221195
    assert at_227["hops_avg"] == cls["hops"]["avg"] == 2.33363
    assert stats.time_taken_cycles == 18417 and stats.total_run_time_s == 0.892151


def test_upstream_booksim2_sample(golden):
    stats = parse_booksim_stdout((golden / "rapidchiplet/booksim2/stdout.txt").read_text())
    cls = stats.classes[0]
    assert cls["packet_latency"] == {"avg": 62.828, "min": 25.0, "max": 242.0}
    assert cls["network_latency"]["avg"] == 61.2175 and cls["flit_latency"]["avg"] == 33.7082
    assert cls["injected_packet_rate"] == {"avg": 0.00472266, "min": 0.0025, "max": 0.007}
    assert cls["accepted_flit_rate"]["max"] == 0.13625
    assert cls["injected_packet_size"]["avg"] == 19.9686 and cls["hops"]["avg"] == 6.08685
    assert stats.time_taken_cycles == 7169 and stats.total_run_time_s == 1.24662


@pytest.mark.parametrize("name, match", [
    ("failure_examples/unstable_stdout.txt", "Simulation unstable"),
    ("failure_examples/missingcfg_stdout.txt", "no '====== Overall Traffic Statistics ======' block"),
])
def test_booksim_failures(golden, name, match):
    with pytest.raises(ParseError, match=match):
        parse_booksim_stdout((golden / "rapidchiplet/booksim2" / name).read_text(), name)


def test_truncated_booksim_output(golden):
    text = (golden / "rapidchiplet/booksim2/stdout.txt").read_text()
    with pytest.raises(ParseError, match="Total run time"):
        parse_booksim_stdout(text[: text.rindex("Total run time")])


def write(tmp_path, doc):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc, indent=4))
    return path


def test_missing_packet_latency_is_a_parse_error(tmp_path, golden):
    """The KeyError: 'packet_latency' case: BookSim failed at a load, RapidChiplet stored the empty entry."""
    doc = json.loads((golden / BOOKSIM).read_text())
    doc[BOOKSIM_METRIC]["0.30000000000000004"] = {"total_run_time": 0.01}
    with pytest.raises(ParseError, match=r"load 0\.30000000000000004: no 'packet_latency'.*Failed run with load"):
        parse_results(write(tmp_path, doc), ALL)


def test_missing_metrics_and_fields(tmp_path, golden):
    doc = json.loads((golden / ANALYTIC).read_text())
    with pytest.raises(ParseError, match=r"requested metric\(s\) \['booksim_simulation'\] missing"):
        parse_results(golden / ANALYTIC, ALL)
    del doc["latency"]["avg"]
    with pytest.raises(ParseError, match=r"missing 'latency\.avg'"):
        parse_results(write(tmp_path, doc), ANALYTIC_METRICS)
    doc = json.loads((golden / BOOKSIM).read_text())
    doc[BOOKSIM_METRIC] = {"n_nodes": 16, "time_taken": 0.5}  # BookSim failed at the first load
    with pytest.raises(ParseError, match="no stable load point"):
        parse_results(write(tmp_path, doc), ALL)
    doc = json.loads((golden / BOOKSIM).read_text())
    doc[BOOKSIM_METRIC]["0.1"]["hops"]["avg"] = "nan?"
    with pytest.raises(ParseError, match=r"'booksim_simulation\.0\.1\.hops\.avg' is 'nan\?', not a number"):
        parse_results(write(tmp_path, doc), ALL)


def test_truncated_and_missing_files(tmp_path, golden):
    text = (golden / ANALYTIC).read_text()
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ParseError, match=r"cut\.json:\d+: not valid JSON"):
        parse_results(path)
    with pytest.raises(ParseError, match="results file is missing"):
        parse_results(tmp_path / "absent.json")
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(ParseError, match="empty"):
        parse_results(tmp_path / "empty.json")


def test_column_types(golden):
    rows = parse_results(golden / BOOKSIM, ALL)
    assert rows["link_count"].dtype == pd.Int64Dtype() and rows["is_max_stable_load"].dtype == pd.BooleanDtype()
    assert set(rows["record"]) == {"package", "chiplet_type", "link_length", "booksim_load"}
