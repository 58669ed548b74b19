"""MQSim result parsers on real outputs (tests/golden/mqsim/, see its PROVENANCE.md).

``sample`` = the shared MQSim sample (2 scenarios: synthetic QUEUE_DEPTH, tpcc trace; no response-time
log). ``eoe_small`` = a real MQSim 7ec40e3 run of inputs rendered by this adapter (TLC, 2x2 chips, one
trace flow + one synthetic BANDWIDTH flow, response-time logging on).
"""
from __future__ import annotations

import math
import shutil

import pytest

from eoesim.errors import ParseError
from eoesim.simulators.mqsim_results import (
    _add_throughput,
    ftl_summary,
    load_results,
    read_chip_table,
    read_flow_table,
    read_flows,
    read_ftl,
    read_ftl_table,
    read_response_log,
    read_stdout_flows,
    read_stream_table,
    read_tsu_table,
    scenario_files,
)


@pytest.fixture
def sample(golden, tmp_path):
    """The shared sample laid out as a run directory (stdout.txt -> stdout.log)."""
    src = golden / "mqsim" / "sample"
    for name in ("ssdconfig.xml", "workload.xml", "workload_scenario_1.xml", "workload_scenario_2.xml"):
        shutil.copy(src / name, tmp_path / name)
    shutil.copy(src / "stdout.txt", tmp_path / "stdout.log")
    return tmp_path


@pytest.fixture
def eoe(golden):
    return golden / "mqsim" / "eoe_small"


def test_sample_flow_table_values(sample):
    t = read_flow_table(sample)
    assert list(t["scenario"]) == [1, 2]
    s1, s2 = t.iloc[0], t.iloc[1]
    assert s1["flow_name"] == "Host.IO_Flow.Synth.No_0" and s1["flow_kind"] == "synthetic"
    generated = (s1["requests_generated"], s1["read_requests_generated"], s1["write_requests_generated"])
    assert generated == (20000, 14013, 5987)
    assert s1["requests_serviced"] == 20000
    assert (s1["bytes_transferred"], s1["bytes_read"], s1["bytes_written"]) == (81920000, 57397248, 24522752)
    # integer microseconds, and the ns twins x1000
    assert (s1["device_response_time_mean_us"], s1["device_response_time_min_us"],
            s1["device_response_time_max_us"]) == (263, 21, 1831)
    assert (s1["end_to_end_delay_mean_us"], s1["end_to_end_delay_max_us"]) == (263, 1831)
    assert s1["device_response_time_mean_ns"] == 263000 and s1["end_to_end_delay_min_ns"] == 21000
    assert s2["flow_name"] == "Host.IO_Flow.Trace.tpcc-small.trace" and s2["flow_kind"] == "trace"
    generated = (s2["requests_generated"], s2["read_requests_generated"], s2["write_requests_generated"])
    assert generated == (6999, 4381, 2618)
    assert s2["bytes_transferred"] == 59718656
    assert (s2["device_response_time_mean_us"], s2["device_response_time_min_us"],
            s2["device_response_time_max_us"]) == (3458, 5, 18316)


def test_mqsim_iops_and_bandwidth_are_kept_only_under_mqsim_names(sample):
    """inf under 1 s simulated (scenario 1); count / 1 s in scenario 2 (MQSim's integer-division bug)."""
    t = read_flow_table(sample)
    first, second = t.iloc[0], t.iloc[1]
    assert math.isinf(first["mqsim_reported_iops"]) and math.isinf(first["mqsim_reported_bandwidth_bytes_per_s"])
    assert second["mqsim_reported_iops"] == 6999.0 and second["mqsim_reported_bandwidth_bytes_per_s"] == 59718656.0
    assert not [c for c in t.columns if "iops" in c.lower() and not c.startswith(("mqsim_reported_", "throughput_"))]
    # no response-time log in the sample -> no throughput, and the row says why
    assert t["throughput_bytes_per_s"].isna().all()
    assert t.iloc[1]["throughput_source"].startswith("unavailable: no response-time log")


def test_sample_ftl_counters_and_nan_averages(sample):
    ftl = read_ftl(sample / "workload_scenario_1.xml")
    assert ftl["Issued_Flash_Read_CMD"] == 33973 and ftl["Issued_Flash_Read_CMD_For_Mapping"] == 19988
    assert ftl["CMT_Misses_For_Read"] == 14009 and ftl["Total_CMT_Queries"] == 19997
    assert math.isnan(ftl["Average_Page_Movement_For_GC"]) and math.isnan(ftl["Average_Page_Movement_For_WL"])
    summary = ftl_summary(ftl)
    assert summary == {"ssd_flash_read_cmds": 33973 + 14 + 19988, "ssd_flash_program_cmds": 5982 + 1,
                       "ssd_flash_erase_cmds": 0, "ssd_gc_executions": 0}
    table = read_ftl_table(sample)
    assert list(table["scenario"]) == [1, 2] and table.iloc[0]["ssd_flash_read_cmds"] == 53975


def test_sample_streams_chips_and_queues(sample):
    streams = read_stream_table(sample)
    s = streams[streams["scenario"] == 1].iloc[0]
    assert s["stream_id"] == 0
    assert (s["read_transaction_turnaround_time_mean_us"], s["read_transaction_execution_time_mean_us"],
            s["read_transaction_transfer_time_mean_us"], s["read_transaction_waiting_time_mean_us"]) == \
        (363, 75, 12, 275)
    assert s["write_transaction_execution_time_mean_us"] == 749
    assert s["write_transaction_waiting_time_mean_ns"] == 326000
    chips = read_chip_table(sample)
    assert len(chips[chips["scenario"] == 1]) == 32  # 8 channels x 4 chips
    c00 = chips[(chips["scenario"] == 1) & (chips["channel"] == 0) & (chips["chip"] == 0)].iloc[0]
    assert (c00["exec_frac"], c00["xfer_frac"], c00["idle_frac"]) == (0.320759, 0.013715, 0.986285)
    tsu = read_tsu_table(sample)
    q = tsu[(tsu["scenario"] == 1) & (tsu["queue"] == "User_Read_TR_Queue") & (tsu["channel"] == 0)
            & (tsu["chip"] == 0)]
    urgent, high = q[q["priority"] == "URGENT"].iloc[0], q[q["priority"] == "HIGH"].iloc[0]
    assert math.isnan(urgent["waiting_time_mean_us"])  # MQSim prints 9223372036854775808 for an empty queue
    assert (high["transactions_dequeued"], high["waiting_time_mean_us"], high["waiting_time_max_us"]) == (455, 102, 952)


def test_sample_stdout_summaries(sample):
    printed = read_stdout_flows(sample / "stdout.log")
    assert printed == {
        1: [{"flow_name": "Host.IO_Flow.Synth.No_0", "requests_generated": 20000, "requests_serviced": 20000}],
        2: [{"flow_name": "Host.IO_Flow.Trace.tpcc-small.trace", "requests_generated": 6999,
             "requests_serviced": 6999}],
    }


def test_eoe_throughput_comes_from_the_response_time_log(eoe):
    t = read_flow_table(eoe)
    trace, syn = t.iloc[0], t.iloc[1]
    assert trace["flow_name"] == "Host.IO_Flow.Trace.flow0.trace"
    assert (trace["requests_generated"], trace["requests_serviced"], trace["bytes_transferred"]) == (126, 126, 16486400)
    # from the trace: first arrival 0 ns, last 7347270 ns, 126 requests, same bytes as MQSim transferred
    assert (trace["first_arrival_ns"], trace["last_arrival_ns"], trace["trace_requests"]) == (0, 7347270, 126)
    assert trace["trace_bytes"] == trace["bytes_transferred"]
    assert trace["offered_bandwidth_bytes_per_s"] == pytest.approx(16486400 / 7347270e-9)
    # last line of workload.IO_Flow.No_0.log: "115186\t112247\t112247"
    assert trace["last_completion_us"] == 115186 and trace["span_us"] == 115186
    assert trace["throughput_bytes_per_s"] == pytest.approx(16486400 / 0.115186)
    assert trace["throughput_iops"] == pytest.approx(126 / 0.115186)
    assert trace["throughput_source"] == "response_time_log" and trace["response_time_log_period_ns"] == 1
    assert math.isinf(trace["mqsim_reported_iops"])  # what MQSim itself claims
    # synthetic BANDWIDTH flow at 8 MiB/s: 200 x 8 KiB in 207171 us -> ~7.9 MB/s achieved
    assert syn["flow_kind"] == "synthetic" and syn["first_arrival_ns"] == 0 and syn["last_completion_us"] == 207171
    assert syn["throughput_bytes_per_s"] == pytest.approx(1638400 / 0.207171)
    assert (trace["ssd_flash_read_cmds"], trace["ssd_flash_program_cmds"], trace["ssd_gc_executions"]) == (1467, 274, 0)
    assert trace["ssd_chip_idle_frac_mean"] == pytest.approx(0.933934, abs=1e-6)


def test_response_time_log_parsing(eoe, tmp_path):
    rows = read_response_log(eoe / "workload.IO_Flow.No_0.log")
    assert len(rows) == 126 and rows[-1] == (115186, 112247, 112247)
    bad = tmp_path / "w.IO_Flow.No_0.log"
    bad.write_text("SimulationTime(us)\tReponseTime(us)\tEndToEndDelay(us)\n10\t5\t5\n11\t5\n")
    with pytest.raises(ParseError, match=r"w.IO_Flow.No_0.log:3: expected 3 tab-separated"):
        read_response_log(bad)


def test_log_overwritten_by_a_later_scenario_gives_no_throughput(eoe):
    """MQSim names the log per flow index, not per scenario: only the last scenario owns it."""
    row = {"scenario": 1, "flow_index": 0, "first_arrival_ns": 0, "requests_serviced": 126,
           "requests_generated": 126, "bytes_transferred": 16486400}
    _add_throughput(row, eoe, "workload", {0: 2}, 1.0)
    assert math.isnan(row["throughput_bytes_per_s"])
    assert row["throughput_source"] == "unavailable: workload.IO_Flow.No_0.log was overwritten by scenario 2"


def test_truncated_result_is_a_parse_error_with_line(eoe, tmp_path):
    text = (eoe / "workload_scenario_1.xml").read_text()
    cut = tmp_path / "workload_scenario_1.xml"
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(ParseError, match=r"workload_scenario_1.xml:\d+: not well-formed XML"):
        load_results(cut)
    with pytest.raises(ParseError):
        read_flow_table(tmp_path)


def test_wrong_root_missing_field_and_bad_number(eoe, tmp_path):
    text = (eoe / "workload_scenario_1.xml").read_text()
    p = tmp_path / "workload_scenario_1.xml"
    p.write_text(text.replace("MQSim_Results", "Results"))
    with pytest.raises(ParseError, match="root element is <Results>"):
        load_results(p)
    p.write_text(text.replace("<Request_Count>126</Request_Count>", "", 1))
    with pytest.raises(ParseError, match="missing <Request_Count>"):
        read_flows(p)
    p.write_text(text.replace("<Device_Response_Time>23350<", "<Device_Response_Time>2x3<", 1))
    with pytest.raises(ParseError, match="Device_Response_Time is not an integer"):
        read_flows(p)


def test_no_scenario_file_is_a_parse_error(tmp_path):
    with pytest.raises(ParseError, match="no scenario result file"):
        read_flow_table(tmp_path)
    assert scenario_files(tmp_path, "workload") == []


def test_stdout_that_disagrees_with_the_xml_is_a_parse_error(eoe, tmp_path):
    for f in eoe.iterdir():
        shutil.copy(f, tmp_path / f.name)
    out = tmp_path / "stdout.log"
    out.write_text(out.read_text().replace("total requests generated: 126", "total requests generated: 125"))
    with pytest.raises(ParseError, match="stdout reports"):
        read_flow_table(tmp_path)
