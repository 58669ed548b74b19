"""What a sanity check is: the decorator that registers one, its findings and the table it looks at.

A check is a function ``fn(ctx: TableContext) -> list[Finding]`` registered with a name, a default
severity (error | warning), a hint (what to look at when it fires) and which simulators it applies to:
every registered simulator (``every_simulator``), or - the default - those whose adapter names it in its
``bounds_checks`` / ``echo_checks`` (eoesim.simulators.base: the adapter owns that fact). Its docstring says
why the check exists. An empty list means the check passed on that table. ``eoesim.trust.suite`` imports the
modules that define checks and runs them; :func:`raise_on_errors` raises AFTER every check has run, so one
failure report names every failing check.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import pandas as pd

from eoesim.errors import EoesimError
from eoesim.simulators.base import Simulator

SEVERITIES = ("error", "warning")
OVERRIDES = ("error", "warning", "off")
STATUS_BY_SEVERITY = {"error": "fail", "warning": "warn"}
SAMPLE_ROWS = 5


class SanityCheckError(EoesimError):
    """One or more error-severity sanity checks failed; the message names checks, rows and hints."""


@dataclass(frozen=True)
class Finding:
    """What one check found wrong: the offending row labels (table index) and why."""

    rows: tuple = ()
    message: str = ""


@dataclass
class TableContext:
    """One simulator's table, its adapter class (the simulator's facts) and where its runs live
    (``runs_dir/<run_id>/``, may be absent)."""

    adapter: type[Simulator]
    table: pd.DataFrame
    runs_dir: Path | None = None
    _records: dict = field(default_factory=dict)

    @property
    def simulator(self) -> str:
        return self.adapter.name

    def simulated(self) -> pd.DataFrame:
        """Rows of real simulator runs (fidelity == simulate)."""
        if "fidelity" not in self.table:
            return self.table
        return self.table[self.table["fidelity"] == "simulate"]

    def run_dir(self, run_id: str) -> Path | None:
        if self.runs_dir is None:
            return None
        path = Path(self.runs_dir) / str(run_id)
        return path if path.is_dir() else None

    def run_record(self, run_id: str) -> dict | None:
        """The run's run.json (provenance: parameters, argv, inputs_sha256), or None without a run dir."""
        if run_id not in self._records:
            rundir = self.run_dir(run_id)
            path = rundir / "run.json" if rundir else None
            self._records[run_id] = json.loads(path.read_text()) if path and path.is_file() else None
        return self._records[run_id]

    def simulated_run_dirs(self) -> list[tuple[str, Path]]:
        """(run_id, directory) of every simulated run in the table that has a run directory."""
        runs = sorted(set(self.simulated().get("run_id", pd.Series(dtype=str)).astype(str)))
        return [(rid, d) for rid in runs if (d := self.run_dir(rid)) is not None]

    def rows_of_run(self, run_id: str) -> tuple:
        return tuple(self.table.index[self.table["run_id"].astype(str) == str(run_id)])

    def findings_per_run(self, compare: Callable[[Path], list[str]]) -> list[Finding]:
        """One finding per simulated run whose directory ``compare`` finds problems in (all its rows)."""
        out = []
        for run_id, rundir in self.simulated_run_dirs():
            problems = compare(rundir)
            if problems:
                out.append(Finding(self.rows_of_run(run_id), f"run {run_id}: " + "; ".join(problems)))
        return out

    def simulated_run_ids(self, labels) -> list[str]:
        """The run ids of the real runs (fidelity simulate) among the rows ``labels``."""
        if "run_id" not in self.table or not len(labels):
            return []
        rows = self.table.loc[list(labels)]
        if "fidelity" in rows:
            rows = rows[rows["fidelity"] == "simulate"]
        return sorted(set(rows["run_id"].astype(str)))

    def row_id(self, label) -> str:
        row = self.table.loc[label]
        parts = [str(row["run_id"])] if "run_id" in row else [str(label)]
        parts += [f"{k}={row[k]}" for k in self.adapter.row_keys if k in row]
        return ":".join(parts)


CheckFn = Callable[[TableContext], list[Finding]]
#: which simulators a check applies to, asked of each simulator's adapter class
Applies = Callable[[type[Simulator]], bool]


def every_simulator(adapter: type[Simulator]) -> bool:
    """A check of every simulator's table (bounds and echoes that hold whatever the simulator)."""
    return True


@dataclass(frozen=True)
class Check:
    name: str
    severity: str
    hint: str
    fn: CheckFn
    #: None: the check applies to the simulators whose adapter declares it (bounds_checks / echo_checks)
    applies: Applies | None = None

    @property
    def why(self) -> str:
        return " ".join((self.fn.__doc__ or "").split())

    def applies_to(self, adapter: type[Simulator]) -> bool:
        return self.applies(adapter) if self.applies else self.name in adapter.check_names()


REGISTERED: dict[str, Check] = {}


def check(name: str, severity: str, hint: str, applies: Applies | None = None) -> Callable[[CheckFn], CheckFn]:
    """Decorator: register a sanity check (a name is registered once; its docstring says why).

    ``applies``: which simulators it checks (``every_simulator``, or a test of the adapter's facts); by default
    those whose adapter lists ``name`` in its ``bounds_checks`` or ``echo_checks``."""
    if severity not in SEVERITIES:
        raise ValueError(f"check {name}: severity {severity!r} not in {SEVERITIES}")

    def register(fn: CheckFn) -> CheckFn:
        if name in REGISTERED and REGISTERED[name].fn is not fn:
            raise ValueError(f"sanity check {name!r} is registered twice")
        if not (fn.__doc__ or "").strip():
            raise ValueError(f"sanity check {name!r} needs a docstring saying why it exists")
        REGISTERED[name] = Check(name, severity, hint, fn, applies)
        return fn

    return register


def effective_severity(chk: Check, overrides: Mapping[str, str]) -> str:
    return overrides.get(chk.name, chk.severity)


def checked_rows(chk: Check, ctx: TableContext) -> int:
    """How many rows a check looked at: simulated rows for checks of real runs, else every row."""
    return len(ctx.simulated()) if getattr(chk.fn, "simulated_only", False) else len(ctx.table)


def simulated_only(fn: CheckFn) -> CheckFn:
    """Mark a check as looking at real-simulation rows only (for the rows_checked count)."""
    fn.simulated_only = True  # type: ignore[attr-defined]
    return fn


def raise_on_errors(results: pd.DataFrame) -> None:
    """SanityCheckError naming every failed check, its offending rows and its hint."""
    failed = results[results["status"] == "fail"]
    if failed.empty:
        return
    lines = [f"{len(failed)} sanity check(s) failed:"]
    for row in failed.itertuples():
        lines.append(f"  {row.check} [{row.simulator}] {row.rows_affected} row(s) ({row.sample_rows}): "
                     f"{row.message}. Hint: {row.hint}")
    raise SanityCheckError("\n".join(lines))

