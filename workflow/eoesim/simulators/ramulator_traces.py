"""Memory traces for Ramulator's frontends, generated from an access-stream description.

Formats (identical in Ramulator 2.0 and 2.1):

* LoadStoreTrace - one request per line, ``LD <addr>`` (read) or ``ST <addr>`` (write); addresses are
  written as ``0x`` hex (the loader accepts decimal or 0x-hex).
* SimpleO3 - one load per line, ``<bubbles> <load addr> [<writeback addr>]``: ``bubbles`` non-memory
  instructions are issued before the load; the optional second address is a write (an LLC writeback).
  Addresses are DECIMAL: v2.0 parses them with ``std::stoll`` (base 10), so ``0x..`` would read as 0.

The stream (all deterministic for a given seed):

* ``sequential`` - address_i = base + (i * alignment) mod footprint (a weight stream, one transaction
  after another).
* ``strided`` - address_i = base + (i * stride) mod footprint (KV-cache / activation rows).
* ``random`` - uniform over the ``footprint / alignment`` aligned slots of [base, base + footprint);
  sampled WITHOUT replacement while there are enough slots (no repeated address, so no read-after-write
  forwarding in the controller), with replacement otherwise.

Read/write mix: exactly ``round((1 - read_fraction) * accesses)`` of the accesses are writes, at
positions drawn by the seeded RNG. For LoadStoreTrace accesses = lines. For SimpleO3 every line is a
load and writes ride along as writeback addresses, so with L lines there are
W = round(L * (1 - r) / r) writebacks (r >= 0.5 is required) and the read share W/(L+W) ~= 1 - r.
Loads and writebacks consume the address stream in trace order.

Intensity: LoadStoreTrace issues one request per frontend tick (offered load is set by the clock-ratio
pair, see the adapter); SimpleO3's ``bubbles`` set the instructions between loads.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from eoesim.errors import ConfigError, ParseError, RenderError

PATTERNS = ("sequential", "strided", "random")
FRONTENDS = ("LoadStoreTrace", "SimpleO3")


@dataclass(frozen=True)
class AccessStream:
    """One access stream; sizes in bytes. ``where`` prefixes error messages (the config key path)."""

    pattern: str
    num_requests: int
    read_fraction: float = 1.0
    footprint_bytes: int = 1 << 26
    base_address: int = 0
    alignment_bytes: int = 64
    stride_bytes: int | None = None
    bubbles: int = 0
    seed: int = 1
    where: str = "workload.ramulator.stream"

    def validate(self) -> None:
        w = self.where
        if self.pattern not in PATTERNS:
            raise ConfigError(f"{w}.pattern: {self.pattern!r} is not allowed; allowed: {list(PATTERNS)}")
        if self.num_requests < 1:
            raise ConfigError(f"{w}.num_requests: {self.num_requests} is not allowed; allowed: >= 1")
        if not 0.0 <= self.read_fraction <= 1.0:
            raise ConfigError(f"{w}.read_fraction: {self.read_fraction} is not allowed; allowed: 0..1")
        a = self.alignment_bytes
        if a < 1:
            raise ConfigError(f"{w}.alignment_bytes: {a} is not allowed; allowed: >= 1")
        if self.base_address < 0 or self.base_address % a:
            raise ConfigError(f"{w}.base_address: {self.base_address} is not allowed; "
                              f"allowed: a non-negative multiple of alignment_bytes={a}")
        if self.footprint_bytes < a or self.footprint_bytes % a:
            raise ConfigError(f"{w}.footprint_bytes: {self.footprint_bytes} is not allowed; "
                              f"allowed: a positive multiple of alignment_bytes={a}")
        if self.pattern == "strided":
            s = self.stride_bytes
            if s is None or s < a or s % a:
                raise ConfigError(f"{w}.stride_bytes: {s} is not allowed with pattern strided; "
                                  f"allowed: a positive multiple of alignment_bytes={a}")
        if self.bubbles < 0:
            raise ConfigError(f"{w}.bubbles: {self.bubbles} is not allowed; allowed: >= 0")


def addresses(stream: AccessStream, count: int) -> list[int]:
    """The first ``count`` addresses of the stream."""
    stream.validate()
    base, a, fp = stream.base_address, stream.alignment_bytes, stream.footprint_bytes
    if stream.pattern == "sequential":
        return [base + (i * a) % fp for i in range(count)]
    if stream.pattern == "strided":
        s = stream.stride_bytes
        return [base + (i * s) % fp for i in range(count)]
    slots = fp // a
    rng = random.Random(f"{stream.seed}:addresses")
    if slots >= count:
        picks = rng.sample(range(slots), count)
    else:
        picks = [rng.randrange(slots) for _ in range(count)]
    return [base + p * a for p in picks]


def _write_positions(total: int, writes: int, seed: int) -> set[int]:
    rng = random.Random(f"{seed}:writes")
    return set(rng.sample(range(total), writes))


@dataclass(frozen=True)
class TraceSummary:
    """What a generated trace contains (recorded with the run, and used for SimpleO3's insts)."""

    frontend: str
    lines: int
    reads: int
    writes: int
    instructions: int
    min_address: int
    max_address: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def loadstore_lines(stream: AccessStream) -> tuple[list[str], TraceSummary]:
    if stream.bubbles:
        raise ConfigError(f"{stream.where}.bubbles: {stream.bubbles} has no effect with frontend "
                          "LoadStoreTrace; allowed: 0 (set the offered load with frontend.offered_load)")
    n = stream.num_requests
    addrs = addresses(stream, n)
    writes = _write_positions(n, round((1.0 - stream.read_fraction) * n), stream.seed)
    lines = [f"{'ST' if i in writes else 'LD'} {addr:#x}" for i, addr in enumerate(addrs)]
    return lines, TraceSummary("LoadStoreTrace", n, n - len(writes), len(writes), n, min(addrs), max(addrs))


def simpleo3_lines(stream: AccessStream) -> tuple[list[str], TraceSummary]:
    n, r = stream.num_requests, stream.read_fraction
    if r < 0.5:
        raise ConfigError(f"{stream.where}.read_fraction: {r} is not allowed with frontend SimpleO3 (every line is "
                          "a load, writes are at most one writeback per load); allowed: 0.5..1")
    n_wb = round(n * (1.0 - r) / r)
    wb_lines = _write_positions(n, n_wb, stream.seed)
    addrs: Iterator[int] = iter(addresses(stream, n + n_wb))
    lines, used = [], []
    for i in range(n):
        load = next(addrs)
        used.append(load)
        if i in wb_lines:
            wb = next(addrs)
            used.append(wb)
            lines.append(f"{stream.bubbles} {load} {wb}")
        else:
            lines.append(f"{stream.bubbles} {load}")
    summary = TraceSummary("SimpleO3", n, n, n_wb, n * (stream.bubbles + 1), min(used), max(used))
    return lines, summary


def generate(frontend: str, stream: AccessStream) -> tuple[list[str], TraceSummary]:
    """Trace lines (without newlines) for ``frontend`` and what they contain."""
    if frontend == "LoadStoreTrace":
        return loadstore_lines(stream)
    if frontend == "SimpleO3":
        return simpleo3_lines(stream)
    raise ConfigError(f"workload.ramulator.frontend.impl: {frontend!r} is not allowed; allowed: {list(FRONTENDS)}")


def write_trace(path: Path, frontend: str, stream: AccessStream) -> TraceSummary:
    """Write the trace to ``path``; every line ends with a newline (loaders read with getline)."""
    lines, summary = generate(frontend, stream)
    Path(path).write_text("\n".join(lines) + "\n")
    return summary


def write_loadstore(path: Path, addresses_bytes, is_write) -> TraceSummary:
    """Write given requests (parallel sequences: byte addresses, write flags) as a LoadStoreTrace, in order.

    For traces lowered from a workload (an EoE design point, a SCALE-Sim DRAM trace) rather than generated
    from an AccessStream; RenderError for an empty or negative-address request list (Ramulator would run
    nothing / wrap the address).
    """
    addrs = [int(a) for a in addresses_bytes]
    writes = [bool(w) for w in is_write]
    if not addrs or len(addrs) != len(writes):
        raise RenderError(f"{path}: {len(addrs)} addresses and {len(writes)} write flags; allowed: equal, >= 1")
    if min(addrs) < 0:
        raise RenderError(f"{path}: negative address {min(addrs)}; allowed: addresses >= 0")
    Path(path).write_text("".join(f"{'ST' if w else 'LD'} {a:#x}\n" for a, w in zip(addrs, writes)))
    n_w = sum(writes)
    return TraceSummary("LoadStoreTrace", len(addrs), len(addrs) - n_w, n_w, len(addrs), min(addrs), max(addrs))


def read_loadstore(path: Path) -> list[tuple[bool, int]]:
    """Parse a LoadStoreTrace the way Ramulator 2's loader does, strictly: ``(is_write, address)`` per line.

    Ramulator splits each line on spaces and needs exactly two tokens, ``LD`` or ``ST`` then an address
    (decimal or ``0x`` hex, read with ``std::stoll(.., 0)``); anything else is a ParseError (file, line).
    """
    out = []
    with open(path, encoding="ascii", errors="replace") as fh:
        for lineno, raw in enumerate(fh, start=1):
            tokens = raw.rstrip("\n").split(" ")
            if len(tokens) != 2 or tokens[0] not in ("LD", "ST"):
                raise ParseError(path, f"not '<LD|ST> <address>': {raw.rstrip()!r}", lineno)
            try:
                addr = int(tokens[1], 0)
            except ValueError:
                raise ParseError(path, f"address {tokens[1]!r} is not decimal or 0x-hex", lineno) from None
            if addr < 0:
                raise ParseError(path, f"negative address {addr}", lineno)
            out.append((tokens[0] == "ST", addr))
    if not out:
        raise ParseError(path, "the trace is empty")
    return out
