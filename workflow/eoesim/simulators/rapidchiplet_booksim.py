"""Parser of BookSim2's stdout (upstream BookSim2 and RapidChiplet's patched copy print the same summary).

RapidChiplet reads BookSim's output itself by splitting lines at single spaces at fixed positions; this
module reads the same final block independently, to check RapidChiplet's numbers and to read a BookSim run
directly. BookSim's exit code is useless (a completed run exits 255, an unstable one 0), so success is
judged from the text: the LAST ``====== Overall Traffic Statistics ======`` block must be present and
"Simulation unstable" absent.

Per traffic class the block has ``<Stat> average = X (N samples)`` followed by tab-indented ``minimum`` and
``maximum`` lines for packet/network/flit latency (cycles), fragmentation, injected/accepted packet and flit
rates (per node per cycle); then packet size averages (flits) and ``Hops average``. After the block:
``Total run time <host seconds>``. ``Time taken is N cycles`` precedes it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from eoesim.errors import ParseError

OVERALL_BANNER = "====== Overall Traffic Statistics ======"
UNSTABLE_MARKER = "Simulation unstable"
_CLASS_RE = re.compile(r"^====== Traffic class (\d+) ======$")
_AVG_RE = re.compile(r"^([A-Z][A-Za-z ]+?) average ?= (\S+) \((\d+) samples\)$")
_BOUND_RE = re.compile(r"^\t(minimum|maximum) = (\S+) \((\d+) samples\)$")
_TIME_RE = re.compile(r"^Time taken is (\d+) cycles$")
_RUN_TIME_RE = re.compile(r"^Total run time (\S+)$")


@dataclass
class BookSimStats:
    """Final statistics: ``classes[c][stat] = {"avg": .., "min": .., "max": ..}`` with snake_case stat names."""

    classes: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)
    time_taken_cycles: int | None = None
    total_run_time_s: float | None = None


def _key(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def parse_booksim_stdout(text: str, path: Path | str = "<stdout>") -> BookSimStats:
    """Statistics of the last overall block; ParseError if the run was unstable, incomplete or malformed."""
    lines = text.splitlines()
    if any(UNSTABLE_MARKER in ln for ln in lines):
        raise ParseError(path, f"BookSim reported '{UNSTABLE_MARKER}' (offered load beyond saturation)")
    starts = [i for i, ln in enumerate(lines) if ln.strip() == OVERALL_BANNER]
    if not starts:
        raise ParseError(path, f"no '{OVERALL_BANNER}' block (BookSim did not finish)")
    stats = BookSimStats()
    for ln in lines[: starts[-1]]:
        m = _TIME_RE.match(ln.strip())
        if m:
            stats.time_taken_cycles = int(m.group(1))
    current: dict[str, dict[str, float]] | None = None
    last_stat = None
    for lineno, ln in enumerate(lines[starts[-1] + 1:], start=starts[-1] + 2):
        m = _CLASS_RE.match(ln.strip())
        if m:
            current = stats.classes.setdefault(int(m.group(1)), {})
            continue
        m = _AVG_RE.match(ln)
        if m and current is not None:
            last_stat = _key(m.group(1))
            current[last_stat] = {"avg": _float(m.group(2), path, lineno)}
            continue
        m = _BOUND_RE.match(ln)
        if m and current is not None and last_stat is not None:
            current[last_stat]["min" if m.group(1) == "minimum" else "max"] = _float(m.group(2), path, lineno)
            continue
        m = _RUN_TIME_RE.match(ln.strip())
        if m:
            stats.total_run_time_s = _float(m.group(1), path, lineno)
    if not stats.classes or not all("packet_latency" in c for c in stats.classes.values()):
        raise ParseError(path, "the overall statistics block has no packet latency (truncated?)", line=len(lines))
    if stats.total_run_time_s is None:
        raise ParseError(path, "no 'Total run time' line after the statistics (truncated?)", line=len(lines))
    return stats


def _float(text: str, path: Path | str, lineno: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise ParseError(path, f"{text!r} is not a number", line=lineno) from None
