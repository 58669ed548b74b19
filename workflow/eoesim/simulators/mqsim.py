"""MQSim adapter: the SSD tier that cold experts are loaded from and checkpoints are written to.

Renders ``ssdconfig.xml`` and ``workload.xml`` (one IO_Scenario of 1..8 flows) from templates/mqsim/,
writes one DiskSim ASCII trace per trace flow (``mqsim_trace``), runs
``MQSim -i ssdconfig.xml -w workload.xml`` in the run directory with stdin from /dev/null (MQSim waits
on ``cin.get()`` otherwise - the runner always does that - and a timeout kills the process group), and
parses ``workload_scenario_1.xml``, stdout and the response-time logs (``mqsim_results``).

Success needs ALL of: exit code 0; no ``ERROR:`` line; none of MQSim's silent-fallback messages (a wrong
root element or a missing input makes it print "Using MQSim's default configuration." / "... default
workload definitions." and carry on with rc 0); "Simulation complete"; every scenario file present,
parseable and reporting as many flash chips as we configured; and every trace flow having read and
serviced its whole trace (MQSim stops silently at a malformed line).
"""
from __future__ import annotations

import math
import os
import shutil
import signal
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from eoesim.errors import ParseError, SimulatorError, SimulatorUnavailableError
from eoesim.paths import project_root
from eoesim.provenance import sha256_file
from eoesim.runners import STDERR_LOG, STDOUT_LOG, docker_image_id
from eoesim.simulators.base import SITE_CONFIG, Availability, Resources, Simulator, SurrogatePack, register
from eoesim.simulators.build_identity import UNKNOWN, git_commit, image_commit
from eoesim.simulators.mqsim_config import FLASH_PRESETS, resolve_point
from eoesim.simulators.mqsim_results import (
    load_results,
    read_chips,
    read_flow_table,
    read_flows,
    read_stdout_flows,
    scenario_path,
)
from eoesim.simulators.mqsim_trace import READ, SECTOR_BYTES, description_from_params, generate_requests, write_trace
from eoesim.surrogates import SETTINGS_COLUMN, settings_level

CONFIG_FILE = "ssdconfig.xml"
WORKLOAD_FILE = "workload.xml"
WORKLOAD_STEM = "workload"
COMPLETE_MARKER = "Simulation complete"
#: a file of MQSim's source tree: a git work tree holding it is an MQSim checkout (build_identity)
CHECKOUT_MARKER = "src/ssd/FTL.cpp"
NO_COMMIT = ("the upstream commit is unknown (not an MQSim git checkout, no image label): set mqsim.commit "
             "in the site config")
#: stdout lines that mean MQSim ignored our input and ran something else (rc 0)
FALLBACK_MESSAGES = (
    "Using MQSim's default configuration",
    "Using MQSim's default workload definitions",
    "Error in the SSD configuration file!",
    "Error in the workload definition file!",
    "The specified SSD configuration file does not exist",
    "The specified workload definition file does not exist",
    "Bad value for percentage of trace file",
)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


def expected_scenarios(workload_xml: Path) -> int:
    """How many IO_Scenario elements our workload.xml has (= result files MQSim must write)."""
    try:
        root = ET.parse(workload_xml).getroot()
    except (FileNotFoundError, ET.ParseError) as exc:
        raise SimulatorError(f"cannot read the rendered {workload_xml.name}: {exc}") from None
    return len(root.findall("IO_Scenario"))


def configured_chips(ssdconfig: Path) -> int | None:
    """Channels x chips per channel of our ssdconfig.xml (None if it cannot be read)."""
    try:
        dev = ET.parse(ssdconfig).getroot().find("Device_Parameter_Set")
        return int(dev.findtext("Flash_Channel_Count")) * int(dev.findtext("Chip_No_Per_Channel"))
    except (FileNotFoundError, ET.ParseError, AttributeError, TypeError, ValueError):
        return None


def trace_line_counts(rundir: Path, workload_xml: Path) -> dict[tuple[int, int], int]:
    """(scenario, flow index) -> lines of that trace flow's trace file (for the truncation check)."""
    root = ET.parse(workload_xml).getroot()
    counts = {}
    for s, scen in enumerate(root.findall("IO_Scenario"), start=1):
        for i, flow in enumerate(scen):
            if flow.tag != "IO_Flow_Parameter_Set_Trace_Based":
                continue
            trace = rundir / (flow.findtext("File_Path") or "").strip()
            pct = int((flow.findtext("Percentage_To_Be_Executed") or "100").strip())
            relay = int((flow.findtext("Relay_Count") or "1").strip())
            if trace.is_file():
                with open(trace, "rb") as fh:
                    lines = sum(1 for _ in fh)
                # MQSim: replay > 1 -> lines * replays; else int(pct/100 * lines)
                counts[(s, i)] = lines * relay if relay != 1 else int(pct / 100 * lines)
    return counts


@register
class MQSim(Simulator):
    name = "mqsim"
    adapter_version = "1"

    schema_file = "simulators/mqsim.schema.yaml"
    row_keys = ("scenario", "flow_index")
    required_metrics = ("device_response_time_mean_us", "throughput_bytes_per_s")
    bounds_checks = ("mqsim_throughput_implausible",)
    echo_checks = ("mqsim_defaults_fallback",)
    #: a flow's load is set by its trace, not swept along one axis of the point
    swept_axes = ()
    surrogates = (SurrogatePack(
        "mqsim", "eoesim.analysis.surrogate_mqsim", "mqsim/calibration.csv", breakdown="flash_technology",
        notes=("The domain is what the held-out data support: reads only (writes: CV 2-16 %, MQSim's mean moves up to "
               "17 % between trace seeds), single requests up to 0.7 x the fitted saturation (and overload with the "
               "transfers' arrival times), bursts of >= 32 requests at any load with arrival times, up to 0.85 in "
               "the steady state. Leaving a whole load level out errs 4-5 % (the shared data's fresh single requests "
               "at 0.4 of saturation); the project's flows (re-reads, bursts) are within 1-3 %.",)),)
    refit_from_study = False
    how_to_provide = f"set mqsim.binary (MQSim built from commit 7ec40e3) in {SITE_CONFIG}"

    # ----------------------------------------------------------------- point and inputs
    def point_params(self, study: Mapping[str, Any]) -> dict:
        return resolve_point(study["workload"]["mqsim"], study.get("seed", 1))

    def render(self, point: Mapping[str, Any], rundir: Path) -> list[Path]:
        rundir = Path(rundir)
        paths = [
            self.render_template("ssdconfig.xml.j2", rundir / CONFIG_FILE, ssd=point["ssd"]),
            self.render_template("workload.xml.j2", rundir / WORKLOAD_FILE, flows=point["flows"]),
        ]
        for i, flow in enumerate(point["flows"]):
            if flow["kind"] != "trace":
                continue
            desc = description_from_params(flow["io"], flow["trace_seed"], f"workload.mqsim.flows[{i}].io")
            paths.append(write_trace(rundir / flow["trace_file"], generate_requests(desc)))
        return paths

    # ----------------------------------------------------------------- running
    def _binary(self) -> str | None:
        """The native binary as an absolute path, or None if it is not configured / not found."""
        binary = self.site.get("binary")
        if not binary:
            return None
        if "/" in binary or binary.startswith("~"):
            path = Path(binary).expanduser()
            if not path.is_absolute():
                path = project_root() / path
            return str(path.resolve()) if path.is_file() and os.access(path, os.X_OK) else None
        return shutil.which(binary)

    def argv(self, rundir: Path) -> list[str]:
        if self.site.get("mode") == "docker":
            exe = self.site.get("image_binary", "MQSim")
        else:
            exe = self._binary()
            if exe is None:
                raise SimulatorUnavailableError(self._unavailable_detail())
        # exactly 4 arguments (MQSim requires argc == 5); paths relative to the run directory (= cwd)
        return [exe, "-i", CONFIG_FILE, "-w", WORKLOAD_FILE]

    def resources(self, point: Mapping[str, Any]) -> Resources:
        # Shared calibration: 2000 requests take 0.6-6 s below saturation, a saturated 1-MiB burst up to
        # 142 s. Budget 1 min per 20k trace/synthetic requests on top of 5 min. Memory grows with the
        # device's page count: the default 512-GiB device (67M pages) peaked at 2.0 GB RSS (measured with
        # MQSim 7ec40e3), i.e. ~31 B/page; 40 B/page + 512 MB leaves a margin.
        requests = 0
        for flow in point["flows"]:
            if flow["kind"] == "trace":
                requests += flow["io"]["total_requests"] * flow["relay_count"]
            else:
                requests += flow["synthetic"]["total_requests"] or 100_000
        f = point["ssd"]["flash"]
        pages = (point["ssd"]["channels"] * point["ssd"]["chips_per_channel"] * f["dies_per_chip"]
                 * f["planes_per_die"] * f["blocks_per_plane"] * f["pages_per_block"])
        mem_mb = 512 + int(pages * 40 / 2**20)
        return Resources(cores=1, mem_mb=mem_mb, runtime_min=5 + math.ceil(requests / 20_000))

    # ----------------------------------------------------------------- checking
    def check(self, rundir: Path, returncode: int) -> None:
        rundir = Path(rundir)
        stdout, stderr = _read(rundir / STDOUT_LOG), _read(rundir / STDERR_LOG)
        errors = [ln.strip() for ln in (stderr + "\n" + stdout).splitlines() if ln.strip().startswith("ERROR:")]
        if returncode != 0:
            detail = errors[0] if errors else "no ERROR: line"
            if not errors and "Standalone Usage" in stdout:
                detail = "MQSim printed its usage text (wrong arguments)"
            if returncode < 0:
                detail = f"killed by signal {-returncode} ({_signal_name(-returncode)}); {detail}"
            raise SimulatorError(f"MQSim exited with code {returncode}: {detail}")
        if errors:
            raise SimulatorError(f"MQSim reported an error despite exit code 0: {errors[0]}")
        fallbacks = [m for m in FALLBACK_MESSAGES if m in stdout]
        if fallbacks:
            raise SimulatorError(
                f"MQSim ignored its inputs and fell back to built-in defaults ({fallbacks[0]!r}); "
                "the rendered ssdconfig.xml/workload.xml were not used"
            )
        if COMPLETE_MARKER not in stdout:
            raise SimulatorError(f"stdout lacks {COMPLETE_MARKER!r} (the run did not finish)")
        n = expected_scenarios(rundir / WORKLOAD_FILE)
        chips = configured_chips(rundir / CONFIG_FILE)
        for k in range(1, n + 1):
            path = scenario_path(rundir, WORKLOAD_STEM, k)
            if not path.is_file():
                raise SimulatorError(f"scenario result file {path.name} is missing ({n} scenario(s) expected)")
            try:
                load_results(path)
                read_flows(path)
                reported = len(read_chips(path))
            except ParseError as exc:
                raise SimulatorError(f"scenario result file is unusable: {exc}") from None
            if chips is not None and reported != chips:
                raise SimulatorError(
                    f"{path.name} reports {reported} flash chips but {CONFIG_FILE} configures {chips}: "
                    "MQSim did not simulate the rendered SSD"
                )
        printed = read_stdout_flows(rundir / STDOUT_LOG)
        for (s, i), lines in trace_line_counts(rundir, rundir / WORKLOAD_FILE).items():
            flows = printed.get(s, [])
            if i >= len(flows):
                raise SimulatorError(f"stdout has no summary of scenario {s} flow {i}")
            got = flows[i]
            if got["requests_generated"] != lines:
                raise SimulatorError(
                    f"scenario {s} flow {i} ({got['flow_name']}) generated {got['requests_generated']} requests "
                    f"but its trace has {lines}: MQSim stopped reading the trace early (malformed line?)"
                )
            if got["requests_serviced"] != got["requests_generated"]:
                raise SimulatorError(
                    f"scenario {s} flow {i} ({got['flow_name']}) serviced only {got['requests_serviced']} of "
                    f"{got['requests_generated']} requests: MQSim ended with requests stuck inside the SSD (its "
                    "engine stops when no event is left; trace flows have no end time). Seen when its cached "
                    "mapping table evicts: raise workload.mqsim.ssd.cmt_capacity_bytes or set ideal_mapping_table"
                )

    # ----------------------------------------------------------------- results
    def parse(self, rundir: Path) -> pd.DataFrame:
        return read_flow_table(Path(rundir), stem=WORKLOAD_STEM, ssdconfig=CONFIG_FILE, stdout=STDOUT_LOG)

    def annotate(self, rows: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        ssd, flash = point["ssd"], point["ssd"]["flash"]
        params = {
            "host_interface": ssd["host_interface"], "pcie_lanes": ssd["pcie_lanes"],
            "channels": ssd["channels"], "chips_per_channel": ssd["chips_per_channel"],
            "dies_per_chip": flash["dies_per_chip"], "planes_per_die": flash["planes_per_die"],
            "flash_technology": flash["technology"], "page_size_bytes": flash["page_size_bytes"],
            "overprovisioning_ratio": ssd["overprovisioning_ratio"],
            "caching_mechanism": ssd["caching_mechanism"],
        }
        out = rows.copy()
        for i, (key, value) in enumerate(params.items()):
            out.insert(i, key, value)
        per_flow = []
        for i, flow in enumerate(point["flows"]):
            entry = {"flow_index": i, "priority_class": flow["priority_class"],
                     "caching_mode": flow["caching_mode"], "flow_logical_sectors": flow["logical_sectors"]}
            if flow["kind"] == "trace":
                entry["request_size_kib"] = flow["io"]["request_size_kib"]
                entry["arrival_process"] = flow["io"]["arrival"]["process"]
                entry["mean_interval_us"] = flow["io"]["arrival"]["mean_interval_us"]
            else:
                entry["synthetic_generator"] = flow["synthetic"]["generator"]
            per_flow.append(entry)
        return out.merge(pd.DataFrame(per_flow), on="flow_index", how="left", validate="many_to_one")

    # ----------------------------------------------------------------- availability
    def _unavailable_detail(self) -> str:
        binary = self.site.get("binary")
        if not binary:
            return ("set mqsim.binary in config/simulators.yaml (or $EOESIM_SIMULATORS) to an MQSim executable "
                    "built from github.com/CMU-SAFARI/MQSim")
        return f"mqsim.binary {binary!r} is not an executable file here; fix mqsim.binary in the site config"

    def _image(self) -> str:
        image = self.site.get("image")
        if not image:
            raise SimulatorUnavailableError(
                "mqsim: mode is docker but no image is set; set mqsim.image in config/simulators.yaml")
        return image

    def availability(self) -> Availability:
        """Version = the upstream commit: mqsim.commit of the site config, else the image's revision label
        (docker) or the git commit of the MQSim checkout the binary is in (native), else 'unknown commit'."""
        if self.site.get("mode") == "docker":
            try:
                image_id = docker_image_id(self._image())
            except SimulatorUnavailableError as exc:
                return Availability(False, "docker", "unknown", str(exc))
            commit = self.site.get("commit") or image_commit(self._image())
            return Availability(True, "docker", commit or UNKNOWN,
                                f"{self._image()} ({image_id[:19]})" + ("" if commit else f"; {NO_COMMIT}"))
        exe = self._binary()
        if exe is None or not Path(exe).is_file():
            return Availability(False, "native", "not installed", self._unavailable_detail())
        commit = self.site.get("commit") or git_commit(exe, CHECKOUT_MARKER)
        return Availability(True, "native", commit or UNKNOWN, exe if commit else f"{exe}; {NO_COMMIT}")

    #: pack column -> table column: the surrogate's rows use the simulated table's names for the same quantity
    surrogate_columns = {"response_time_us": "device_response_time_mean_us", "request_size_KiB": "request_size_kib"}

    def annotate_surrogate(self, rows: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        """Achieved throughput in the simulated table's unit: throughput_bytes_per_s (the pack's MB/s x 1e6)."""
        out = rows.copy()
        if "achieved_throughput_MBps" in out:
            out["throughput_bytes_per_s"] = out.pop("achieved_throughput_MBps") * 1e6
        return out

    def surrogate_query(self, point: Mapping[str, Any]) -> pd.DataFrame:
        """One row per trace flow, in the calibrated pack's inputs (see surrogate_flow_row)."""
        rows = []
        for index, flow in enumerate(point["flows"]):
            if flow["kind"] != "trace":
                raise SimulatorUnavailableError("mqsim: the calibrated surrogate covers trace flows only, "
                                                f"not flows[{index}].kind = {flow['kind']!r}")
            rows.append(surrogate_flow_row(point, index))
        return pd.DataFrame(rows)

    def identity(self) -> dict[str, Any]:
        avail = self.availability()
        ident: dict[str, Any] = {"version": avail.version, "mode": avail.mode}
        if avail.mode == "docker":
            ident["image_id"] = docker_image_id(self._image())
        elif avail.available:
            ident["binary"] = self._binary()
            ident["binary_sha256"] = sha256_file(Path(ident["binary"]))
        return ident


#: settings of the SSD and of a flow that the calibrated pack has no input for, at the values its calibration
#: runs used (analysis/calibration/mqsim/PROVENANCE.md); a point with another value is outside its domain
CALIBRATED_SSD = {
    "host_interface": "NVME", "pcie_lane_bandwidth_gbytes_per_s": 1.0, "pcie_lanes": 4,
    "enabled_preconditioning": False,
    "io_queue_depth": 65535, "queue_fetch_size": 512, "caching_mechanism": "ADVANCED",
    "data_cache_sharing_mode": "SHARED", "data_cache_capacity_bytes": 268435456,
    "data_cache_dram_row_size_bytes": 8192, "data_cache_dram_data_rate_mtps": 100,
    "data_cache_dram_burst_size_bytes": 1, "data_cache_dram_trcd_ns": 13, "data_cache_dram_tcl_ns": 13,
    "data_cache_dram_trp_ns": 13, "address_mapping": "PAGE_LEVEL", "ideal_mapping_table": False,
    "cmt_capacity_bytes": 2097152, "cmt_sharing_mode": "SHARED", "plane_allocation_scheme": "CWDP",
    "transaction_scheduling_policy": "PRIORITY_OUT_OF_ORDER", "overprovisioning_ratio": 0.07,
    "gc_exec_threshold": 0.05, "channel_width_bytes": 1, "channel_transfer_rate_mtps": 333,
}
CALIBRATED_FLASH = {"blocks_per_plane": 2048, "pages_per_block": 256, "page_size_bytes": 8192}
CALIBRATED_FLOW = {"priority_class": "HIGH", "caching_mode": "WRITE_CACHE", "percentage_to_execute": 100,
                   "relay_count": 1, "request_interval_ns": 0, "flows_in_scenario": 1}


def _flow_settings(point: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The values of every CALIBRATED_* key (and the flash latencies vs their technology preset) of a flow."""
    ssd, flash, flow = point["ssd"], point["ssd"]["flash"], point["flows"][index]
    preset = FLASH_PRESETS[flash["technology"]]
    values = {**{k: ssd.get(k) for k in CALIBRATED_SSD}, **{f"flash.{k}": flash.get(k) for k in CALIBRATED_FLASH},
              **{k: flow.get(k) for k in CALIBRATED_FLOW}}
    values["request_interval_ns"] = flow["io"]["arrival"]["request_interval_ns"]
    values["flows_in_scenario"] = len(point["flows"])
    for key in ("read_latency_ns", "program_latency_ns"):
        values[f"flash.{key}"] = "technology preset" if list(flash[key]) == list(preset[key]) else list(flash[key])
    resources = {"channel_ids": ssd["channels"], "chip_ids": ssd["chips_per_channel"],
                 "die_ids": flash["dies_per_chip"], "plane_ids": flash["planes_per_die"]}
    for key, count in resources.items():
        values[key] = "all" if list(flow[key]) == list(range(count)) else list(flow[key])
    return values


def _calibrated_settings() -> dict[str, Any]:
    return {**CALIBRATED_SSD, **{f"flash.{k}": v for k, v in CALIBRATED_FLASH.items()}, **CALIBRATED_FLOW,
            "flash.read_latency_ns": "technology preset", "flash.program_latency_ns": "technology preset",
            "channel_ids": "all", "chip_ids": "all", "die_ids": "all", "plane_ids": "all"}


def transfer_arrivals_us(io: Mapping[str, Any], seed: int) -> list[float]:
    """Arrival time (us) of every transfer of a trace flow: its first request's arrival in the rendered trace."""
    desc = description_from_params(io, seed, "mqsim surrogate")
    starts = {(t.start_lba, t.op) for t in desc.transfers}
    return [r.arrival_ns / 1000.0 for r in generate_requests(desc) if (r.lba, r.op) in starts]


def surrogate_flow_row(point: Mapping[str, Any], index: int) -> dict[str, Any]:
    """One trace flow as the MQSim pack's inputs.

    Each transfer (an expert load or checkpoint) is a burst of ``requests_per_transfer`` back-to-back requests
    (NaN when the transfers of the flow differ in that, which the pack was not fitted on); transfers read more
    than once make the ``reread`` pattern over ``footprint_KiB`` (all their ranges), otherwise every transfer
    has its own range (``sequential``). Offered load = transfer bytes / mean gap between transfers. The
    transfers' arrival times of the rendered trace go with the row, so the flow's backlog is computed on them.
    """
    ssd, flash, flow = point["ssd"], point["ssd"]["flash"], point["flows"][index]
    io = flow["io"]
    desc = description_from_params(io, flow["trace_seed"], f"workload.mqsim.flows[{index}].io")
    events = [(desc.requests_per_transfer(t), t) for t in desc.transfers for _ in range(t.count)]
    per_transfer = {n for n, _ in events}
    requests = sum(n for n, _ in events)
    reads = sum(n for n, t in events if t.op == READ)
    transfer_bytes = sum(t.sectors * SECTOR_BYTES for _, t in events) / len(events)
    gap_us = float(io["arrival"]["mean_interval_us"])
    reread = any(t.count > 1 for t in desc.transfers)
    return {
        "scenario": 1, "flow_index": index, "channels": ssd["channels"],
        "chips_per_channel": ssd["chips_per_channel"], "dies_per_chip": flash["dies_per_chip"],
        "planes_per_die": flash["planes_per_die"], "flash_technology": flash["technology"],
        "request_size_KiB": io["request_size_kib"],
        "read_fraction": reads / requests,
        "offered_load_MBps": transfer_bytes / gap_us if gap_us > 0 else float("nan"),
        "requests_per_transfer": per_transfer.pop() if len(per_transfer) == 1 else float("nan"),
        "transfers": len(events),
        "pattern": "reread" if reread else "sequential",
        "footprint_KiB": sum(t.sectors for t in desc.transfers) * SECTOR_BYTES / 1024 if reread else float("nan"),
        "transfer_arrivals_us": " ".join(f"{a:.3f}" for a in transfer_arrivals_us(io, flow["trace_seed"])),
        SETTINGS_COLUMN: settings_level(_flow_settings(point, index), _calibrated_settings()),
    }


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"

