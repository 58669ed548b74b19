"""Parsers of MQSim's outputs: ``<stem>_scenario_<N>.xml``, stdout, and the response-time logs.

The result XML (root ``MQSim_Results``) has element names with dots (``Host.IO_Flow``,
``SSDDevice.FTL``), so it is read with ``xml.etree.ElementTree``, never with regular expressions. Flow and
stream values are child elements; FTL, TSU and chip values are attributes. Numbers may be ``inf`` (MQSim's
IOPS/Bandwidth) or ``-nan`` (averages over nothing); both become float inf/NaN.

Units and derived columns of the flow table (:func:`read_flow_table`), one row per (scenario, flow):

* ``scenario`` (1-based N of the file), ``flow_index`` (0-based position in the scenario = MQSim's flow id),
  ``flow_name`` (MQSim's Name, e.g. ``Host.IO_Flow.Trace.flow0.trace``), ``flow_kind`` (trace|synthetic).
* ``requests_generated``, ``read_requests_generated``, ``write_requests_generated``: Request_Count,
  Read_/Write_Request_Count (requests the host generated).
* ``requests_serviced``: from stdout ("total requests serviced:Y"); NaN when stdout is not available.
* ``bytes_transferred``, ``bytes_read``, ``bytes_written``: Bytes_Transferred[_Read|_Write] (counted at
  completion, so bytes of serviced requests; MQSim prints them as floats, e.g. ``81920000.000000``).
* ``device_response_time_{mean,min,max}_us`` and ``end_to_end_delay_{mean,min,max}_us``: Device_Response_Time,
  Min_/Max_..., End_to_End_Request_Delay, Min_/Max_... . These are integer MICROSECONDS, truncated by
  MQSim (sum_ns / count / 1000; its README says ns, the code divides by 1000). The ``*_ns`` twins are the
  same values x 1000 (still microsecond resolution). Device response = completion - NVMe submission
  queue insertion; end-to-end = completion - arrival (includes host-side queueing). NaN when the flow
  completed nothing (bytes_transferred == 0): MQSim then prints 0 means and a garbage minimum.
* ``mqsim_reported_{iops,iops_read,iops_write}`` and ``mqsim_reported_bandwidth{,_read,_write}_bytes_per_s``:
  MQSim's own IOPS*/Bandwidth* fields, kept only as evidence. They are count / floor(simulated seconds)
  (integer division): ``inf`` below 1 s simulated and wrong above. NEVER use them as throughput.
* ``first_arrival_ns``, ``last_arrival_ns``, ``trace_requests``, ``trace_bytes``: from the flow's trace file
  (trace flows whose trace is in the run directory; else NaN), for ONE pass over the whole file
  (regardless of Percentage_To_Be_Executed / Relay_Count). Synthetic flows start generating at
  simulated time 0, so their ``first_arrival_ns`` is 0.
* ``offered_bandwidth_bytes_per_s`` = trace_bytes / (last_arrival_ns - first_arrival_ns) * 1e9 (trace flows
  with a non-zero arrival span; else NaN).
* ``last_completion_us``: the SimulationTime(us) of the LAST line of the flow's response-time log
  ``<stem>.IO_Flow.No_<flow_index>.log`` (integer us, truncated). MQSim logs a completion when it is later
  than the previous logged line + ResponseTime_Logging_Period_Length, so the true last completion is at
  most ``response_time_log_period_ns`` later (1 ns with our default). The log is named per flow index,
  not per scenario, so it belongs to the LAST scenario that has that flow; other scenarios get NaN.
* ``span_us`` = last_completion_us - first_arrival_ns / 1000: from the first arrival to the last completion.
* ``throughput_bytes_per_s`` = bytes_transferred / (span_us * 1e-6) and ``throughput_iops`` =
  requests_serviced (requests_generated if stdout is missing) / (span_us * 1e-6): the achieved throughput,
  as in the shared calibration (calibration/mqsim/PROVENANCE.md). NaN without a usable log.
  ``throughput_source`` says where it came from (``response_time_log``) or why it is missing.
* ``ssd_flash_{read,program,erase}_cmds``: sums of the FTL's Issued_Flash_*Read/Program/Erase_CMD*
  attributes (plain, interleaved, multiplane, copyback, for-mapping; suspends excluded), per scenario.
  ``ssd_gc_executions``: Total_GC_Executions. ``ssd_chip_{exec,xfer,idle}_frac_mean``: means over chips of
  Fraction_of_Time_in_Execution / _in_DataXfer / _Idle (MQSim-reported, per scenario).

The per-stream transaction times (:func:`read_stream_table`), FTL counters (:func:`read_ftl_table`),
chip time fractions (:func:`read_chip_table`) and transaction-queue statistics (:func:`read_tsu_table`)
are separate tidy tables.
"""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pandas as pd

from eoesim.errors import ParseError
from eoesim.simulators.mqsim_trace import read_trace, trace_summary

ROOT = "MQSim_Results"
FLOW_TAG = "Host.IO_Flow"
STREAM_TAG = "SSDDevice.IO_Stream"
FTL_TAG = "SSDDevice.FTL"
TSU_TAG = "SSDDevice.TSU"
CHIP_TAG = "SSDDevice.FlashChips"
#: MQSim prints this for the average waiting time of a queue that never held a transaction
GARBAGE_WAIT = 9223372036854775808

#: native Host.IO_Flow child -> (our column, kind)
FLOW_FIELDS: dict[str, tuple[str, str]] = {
    "Request_Count": ("requests_generated", "int"),
    "Read_Request_Count": ("read_requests_generated", "int"),
    "Write_Request_Count": ("write_requests_generated", "int"),
    "IOPS": ("mqsim_reported_iops", "float"),
    "IOPS_Read": ("mqsim_reported_iops_read", "float"),
    "IOPS_Write": ("mqsim_reported_iops_write", "float"),
    "Bytes_Transferred": ("bytes_transferred", "bytes"),
    "Bytes_Transferred_Read": ("bytes_read", "bytes"),
    "Bytes_Transferred_Write": ("bytes_written", "bytes"),
    "Bandwidth": ("mqsim_reported_bandwidth_bytes_per_s", "float"),
    "Bandwidth_Read": ("mqsim_reported_bandwidth_read_bytes_per_s", "float"),
    "Bandwidth_Write": ("mqsim_reported_bandwidth_write_bytes_per_s", "float"),
    "Device_Response_Time": ("device_response_time_mean_us", "int"),
    "Min_Device_Response_Time": ("device_response_time_min_us", "int"),
    "Max_Device_Response_Time": ("device_response_time_max_us", "int"),
    "End_to_End_Request_Delay": ("end_to_end_delay_mean_us", "int"),
    "Min_End_to_End_Request_Delay": ("end_to_end_delay_min_us", "int"),
    "Max_End_to_End_Request_Delay": ("end_to_end_delay_max_us", "int"),
}
LATENCY_COLUMNS = [v[0] for k, v in FLOW_FIELDS.items() if v[0].endswith("_us")]

STREAM_FIELDS = {
    f"Average_{op}_Transaction_{what}_Time": f"{op.lower()}_transaction_{what.lower()}_time_mean_us"
    for op in ("Read", "Write") for what in ("Turnaround", "Execution", "Transfer", "Waiting")
}

_SCENARIO_RE = re.compile(r"_scenario_(\d+)\.xml$")
_EXEC_RE = re.compile(r"^Executing scenario (\d+) out of (\d+)")
_FLOW_RE = re.compile(r"^Flow (\S+) - total requests generated: (\d+) total requests serviced:(\d+)\s*$")


def scenario_path(rundir: Path, stem: str, n: int) -> Path:
    """``<rundir>/<stem>_scenario_<n>.xml`` - where MQSim writes scenario n of ``<stem>.xml``."""
    return Path(rundir) / f"{stem}_scenario_{n}.xml"


def scenario_files(rundir: Path, stem: str) -> list[Path]:
    """The scenario result files present, ordered by N."""
    found = []
    for p in Path(rundir).glob(f"{stem}_scenario_*.xml"):
        m = _SCENARIO_RE.search(p.name)
        if m and p.name == f"{stem}_scenario_{m.group(1)}.xml":
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def scenario_number(path: Path) -> int:
    m = _SCENARIO_RE.search(Path(path).name)
    if not m:
        raise ParseError(path, "file name does not end in _scenario_<N>.xml")
    return int(m.group(1))


def load_results(path: Path) -> ET.Element:
    """The root of a result XML; ParseError (with line) if it is truncated, malformed or not MQSim_Results."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise ParseError(path, "result file is missing") from None
    except ET.ParseError as exc:
        raise ParseError(path, f"not well-formed XML (truncated?): {exc}", exc.position[0]) from None
    if root.tag != ROOT:
        raise ParseError(path, f"root element is <{root.tag}>, expected <{ROOT}>")
    return root


def number(text: str | None, path: Path, what: str) -> float:
    """A float from MQSim's text: ``inf``/``-inf`` stay infinite, ``nan``/``-nan`` become NaN."""
    if text is None:
        raise ParseError(path, f"{what} has no value")
    t = text.strip().lower()
    if t in ("nan", "-nan", "+nan"):
        return math.nan
    try:
        return float(t)
    except ValueError:
        raise ParseError(path, f"{what} is not a number: {text!r}") from None


def integer(text: str | None, path: Path, what: str) -> int:
    if text is None or not text.strip().lstrip("-").isdigit():
        raise ParseError(path, f"{what} is not an integer: {text!r}")
    return int(text.strip())


def _whole_bytes(text: str | None, path: Path, what: str) -> int:
    value = number(text, path, what)
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise ParseError(path, f"{what} is not a whole number of bytes: {text!r}")
    return int(value)


def _children(elem: ET.Element) -> dict[str, str | None]:
    return {child.tag: child.text for child in elem}


def read_flows(path: Path) -> list[dict[str, Any]]:
    """The Host.IO_Flow entries of one result file, in file order, with our column names."""
    root = load_results(path)
    host = root.find("Host")
    if host is None:
        raise ParseError(path, "no <Host> element")
    rows = []
    for index, elem in enumerate(host.findall(FLOW_TAG)):
        values = _children(elem)
        name = values.get("Name")
        if not name:
            raise ParseError(path, f"flow {index} has no <Name>")
        row: dict[str, Any] = {"flow_index": index, "flow_name": name.strip(),
                               "flow_kind": _flow_kind(name.strip())}
        for native, (column, kind) in FLOW_FIELDS.items():
            if native not in values:
                raise ParseError(path, f"flow {name}: missing <{native}>")
            what = f"flow {name} {native}"
            if kind == "int":
                row[column] = integer(values[native], path, what)
            elif kind == "bytes":
                row[column] = _whole_bytes(values[native], path, what)
            else:
                row[column] = number(values[native], path, what)
        rows.append(row)
    if not rows:
        raise ParseError(path, f"no <{FLOW_TAG}> element")
    return rows


def _flow_kind(name: str) -> str:
    if ".IO_Flow.Trace." in name:
        return "trace"
    if ".IO_Flow.Synth." in name:
        return "synthetic"
    return "unknown"


def _device(root: ET.Element, path: Path) -> ET.Element:
    dev = root.find("SSDDevice")
    if dev is None:
        raise ParseError(path, "no <SSDDevice> element")
    return dev


def read_streams(path: Path) -> list[dict[str, Any]]:
    """SSDDevice.IO_Stream rows: stream id and mean transaction times (integer us; 0 = no such transaction)."""
    root = load_results(path)
    rows = []
    for elem in _device(root, path).iter(STREAM_TAG):
        values = _children(elem)
        row: dict[str, Any] = {"stream_id": integer(values.get("Stream_ID"), path, "IO_Stream Stream_ID")}
        for native, column in STREAM_FIELDS.items():
            row[column] = integer(values.get(native), path, f"IO_Stream {row['stream_id']} {native}")
            row[column[:-3] + "_ns"] = row[column] * 1000
        rows.append(row)
    return rows


def read_ftl(path: Path) -> dict[str, Any]:
    """The SSDDevice.FTL attributes (counters as int, Average_Page_Movement_* as float; -nan -> NaN)."""
    root = load_results(path)
    elem = _device(root, path).find(FTL_TAG)
    if elem is None:
        raise ParseError(path, f"no <{FTL_TAG}> element")
    out: dict[str, Any] = {}
    for key, value in elem.attrib.items():
        if key.startswith("Average_"):
            out[key] = number(value, path, f"FTL {key}")
        else:
            out[key] = integer(value, path, f"FTL {key}")
    return out


def ftl_summary(ftl: dict[str, Any]) -> dict[str, Any]:
    """Flash command totals as in the shared calibration (a multiplane command counts once)."""
    def total(word: str) -> int:
        return sum(v for k, v in ftl.items()
                   if k.startswith("Issued_Flash_") and word in k and "Suspend" not in k)
    return {"ssd_flash_read_cmds": total("_Read_CMD"), "ssd_flash_program_cmds": total("_Program_CMD"),
            "ssd_flash_erase_cmds": total("_Erase_CMD"), "ssd_gc_executions": ftl.get("Total_GC_Executions")}


def read_chips(path: Path) -> list[dict[str, Any]]:
    """SSDDevice.FlashChips rows: channel, chip and the fractions of time in each state."""
    root = load_results(path)
    rows = []
    for elem in _device(root, path).iter(CHIP_TAG):
        ident = elem.get("ID", "")
        parts = ident.split("@")
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            raise ParseError(path, f"FlashChips ID {ident!r} is not @<channel>@<chip>")
        row: dict[str, Any] = {"channel": int(parts[1]), "chip": int(parts[2])}
        for attr, column in (("Fraction_of_Time_in_Execution", "exec_frac"),
                             ("Fraction_of_Time_in_DataXfer", "xfer_frac"),
                             ("Fraction_of_Time_in_DataXfer_and_Execution", "xfer_and_exec_frac"),
                             ("Fraction_of_Time_Idle", "idle_frac")):
            row[column] = number(elem.get(attr), path, f"FlashChips {ident} {attr}")
        rows.append(row)
    return rows


def read_tsu(path: Path) -> list[dict[str, Any]]:
    """SSDDevice.TSU queue rows (queue, channel, chip, priority, counts, lengths, waiting times in us).

    ``avg_waiting_time_us`` is NaN for a queue that never held a transaction (MQSim prints 2^63 there).
    """
    root = load_results(path)
    tsu = _device(root, path).find(TSU_TAG)
    rows = []
    if tsu is None:
        return rows
    for elem in tsu:
        name = elem.get("Name", "")
        parts = name.split("@")
        if len(parts) < 3:
            raise ParseError(path, f"TSU queue name {name!r} is not <queue>@<channel>@<chip>[@<priority>]")
        avg_wait = integer(elem.get("Avg_Transaction_Waiting_Time"), path, f"TSU {name} Avg_Transaction_Waiting_Time")
        dequeued = integer(elem.get("No_Of_Transactions_Dequeued"), path, f"TSU {name} dequeued")
        rows.append({
            "queue": parts[0], "channel": int(parts[1]), "chip": int(parts[2]),
            "priority": parts[3] if len(parts) > 3 else None,
            "transactions_enqueued": integer(elem.get("No_Of_Transactions_Enqueued"), path, f"TSU {name} enqueued"),
            "transactions_dequeued": dequeued,
            "queue_length_mean": number(elem.get("Avg_Queue_Length"), path, f"TSU {name} Avg_Queue_Length"),
            "queue_length_max": integer(elem.get("Max_Queue_Length"), path, f"TSU {name} Max_Queue_Length"),
            "queue_length_stdev": number(elem.get("STDev_Queue_Length"), path, f"TSU {name} STDev_Queue_Length"),
            "waiting_time_mean_us": math.nan if (avg_wait >= GARBAGE_WAIT or dequeued == 0) else avg_wait,
            "waiting_time_max_us": integer(elem.get("Max_Transaction_Waiting_Time"), path, f"TSU {name} max wait"),
        })
    return rows


def read_stdout_flows(path: Path) -> dict[int, list[dict[str, Any]]]:
    """Per scenario number: the ``Flow ... generated: X ... serviced:Y`` summaries MQSim printed, in order."""
    out: dict[int, list[dict[str, Any]]] = {}
    scenario = 0
    text = Path(path).read_text(errors="replace")
    for line in text.splitlines():
        m = _EXEC_RE.match(line.strip())
        if m:
            scenario = int(m.group(1))
            out.setdefault(scenario, [])
            continue
        m = _FLOW_RE.match(line)
        if m and scenario:
            out[scenario].append({"flow_name": m.group(1), "requests_generated": int(m.group(2)),
                                  "requests_serviced": int(m.group(3))})
    return out


def read_response_log(path: Path) -> list[tuple[int, int, int]]:
    """Lines of a response-time log: (simulation time us, device response us, end-to-end delay us).

    MQSim's header (sic): ``SimulationTime(us)\\tReponseTime(us)\\tEndToEndDelay(us)``.
    """
    path = Path(path)
    rows = []
    with open(path, errors="replace") as fh:
        header = fh.readline()
        if not header.startswith("SimulationTime(us)"):
            raise ParseError(path, f"not an MQSim response-time log (header {header.strip()!r})", 1)
        for lineno, line in enumerate(fh, start=2):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or not all(p.isdigit() for p in parts):
                raise ParseError(path, f"expected 3 tab-separated integers, got {line.rstrip()!r}", lineno)
            rows.append((int(parts[0]), int(parts[1]), int(parts[2])))
    return rows


def response_log_path(rundir: Path, stem: str, flow_index: int) -> Path:
    return Path(rundir) / f"{stem}.IO_Flow.No_{flow_index}.log"


def _workload_flows(workload_xml: Path) -> list[list[dict[str, str]]]:
    """Per scenario: the flows of our workload.xml (kind, trace path) - to find traces and logs."""
    try:
        root = ET.parse(workload_xml).getroot()
    except (FileNotFoundError, ET.ParseError):
        return []
    scenarios = []
    for scen in root.findall("IO_Scenario"):
        flows = []
        for flow in scen:
            kind = "trace" if flow.tag == "IO_Flow_Parameter_Set_Trace_Based" else "synthetic"
            flows.append({"kind": kind, "file_path": (flow.findtext("File_Path") or "").strip()})
        scenarios.append(flows)
    return scenarios


def _logging_period_ns(ssdconfig: Path) -> float:
    try:
        root = ET.parse(ssdconfig).getroot()
    except (FileNotFoundError, ET.ParseError):
        return math.nan
    text = root.findtext("Host_Parameter_Set/ResponseTime_Logging_Period_Length")
    enabled = (root.findtext("Host_Parameter_Set/Enable_ResponseTime_Logging") or "").strip().upper()
    if text is None or enabled == "FALSE":
        return math.nan
    return float(text)


def read_flow_table(rundir: Path, stem: str = "workload", ssdconfig: str = "ssdconfig.xml",
                    stdout: str | None = "stdout.log") -> pd.DataFrame:
    """The tidy flow table of a run directory (columns: see the module docstring)."""
    rundir = Path(rundir)
    files = scenario_files(rundir, stem)
    if not files:
        raise ParseError(rundir / f"{stem}_scenario_1.xml", "no scenario result file")
    printed = read_stdout_flows(rundir / stdout) if stdout and (rundir / stdout).is_file() else {}
    wl = _workload_flows(rundir / f"{stem}.xml")
    period_ns = _logging_period_ns(rundir / ssdconfig)
    last_scenario_of_flow: dict[int, int] = {}
    for path in files:
        n = scenario_number(path)
        for i in range(len(read_flows(path))):
            last_scenario_of_flow[i] = max(last_scenario_of_flow.get(i, 0), n)
    rows = []
    for path in files:
        n = scenario_number(path)
        flows = read_flows(path)
        ssd = ftl_summary(read_ftl(path))
        chips = read_chips(path)
        for col, key in (("ssd_chip_exec_frac_mean", "exec_frac"), ("ssd_chip_xfer_frac_mean", "xfer_frac"),
                         ("ssd_chip_idle_frac_mean", "idle_frac")):
            ssd[col] = sum(c[key] for c in chips) / len(chips) if chips else math.nan
        for flow in flows:
            row = {"scenario": n, **flow}
            _add_serviced(row, printed.get(n), path)
            _fix_latencies(row)
            spec = wl[n - 1][flow["flow_index"]] if n - 1 < len(wl) and flow["flow_index"] < len(wl[n - 1]) else None
            _add_trace_figures(row, rundir, spec)
            _add_throughput(row, rundir, stem, last_scenario_of_flow, period_ns)
            row.update(ssd)
            rows.append(row)
    return pd.DataFrame(rows)


def _add_serviced(row: dict, printed: list[dict] | None, path: Path) -> None:
    row["requests_serviced"] = math.nan
    if not printed or row["flow_index"] >= len(printed):
        return
    entry = printed[row["flow_index"]]
    if entry["flow_name"] != row["flow_name"] or entry["requests_generated"] != row["requests_generated"]:
        raise ParseError(path, f"stdout reports {entry} for flow {row['flow_index']}, the XML "
                               f"{row['flow_name']} with {row['requests_generated']} requests")
    row["requests_serviced"] = entry["requests_serviced"]


def _fix_latencies(row: dict) -> None:
    completed = row["bytes_transferred"] > 0
    for col in LATENCY_COLUMNS:
        if not completed:
            row[col] = math.nan
        row[col[:-3] + "_ns"] = row[col] * 1000 if completed else math.nan


def _add_trace_figures(row: dict, rundir: Path, spec: dict | None) -> None:
    for col in ("first_arrival_ns", "last_arrival_ns", "trace_requests", "trace_bytes",
                "offered_bandwidth_bytes_per_s"):
        row[col] = math.nan
    if row["flow_kind"] == "synthetic":
        row["first_arrival_ns"] = 0
        return
    if not spec or spec["kind"] != "trace" or not spec["file_path"]:
        return
    trace = rundir / spec["file_path"]
    if not trace.is_file():
        return
    summary = trace_summary(read_trace(trace))
    row["first_arrival_ns"] = summary["first_arrival_ns"]
    row["last_arrival_ns"] = summary["last_arrival_ns"]
    row["trace_requests"] = summary["requests"]
    row["trace_bytes"] = summary["bytes"]
    span_ns = summary["last_arrival_ns"] - summary["first_arrival_ns"]
    if span_ns > 0:
        row["offered_bandwidth_bytes_per_s"] = summary["bytes"] / span_ns * 1e9


def _add_throughput(row: dict, rundir: Path, stem: str, last_scenario_of_flow: dict[int, int],
                    period_ns: float) -> None:
    row.update(last_completion_us=math.nan, response_time_log_period_ns=period_ns, span_us=math.nan,
               throughput_bytes_per_s=math.nan, throughput_iops=math.nan)
    log = response_log_path(rundir, stem, row["flow_index"])
    if not log.is_file():
        row["throughput_source"] = "unavailable: no response-time log (set ssd.response_time_logging)"
        return
    if last_scenario_of_flow.get(row["flow_index"]) != row["scenario"]:
        row["throughput_source"] = (f"unavailable: {log.name} was overwritten by scenario "
                                    f"{last_scenario_of_flow.get(row['flow_index'])}")
        return
    lines = read_response_log(log)
    if not lines or isinstance(row["first_arrival_ns"], float) and math.isnan(row["first_arrival_ns"]):
        row["throughput_source"] = ("unavailable: empty response-time log" if not lines
                                    else "unavailable: first arrival unknown (trace file missing)")
        return
    row["last_completion_us"] = lines[-1][0]
    span_us = row["last_completion_us"] - row["first_arrival_ns"] / 1000.0
    if span_us <= 0:
        row["throughput_source"] = "unavailable: last completion not after first arrival"
        return
    row["span_us"] = span_us
    count = row["requests_serviced"]
    if isinstance(count, float) and math.isnan(count):
        count = row["requests_generated"]
    row["throughput_bytes_per_s"] = row["bytes_transferred"] / (span_us * 1e-6)
    row["throughput_iops"] = count / (span_us * 1e-6)
    row["throughput_source"] = "response_time_log"


def _per_scenario(rundir: Path, stem: str, reader) -> pd.DataFrame:
    rows = []
    files = scenario_files(rundir, stem)
    if not files:
        raise ParseError(Path(rundir) / f"{stem}_scenario_1.xml", "no scenario result file")
    for path in files:
        for r in reader(path):
            rows.append({"scenario": scenario_number(path), **r})
    return pd.DataFrame(rows)


def read_stream_table(rundir: Path, stem: str = "workload") -> pd.DataFrame:
    """One row per (scenario, stream): mean read/write transaction turnaround/execution/transfer/waiting
    times in integer us (as MQSim prints them) and x1000 in ns."""
    return _per_scenario(rundir, stem, read_streams)


def read_ftl_table(rundir: Path, stem: str = "workload") -> pd.DataFrame:
    """One row per scenario: every SSDDevice.FTL counter under its native name, plus the totals of
    :func:`ftl_summary`."""
    return _per_scenario(rundir, stem, lambda p: [dict(read_ftl(p), **ftl_summary(read_ftl(p)))])


def read_chip_table(rundir: Path, stem: str = "workload") -> pd.DataFrame:
    """One row per (scenario, channel, chip): fractions of MQSim's total time in execution, data transfer,
    both, and idle."""
    return _per_scenario(rundir, stem, read_chips)


def read_tsu_table(rundir: Path, stem: str = "workload") -> pd.DataFrame:
    """One row per (scenario, transaction queue): see :func:`read_tsu`."""
    return _per_scenario(rundir, stem, read_tsu)
