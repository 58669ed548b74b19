"""Parsers of Ramulator's statistics into tidy per-channel rows.

Ramulator 2.0 prints its stats as YAML on STDOUT after the run, preceded by spdlog lines
(``[Ramulator::LoadStoreTrace] [info] ...``): everything before the first line ``Frontend:`` is cut.
With more than one channel the ``MemorySystem`` mapping holds one ``Controller:`` key PER CHANNEL -
duplicate keys, of which a plain ``yaml.safe_load`` silently keeps only the last. The loader here keeps
every occurrence. Per-controller stat names carry the channel as a suffix (``row_hits_3``).

Ramulator 2.1 stats come from ``sim.stats`` (our rendered script dumps them to ``stats.json``; the
``stats.yaml`` of ``sim.stats_yaml`` is read the same way): ``memory_system.controller`` is one mapping
for one channel and a LIST of mappings for more; names carry no suffix.

Columns (one row per channel; ``*_cycles`` are memory-controller cycles, see ``tick_ps``):

* ``variant``, ``channel``, ``tick_ps`` (period of one controller cycle, from the timing preset's tCK,
  halved for 2.1 HBM3), ``request_bytes`` (data per read/write request; see ramulator_presets).
* ``memory_system_cycles`` - v2.0: MemorySystem.memory_system_cycles; v2.1: the controller's ``cycles``.
  ``sim_time_ns`` = memory_system_cycles x tick_ps / 1000.
* ``read_requests``, ``write_requests`` - the controller's num_read_reqs / num_write_reqs as printed.
  v2.0 increments them BEFORE the enqueue attempt, so every retry rejected by a full queue is counted too
  (inflated near saturation).
* ``reads_served``, ``writes_served`` - v2.0: read_row_hits + read_row_misses + read_row_conflicts (and
  write_*) = requests whose first DRAM command was issued; v2.1: num_read_reqs_served /
  num_write_reqs_served (final RD/WR issued).
* ``read_latency_sum_cycles`` - read_latency: sum of (data return - controller arrival) over reads.
* ``avg_read_latency_cycles`` = read_latency_sum_cycles / reads_served (NaN when no read was served):
  the corrected latency of the calibration data (v2.0's own average divides by the inflated
  num_read_reqs). ``avg_read_latency_ns`` = that x tick_ps / 1000.
* ``sim_avg_read_latency_cycles`` - the simulator's own avg_read_latency, unchanged (v2.0 prints
  ``.nan`` for idle channels: kept as NaN; v2.1 prints 0).
* ``row_hits``, ``row_misses``, ``row_conflicts`` (+ ``read_``/``write_`` splits) as printed;
  ``row_hit_rate`` = hits / (hits + misses + conflicts), NaN when nothing was classified.
* ``queue_len_avg``, ``read_queue_len_avg``, ``write_queue_len_avg``, ``priority_queue_len_avg`` -
  the simulator's time-averaged queue occupancies (entries).
* ``achieved_bandwidth_bytes_per_s`` = (reads_served + writes_served) x request_bytes /
  (memory_system_cycles x tick_ps x 1e-12). For v2.1 this reproduces the simulator's
  total_throughput_MBps (kept as ``sim_throughput_bytes_per_s`` = MBps x 1e6; NaN for v2.0).
* ``system_read_requests``, ``system_write_requests`` - MemorySystem total_num_read/write_requests
  (ACCEPTED requests; the same on every row of a run).
* ``system_avg_read_latency_cycles`` / ``_ns`` - sum over channels of read_latency / sum of reads_served
  (request-weighted, as in shared/calibration/ramulator2).
* ``system_achieved_bandwidth_bytes_per_s`` = (system_read_requests + system_write_requests) x
  request_bytes / (max memory_system_cycles x tick_ps x 1e-12) - the calibration data's formula; it
  includes the few requests accepted but not finished when the run ended.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from eoesim.errors import ParseError

STATS_START = "Frontend:"
CHANNEL_ID = re.compile(r"^Channel (\d+)$")

#: per-controller stats every v2.0 Controller block must have (printed with the suffix _<channel>)
V20_CONTROLLER_STATS = (
    "num_read_reqs", "num_write_reqs", "num_other_reqs", "read_latency", "avg_read_latency",
    "queue_len_avg", "read_queue_len_avg", "write_queue_len_avg", "priority_queue_len_avg",
    "row_hits", "row_misses", "row_conflicts", "read_row_hits", "read_row_misses", "read_row_conflicts",
    "write_row_hits", "write_row_misses", "write_row_conflicts",
)
V20_MEMORY_STATS = ("memory_system_cycles", "total_num_read_requests", "total_num_write_requests")

V21_CONTROLLER_STATS = (
    "cycles", "num_read_reqs", "num_write_reqs", "num_read_reqs_served", "num_write_reqs_served",
    "read_latency", "avg_read_latency", "queue_len_avg", "read_queue_len_avg", "write_queue_len_avg",
    "priority_queue_len_avg", "row_hits", "row_misses", "row_conflicts", "read_row_hits", "read_row_misses",
    "read_row_conflicts", "write_row_hits", "write_row_misses", "write_row_conflicts", "total_throughput_MBps",
)
V21_MEMORY_STATS = ("total_num_read_requests", "total_num_write_requests")


class Repeated(list):
    """Every value of a key that occurs more than once in one YAML mapping, in file order."""


class DuplicateKeyLoader(yaml.SafeLoader):
    """A SafeLoader that keeps duplicate mapping keys (as ``Repeated`` lists) instead of dropping them."""


def _construct_mapping(loader: DuplicateKeyLoader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        value = loader.construct_object(value_node, deep=True)
        if key not in out:
            out[key] = value
        elif isinstance(out[key], Repeated):
            out[key].append(value)
        else:
            out[key] = Repeated([out[key], value])
    return out


DuplicateKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True)
class RawStats:
    """Stats of one run, normalised across variants: per-channel mappings keyed by bare stat names."""

    variant: str
    path: Path
    memory: dict[str, Any]
    controllers: dict[int, dict[str, Any]]
    frontend_impl: str
    last_line: int


def yaml_after_log(text: str) -> tuple[str, int]:
    """The stats YAML of v2.0 stdout (from the first ``Frontend:`` line) and its 1-based start line."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.rstrip() == STATS_START:
            return "".join(lines[i:]), i + 1
    raise ValueError(f"no line {STATS_START!r} (Ramulator prints its stats YAML after the run; none found)")


def _number(value: Any, path: Path, what: str, line: int | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParseError(path, f"{what} is not a number: {value!r}", line)
    return value


def _channel_of(ident: Any, path: Path, line: int) -> int:
    match = CHANNEL_ID.match(str(ident))
    if not match:
        raise ParseError(path, f"controller id {ident!r} is not 'Channel <n>'", line)
    return int(match.group(1))


def _check_channels(controllers: dict[int, dict], path: Path, expected: int | None, last_line: int) -> None:
    found = sorted(controllers)
    if not found:
        raise ParseError(path, "no Controller statistics found (output truncated?)", last_line)
    want = list(range(expected if expected is not None else max(found) + 1))
    if found != want:
        missing = sorted(set(want) - set(found))
        raise ParseError(path, f"expected statistics of channels {want[0]}..{want[-1]}, found {found}"
                               f"{f' (missing {missing}; output truncated?)' if missing else ''}", last_line)


def load_v20_stdout(path: Path, expected_channels: int | None = None) -> RawStats:
    """Read Ramulator 2.0's stdout (log lines + stats YAML with one ``Controller:`` per channel)."""
    path = Path(path)
    if not path.is_file():
        raise ParseError(path, "stdout of the run is missing")
    text = path.read_text(errors="replace")
    try:
        body, start = yaml_after_log(text)
    except ValueError as exc:
        raise ParseError(path, str(exc), len(text.splitlines()) or None) from None
    last_line = len(text.splitlines())
    try:
        doc = yaml.load(body, Loader=DuplicateKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = start + mark.line if mark is not None else None
        raise ParseError(path, f"stats YAML is malformed: {exc}", line) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("MemorySystem"), dict):
        raise ParseError(path, "stats YAML has no MemorySystem mapping (output truncated?)", last_line)
    mem = doc["MemorySystem"]
    _require_numbers(mem, V20_MEMORY_STATS, "MemorySystem", path, last_line)
    blocks = mem.get("Controller")
    blocks = list(blocks) if isinstance(blocks, Repeated) else ([blocks] if blocks is not None else [])
    controllers: dict[int, dict[str, Any]] = {}
    for block in blocks:
        if not isinstance(block, dict) or "id" not in block:
            raise ParseError(path, f"a Controller block has no id (output truncated?): {block!r}"[:300], last_line)
        ch = _channel_of(block["id"], path, last_line)
        if ch in controllers:
            raise ParseError(path, f"channel {ch} is reported twice", last_line)
        record = {}
        for name in V20_CONTROLLER_STATS:
            key = f"{name}_{ch}"
            if key not in block:
                raise ParseError(path, f"Controller 'Channel {ch}' lacks {key} (output truncated?)", last_line)
            record[name] = _number(block[key], path, f"Channel {ch} {key}", None)
        controllers[ch] = record
    _check_channels(controllers, path, expected_channels, last_line)
    frontend = doc.get("Frontend") or {}
    return RawStats("v2.0", path, dict(mem), controllers, str(frontend.get("impl", "")), last_line)


def _require_numbers(mapping: dict, keys, label: str, path: Path, last_line: int) -> None:
    """Every key of ``keys`` is in ``mapping`` and numeric, else ParseError (the output was cut short)."""
    for key in keys:
        if key not in mapping:
            raise ParseError(path, f"{label} lacks {key} (output truncated?)", last_line)
        _number(mapping[key], path, f"{label}.{key}", None)


def load_v21_stats(path: Path, expected_channels: int | None = None) -> RawStats:
    """Read a Ramulator 2.1 stats file (``json.dump(sim.stats)`` or ``sim.stats_yaml``)."""
    path = Path(path)
    if not path.is_file():
        raise ParseError(path, "stats file is missing (the config script writes it after sim.run())")
    text = path.read_text(errors="replace")
    last_line = len(text.splitlines())
    try:
        doc = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=DuplicateKeyLoader)
    except json.JSONDecodeError as exc:
        raise ParseError(path, f"stats JSON is malformed (truncated?): {exc.msg}", exc.lineno) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ParseError(path, f"stats YAML is malformed: {exc}", mark.line + 1 if mark else None) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("memory_system"), dict):
        raise ParseError(path, "stats have no memory_system mapping", last_line)
    mem = doc["memory_system"]
    _require_numbers(mem, V21_MEMORY_STATS, "memory_system", path, last_line)
    ctrl = mem.get("controller")
    blocks = ctrl if isinstance(ctrl, list) else ([ctrl] if ctrl is not None else [])
    controllers: dict[int, dict[str, Any]] = {}
    for block in blocks:
        if not isinstance(block, dict) or "id" not in block:
            raise ParseError(path, "a controller entry has no id", last_line)
        ch = _channel_of(block["id"], path, last_line)
        if ch in controllers:
            raise ParseError(path, f"channel {ch} is reported twice", last_line)
        record = {}
        for name in V21_CONTROLLER_STATS:
            if name not in block:
                raise ParseError(path, f"controller 'Channel {ch}' lacks {name}", last_line)
            record[name] = _number(block[name], path, f"Channel {ch} {name}", None)
        controllers[ch] = record
    _check_channels(controllers, path, expected_channels, last_line)
    frontend = doc.get("frontend") or {}
    return RawStats("v2.1", path, dict(mem), controllers, str(frontend.get("impl", "")), last_line)


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def channel_rows(raw: RawStats, tick_ps: float, request_bytes: int) -> pd.DataFrame:
    """The tidy per-channel table of one run (columns documented in the module docstring)."""
    rows = []
    for ch in sorted(raw.controllers):
        c = raw.controllers[ch]
        if raw.variant == "v2.0":
            cycles = raw.memory["memory_system_cycles"]
            reads_served = c["read_row_hits"] + c["read_row_misses"] + c["read_row_conflicts"]
            writes_served = c["write_row_hits"] + c["write_row_misses"] + c["write_row_conflicts"]
            sim_throughput = math.nan
        else:
            cycles = c["cycles"]
            reads_served, writes_served = c["num_read_reqs_served"], c["num_write_reqs_served"]
            sim_throughput = c["total_throughput_MBps"] * 1e6
        avg_cycles = _ratio(c["read_latency"], reads_served)
        classified = c["row_hits"] + c["row_misses"] + c["row_conflicts"]
        rows.append({
            "variant": raw.variant,
            "channel": ch,
            "frontend": raw.frontend_impl,
            "tick_ps": float(tick_ps),
            "request_bytes": int(request_bytes),
            "memory_system_cycles": int(cycles),
            "sim_time_ns": cycles * tick_ps / 1000.0,
            "read_requests": int(c["num_read_reqs"]),
            "write_requests": int(c["num_write_reqs"]),
            "reads_served": int(reads_served),
            "writes_served": int(writes_served),
            "read_latency_sum_cycles": int(c["read_latency"]),
            "avg_read_latency_cycles": avg_cycles,
            "avg_read_latency_ns": avg_cycles * tick_ps / 1000.0,
            "sim_avg_read_latency_cycles": float(c["avg_read_latency"]),
            "row_hits": int(c["row_hits"]),
            "row_misses": int(c["row_misses"]),
            "row_conflicts": int(c["row_conflicts"]),
            "row_hit_rate": _ratio(c["row_hits"], classified),
            **{f"{rw}_row_{kind}": int(c[f"{rw}_row_{kind}"])
               for rw in ("read", "write") for kind in ("hits", "misses", "conflicts")},
            "queue_len_avg": float(c["queue_len_avg"]),
            "read_queue_len_avg": float(c["read_queue_len_avg"]),
            "write_queue_len_avg": float(c["write_queue_len_avg"]),
            "priority_queue_len_avg": float(c["priority_queue_len_avg"]),
            "achieved_bandwidth_bytes_per_s": _ratio((reads_served + writes_served) * request_bytes,
                                                     cycles * tick_ps * 1e-12),
            "sim_throughput_bytes_per_s": sim_throughput,
        })
    frame = pd.DataFrame(rows)
    total_reads = int(raw.memory["total_num_read_requests"])
    total_writes = int(raw.memory["total_num_write_requests"])
    sys_latency = _ratio(frame["read_latency_sum_cycles"].sum(), frame["reads_served"].sum())
    max_cycles = frame["memory_system_cycles"].max()
    frame["system_read_requests"] = total_reads
    frame["system_write_requests"] = total_writes
    frame["system_avg_read_latency_cycles"] = sys_latency
    frame["system_avg_read_latency_ns"] = sys_latency * tick_ps / 1000.0
    frame["system_achieved_bandwidth_bytes_per_s"] = _ratio((total_reads + total_writes) * request_bytes,
                                                            max_cycles * tick_ps * 1e-12)
    return frame


def read_stats(variant: str, path: Path, tick_ps: float, request_bytes: int,
               expected_channels: int | None = None) -> pd.DataFrame:
    """Parse one run's stats file of ``variant`` into the tidy per-channel table."""
    loader = load_v20_stdout if variant == "v2.0" else load_v21_stats
    return channel_rows(loader(path, expected_channels), tick_ps, request_bytes)
