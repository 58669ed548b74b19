"""CACTI 7's output for one SRAM: whether the run succeeded, and its numbers.

CACTI exits 0 in most failures, so success needs ALL of: exit code 0; nothing on stderr (its input checks -
"Number of sets is too small", "Associativity must be a power of 2", ... - are printed there before it
exits 0); no stdout line starting with ``ERROR`` ("ERROR: no valid data array organizations found",
"ERROR: no cache organizations met optimization criteria", ...) and none of its other fatal messages
("Invalid technology nodes", "<file> is missing!"); the results header; every result field below; and
the line MemCAD prints last (``COMPLETE_MARKER``), which a run cut short - or an output truncated on its
way to disk - lacks.

The numbers come from the block after the results header (``Cache Parameters:`` up to ``Time
Components:``), where CACTI prints the totals of the chosen organisation; leakage there is per bank.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from eoesim.errors import ParseError, SimulatorError

RESULTS_HEADER = "Uniform Cache Access SRAM Model"
RESULTS_END = "Time Components:"
COMPLETE_MARKER = "top 3 best memory configurations are:"
#: stdout messages after which CACTI stops (with exit code 0) without results
FATAL_MESSAGES = ("Invalid technology nodes", " is missing!", "current version does not support")
_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan)"
#: result column -> pattern of its line in the results block (units as CACTI prints them)
FIELDS = {
    "access_time_ns": rf"Access time \(ns\):\s*{_NUM}",
    "cycle_time_ns": rf"Cycle time \(ns\):\s*{_NUM}",
    "read_energy_nJ": rf"Total dynamic read energy per access \(nJ\):\s*{_NUM}",
    "write_energy_nJ": rf"Total dynamic write energy per access \(nJ\):\s*{_NUM}",
    "leakage_per_bank_mW": rf"Total leakage power of a bank \(mW\):\s*{_NUM}",
    "gate_leakage_per_bank_mW": rf"Total gate leakage power of a bank \(mW\):\s*{_NUM}",
}
_HEIGHT_WIDTH = re.compile(rf"Cache height x width \(mm\):\s*{_NUM}\s*x\s*{_NUM}")
#: what CACTI echoes of its input ("Print input parameters"), for the configuration-echo check
ECHO_FIELDS = {
    "size_bytes": r"^Cache size\s*:\s*(\d+)",
    "block_bytes": r"^Block size\s*:\s*(\d+)",
    "associativity": r"^Associativity\s*:\s*(\d+)",
    "rw_ports": r"^Read write ports\s*:\s*(\d+)",
    "read_ports": r"^Read only ports\s*:\s*(\d+)",
    "write_ports": r"^Write only ports\s*:\s*(\d+)",
    "banks": r"^Cache banks \(UCA\)\s*:\s*(\d+)",
    "technology_um": rf"^Technology\s*:\s*{_NUM}",
    "temperature_k": r"^Temperature\s*:\s*(\d+)",
}


@dataclass(frozen=True)
class SramResult:
    """One SRAM's CACTI results (per access energies, per bank leakage as CACTI reports them)."""

    access_time_ns: float
    cycle_time_ns: float
    read_energy_nJ: float
    write_energy_nJ: float
    leakage_per_bank_mW: float
    gate_leakage_per_bank_mW: float
    height_mm: float
    width_mm: float


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


def failure(stdout: str, stderr: str, returncode: int) -> str:
    """Why a CACTI run failed ('' if it succeeded), from its exit code and its own messages."""
    errors = [ln.strip() for ln in stdout.splitlines() if ln.strip().startswith("ERROR")]
    fatal = [ln.strip() for ln in stdout.splitlines() if any(m in ln for m in FATAL_MESSAGES)]
    complaint = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    said = (errors + fatal + complaint)[:1]
    if returncode != 0:
        return f"exited with code {returncode}" + (f": {said[0]}" if said else "")
    if errors or fatal:
        return f"printed {said[0]!r} and exited 0 (no valid organisation: no results)"
    if complaint:
        return f"rejected its input on stderr and exited 0: {' '.join(complaint)}"
    if RESULTS_HEADER not in stdout:
        return f"stdout lacks the results header {RESULTS_HEADER!r}"
    if COMPLETE_MARKER not in stdout:
        return f"stdout lacks the final line {COMPLETE_MARKER!r} (the run or its output was cut short)"
    return ""


def results_block(stdout: str) -> str:
    """The text between the results header and 'Time Components:' ('' if there is no header)."""
    start = stdout.find(RESULTS_HEADER)
    if start < 0:
        return ""
    end = stdout.find(RESULTS_END, start)
    return stdout[start:] if end < 0 else stdout[start:end]


def parse_stdout(path: Path) -> SramResult:
    """The results of one SRAM from CACTI's stdout; ParseError naming the file and the missing field."""
    block = results_block(_text(path))
    if not block:
        raise ParseError(path, f"no results block (header {RESULTS_HEADER!r})")
    values: dict[str, float] = {}
    for name, pattern in FIELDS.items():
        match = re.search(pattern, block)
        if match is None:
            raise ParseError(path, f"results block lacks {name} ({pattern.split(':')[0]})")
        values[name] = float(match.group(1))
    match = _HEIGHT_WIDTH.search(block)
    if match is None:
        raise ParseError(path, "results block lacks 'Cache height x width (mm)'")
    values["height_mm"], values["width_mm"] = float(match.group(1)), float(match.group(2))
    bad = {k: v for k, v in values.items() if not (v == v and abs(v) != float("inf"))}
    if bad:
        raise ParseError(path, f"non-finite result(s) {bad}")
    return SramResult(**values)


def echoed_inputs(path: Path) -> dict[str, float]:
    """What CACTI printed of its input parameters (the keys of ECHO_FIELDS it printed)."""
    text = _text(path)
    out = {}
    for name, pattern in ECHO_FIELDS.items():
        match = re.search(pattern, text, re.M)
        if match is not None:
            out[name] = float(match.group(1))
    return out


def check_sram(stdout: Path, stderr: Path, returncode: int, name: str) -> None:
    """Raise SimulatorError naming the SRAM unless its CACTI run succeeded (see the module docstring)."""
    why = failure(_text(stdout), _text(stderr), returncode)
    if why:
        raise SimulatorError(f"CACTI run of SRAM {name!r} failed: {why}")
