"""Block-I/O traces for MQSim (DiskSim ASCII) from an I/O description, and reading them back.

A trace line is ``<arrival_ns> <device> <start_lba_sector> <size_sectors> <type>`` with exactly one
space between the five non-negative integers, type 0 = write and 1 = read, and arrival times that never
decrease. MQSim stops reading *silently* at the first line without exactly five tokens (and aborts on a
decreasing time), so :func:`format_line` and :func:`write_trace` refuse to emit anything else and
:func:`read_trace` applies the same rules strictly.

The I/O description (:class:`IODescription`) is a list of transfers - expert loads (reads of an expert's
weight bytes) and checkpoint writes - each repeated ``count`` times and split into requests of
``request_sectors`` sectors (the last request of a transfer may be shorter; a byte count that is not a
multiple of 512 is rounded up to whole sectors). Transfers arrive as a Poisson process or at a fixed
interval; the requests of one transfer are issued ``request_interval_ns`` apart. All randomness comes from
``random.Random(seed)``, so a description always gives the same trace.
"""
from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple, Sequence

from eoesim.errors import ConfigError, ParseError, RenderError

SECTOR_BYTES = 512
WRITE, READ = 0, 1
#: MQSim reads arrival times with strtoll into a signed 64-bit value
MAX_TIME_NS = 2**63 - 1
#: a guard against descriptions that would write gigabyte-sized traces
MAX_REQUESTS = 5_000_000


class TraceRequest(NamedTuple):
    """One line of a DiskSim ASCII trace."""

    arrival_ns: int
    device: int
    lba: int
    sectors: int
    op: int  # 0 = write, 1 = read

    @property
    def is_read(self) -> bool:
        return self.op == READ


@dataclass(frozen=True)
class Transfer:
    """A contiguous LBA range read (expert load) or written (checkpoint) ``count`` times."""

    name: str
    op: int
    bytes: int
    count: int
    start_lba: int

    @property
    def sectors(self) -> int:
        return math.ceil(self.bytes / SECTOR_BYTES)

    @property
    def end_lba(self) -> int:
        """One past the last sector of the range."""
        return self.start_lba + self.sectors


@dataclass(frozen=True)
class Arrivals:
    """Arrival process of transfers: ``poisson`` (exponential gaps) or ``fixed`` gaps of mean_interval_ns."""

    process: str = "poisson"
    mean_interval_ns: float = 10_000_000.0
    request_interval_ns: int = 0
    start_ns: int = 0


@dataclass(frozen=True)
class IODescription:
    request_sectors: int
    transfers: tuple[Transfer, ...]
    arrivals: Arrivals
    order: str = "round_robin"
    seed: int = 1
    device: int = 0

    def requests_per_transfer(self, transfer: Transfer) -> int:
        return math.ceil(transfer.sectors / self.request_sectors)

    def total_requests(self) -> int:
        return sum(self.requests_per_transfer(t) * t.count for t in self.transfers)


def description_from_params(io: Mapping, seed: int, where: str) -> IODescription:
    """An IODescription from a (schema-validated) ``io`` section; LBA ranges laid out and checked.

    Ranges without ``start_lba`` are packed one after another (expert loads first, then checkpoints),
    each starting at a multiple of the request size. Overlapping ranges are a ConfigError.
    """
    request_sectors = io["request_size_kib"] * 1024 // SECTOR_BYTES
    arrival = io["arrival"]
    specs = [(f"{where}.expert_loads[{i}]", READ, e["name"], e["weight_bytes"], e["loads"], e.get("start_lba"))
             for i, e in enumerate(io["expert_loads"])]
    specs += [(f"{where}.checkpoint_writes[{i}]", WRITE, c["name"], c["bytes"], c["writes"], c.get("start_lba"))
              for i, c in enumerate(io["checkpoint_writes"])]
    if not specs:
        raise ConfigError(f"{where}: no expert_loads and no checkpoint_writes; allowed: at least one transfer "
                          "(MQSim cannot run an empty trace)")
    names = [s[2] for s in specs]
    dupes = sorted(n for n, times in Counter(names).items() if times > 1)
    if dupes:
        raise ConfigError(f"{where}: transfer name(s) {dupes} used twice; allowed: unique names")
    transfers: list[Transfer] = []
    next_free = 0
    for _path, op, name, nbytes, count, start in specs:
        if start is None:
            start = math.ceil(next_free / request_sectors) * request_sectors
        t = Transfer(name=name, op=op, bytes=int(nbytes), count=int(count), start_lba=int(start))
        transfers.append(t)
        next_free = max(next_free, t.end_lba)
    by_start = sorted(zip(transfers, specs), key=lambda p: p[0].start_lba)
    for (a, _), (b, spec_b) in zip(by_start, by_start[1:]):
        if b.start_lba < a.end_lba:
            raise ConfigError(
                f"{spec_b[0]}.start_lba: {b.start_lba} overlaps {a.name!r} (sectors {a.start_lba}..{a.end_lba - 1}); "
                f"allowed: a start_lba >= {a.end_lba} or one whose range ends before {a.start_lba}"
            )
    desc = IODescription(
        request_sectors=request_sectors,
        transfers=tuple(transfers),
        arrivals=Arrivals(
            process=arrival["process"],
            mean_interval_ns=float(arrival["mean_interval_us"]) * 1000.0,
            request_interval_ns=int(arrival["request_interval_ns"]),
            start_ns=int(arrival["start_ns"]),
        ),
        order=io["order"],
        seed=int(seed),
    )
    if desc.total_requests() > MAX_REQUESTS:
        raise ConfigError(
            f"{where}: the description makes {desc.total_requests()} requests; allowed: at most {MAX_REQUESTS} "
            "(raise request_size_kib or lower the counts)"
        )
    return desc


def _event_order(desc: IODescription, rng: random.Random) -> list[Transfer]:
    if desc.order == "round_robin":
        rounds = max(t.count for t in desc.transfers)
        return [t for r in range(rounds) for t in desc.transfers if r < t.count]
    if desc.order == "shuffled":
        events = [t for t in desc.transfers for _ in range(t.count)]
        rng.shuffle(events)
        return events
    raise ConfigError(f"io.order: {desc.order!r} is not allowed; allowed: ['round_robin', 'shuffled']")


def _gaps(desc: IODescription, rng: random.Random, n: int) -> list[float]:
    a = desc.arrivals
    if a.process == "fixed" or a.mean_interval_ns == 0:
        return [a.mean_interval_ns] * n
    if a.process == "poisson":
        return [rng.expovariate(1.0 / a.mean_interval_ns) for _ in range(n)]
    raise ConfigError(f"io.arrival.process: {a.process!r} is not allowed; allowed: ['poisson', 'fixed']")


def generate_requests(desc: IODescription) -> list[TraceRequest]:
    """The trace of ``desc``, sorted by arrival time (ties keep transfer order), never empty."""
    rng = random.Random(desc.seed)
    events = _event_order(desc, rng)
    gaps = _gaps(desc, rng, len(events))
    gaps[0] = 0.0  # the first transfer arrives at start_ns
    keyed: list[tuple[int, int, TraceRequest]] = []
    t_event = float(desc.arrivals.start_ns)
    seq = 0
    for transfer, gap in zip(events, gaps):
        t_event += gap
        base = int(t_event)
        n = desc.requests_per_transfer(transfer)
        for j in range(n):
            offset = j * desc.request_sectors
            size = min(desc.request_sectors, transfer.sectors - offset)
            req = TraceRequest(base + j * desc.arrivals.request_interval_ns, desc.device,
                               transfer.start_lba + offset, size, transfer.op)
            keyed.append((req.arrival_ns, seq, req))
            seq += 1
    keyed.sort(key=lambda k: (k[0], k[1]))
    return [k[2] for k in keyed]


def format_line(req: TraceRequest) -> str:
    """One trace line (with newline); RenderError for anything MQSim would misread."""
    fields = (req.arrival_ns, req.device, req.lba, req.sectors, req.op)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in fields):
        raise RenderError(f"mqsim trace: every field must be a non-negative integer, got {req!r}")
    if req.sectors < 1:
        raise RenderError(f"mqsim trace: a request must cover at least one sector, got {req!r}")
    if req.op not in (WRITE, READ):
        raise RenderError(f"mqsim trace: type must be 0 (write) or 1 (read), got {req!r}")
    if req.arrival_ns > MAX_TIME_NS:
        raise RenderError(f"mqsim trace: arrival time {req.arrival_ns} ns does not fit MQSim's 64-bit time")
    return f"{req.arrival_ns} {req.device} {req.lba} {req.sectors} {req.op}\n"


def write_trace(path: Path, requests: Sequence[TraceRequest]) -> Path:
    """Write ``requests`` as a DiskSim ASCII trace; RenderError if empty, malformed or out of time order."""
    if not requests:
        raise RenderError(f"{path}: refusing to write an empty trace (MQSim cannot run one)")
    lines = []
    prev = 0
    for i, req in enumerate(requests):
        if req.arrival_ns < prev:
            raise RenderError(f"{path}: request {i} arrives at {req.arrival_ns} ns, before the previous one "
                              f"({prev} ns)")
        prev = req.arrival_ns
        lines.append(format_line(req))
    Path(path).write_text("".join(lines))
    return Path(path)


def read_trace(path: Path) -> list[TraceRequest]:
    """Parse a DiskSim ASCII trace with MQSim's rules, strictly: ParseError (file, line) on any bad line.

    A trailing ``\\r`` is tolerated (MQSim strips it); anything else - wrong token count, double spaces,
    non-integers, a type other than 0/1, a zero size, a decreasing time - is an error, because MQSim would
    silently stop there.
    """
    path = Path(path)
    out: list[TraceRequest] = []
    prev = 0
    with open(path, encoding="ascii", errors="replace") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\n").rstrip("\r")
            tokens = line.split(" ")
            if len(tokens) != 5 or not all(tok.isdigit() for tok in tokens):
                raise ParseError(path, f"not 5 single-space-separated non-negative integers: {line!r}", lineno)
            t, dev, lba, size, op = (int(tok) for tok in tokens)
            if op not in (WRITE, READ):
                raise ParseError(path, f"request type {op} is not 0 (write) or 1 (read)", lineno)
            if size < 1:
                raise ParseError(path, "request size is 0 sectors", lineno)
            if t < prev:
                raise ParseError(path, f"arrival time {t} is before the previous line's {prev}", lineno)
            prev = t
            out.append(TraceRequest(t, dev, lba, size, op))
    if not out:
        raise ParseError(path, "the trace is empty")
    return out


def expected_totals(desc: IODescription) -> dict[str, dict[str, int]]:
    """Per transfer: op, requests and bytes the trace of ``desc`` must contain (bytes = whole sectors)."""
    return {
        t.name: {"op": t.op, "requests": desc.requests_per_transfer(t) * t.count,
                 "bytes": t.sectors * SECTOR_BYTES * t.count}
        for t in desc.transfers
    }


def trace_totals(requests: Iterable[TraceRequest], transfers: Sequence[Transfer]) -> dict[str, dict[str, int]]:
    """Per transfer: op, requests and bytes found in ``requests`` inside its LBA range with its type.

    A request that falls in no transfer's range (or straddles one's end) is counted under ``"<other>"``.
    """
    totals = {t.name: {"op": t.op, "requests": 0, "bytes": 0} for t in transfers}
    other = {"op": -1, "requests": 0, "bytes": 0}
    for req in requests:
        for t in transfers:
            if t.op == req.op and t.start_lba <= req.lba and req.lba + req.sectors <= t.end_lba:
                totals[t.name]["requests"] += 1
                totals[t.name]["bytes"] += req.sectors * SECTOR_BYTES
                break
        else:
            other["requests"] += 1
            other["bytes"] += req.sectors * SECTOR_BYTES
    if other["requests"]:
        totals["<other>"] = other
    return totals


def trace_summary(requests: Sequence[TraceRequest]) -> dict[str, int]:
    """Whole-trace figures: requests, reads, writes, bytes, first and last arrival (ns)."""
    reads = [r for r in requests if r.is_read]
    return {
        "requests": len(requests),
        "read_requests": len(reads),
        "write_requests": len(requests) - len(reads),
        "bytes": sum(r.sectors for r in requests) * SECTOR_BYTES,
        "read_bytes": sum(r.sectors for r in reads) * SECTOR_BYTES,
        "first_arrival_ns": requests[0].arrival_ns if requests else 0,
        "last_arrival_ns": requests[-1].arrival_ns if requests else 0,
    }
