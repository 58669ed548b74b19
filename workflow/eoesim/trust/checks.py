"""The sanity-check registry and the runner that applies every check to every parsed simulator table.

A check is a function ``fn(ctx: TableContext) -> list[Finding]`` registered with a name, a default
severity (error | warning), the simulators it applies to and a hint (what to look at when it fires).
Its docstring says why the check exists. An empty list means the check passed on that table. The
runner turns findings into one tidy row per (check, simulator): severity, status (pass | warn | fail),
rows affected, sample row ids, message, hint, and the real runs among the rows affected (those a failed
error-severity check invalidates, see eoesim.trust.report). Errors are raised by :func:`raise_on_errors` AFTER every
check has run, so one failure report names every failing check.

Severity overrides come from the study's ``sanity.severity`` mapping (error | warning | off).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import pandas as pd

from eoesim.errors import EoesimError

SEVERITIES = ("error", "warning")
OVERRIDES = ("error", "warning", "off")
STATUS_BY_SEVERITY = {"error": "fail", "warning": "warn"}
SAMPLE_ROWS = 5
#: columns that, with run_id, identify one row of a simulator's table (for sample row ids)
ROW_KEYS = {
    "scalesim": ("layer_id",),
    "garnet": ("vnet",),
    "ramulator": ("channel",),
    "mqsim": ("scenario", "flow_index"),
    "rapidchiplet": ("record",),
    "cacti": ("name",),
}
CHECK_COLUMNS = ["check", "simulator", "severity", "status", "rows_checked", "rows_affected", "sample_rows",
                 "message", "hint", "simulated_runs"]


class SanityCheckError(EoesimError):
    """One or more error-severity sanity checks failed; the message names checks, rows and hints."""


@dataclass(frozen=True)
class Finding:
    """What one check found wrong: the offending row labels (table index) and why."""

    rows: tuple = ()
    message: str = ""


@dataclass
class TableContext:
    """One simulator's table and where its runs live (``runs_dir/<run_id>/``, may be absent)."""

    simulator: str
    table: pd.DataFrame
    runs_dir: Path | None = None
    _records: dict = field(default_factory=dict)

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
        parts += [f"{k}={row[k]}" for k in ROW_KEYS.get(self.simulator, ()) if k in row]
        return ":".join(parts)


CheckFn = Callable[[TableContext], list[Finding]]


@dataclass(frozen=True)
class Check:
    name: str
    severity: str
    simulators: tuple[str, ...]
    hint: str
    fn: CheckFn

    @property
    def why(self) -> str:
        return " ".join((self.fn.__doc__ or "").split())


_REGISTRY: dict[str, Check] = {}


def check(name: str, severity: str, simulators: Iterable[str], hint: str) -> Callable[[CheckFn], CheckFn]:
    """Decorator: register a sanity check (a name is registered once; its docstring says why)."""
    if severity not in SEVERITIES:
        raise ValueError(f"check {name}: severity {severity!r} not in {SEVERITIES}")

    def register(fn: CheckFn) -> CheckFn:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ValueError(f"sanity check {name!r} is registered twice")
        if not (fn.__doc__ or "").strip():
            raise ValueError(f"sanity check {name!r} needs a docstring saying why it exists")
        _REGISTRY[name] = Check(name, severity, tuple(simulators), hint, fn)
        return fn

    return register


def registry() -> dict[str, Check]:
    """Every registered check by name (imports the modules that define them)."""
    from eoesim.trust import bounds, echo, sram, sweep  # noqa: F401  (they register on import)

    return dict(sorted(_REGISTRY.items()))


def effective_severity(chk: Check, overrides: Mapping[str, str]) -> str:
    return overrides.get(chk.name, chk.severity)


def _result_row(chk: Check, ctx: TableContext, severity: str, findings: list[Finding], checked: int) -> dict:
    labels = list(dict.fromkeys(label for f in findings for label in f.rows))
    messages = list(dict.fromkeys(f.message for f in findings if f.message))
    if findings:
        status = STATUS_BY_SEVERITY[severity]
        message = "; ".join(messages[:SAMPLE_ROWS]) + (f"; ... ({len(messages)} findings)"
                                                       if len(messages) > SAMPLE_ROWS else "")
    else:
        status = "pass"
        message = f"{checked} row(s) checked" if checked else "nothing to check in this table"
    return {
        "check": chk.name, "simulator": ctx.simulator, "severity": severity, "status": status,
        "rows_checked": checked, "rows_affected": len(labels),
        "sample_rows": " ".join(ctx.row_id(label) for label in labels[:SAMPLE_ROWS]),
        "message": message, "hint": chk.hint if findings else "",
        "simulated_runs": " ".join(ctx.simulated_run_ids(labels)),
    }


def run_checks(tables: Mapping[str, pd.DataFrame], runs_root: Path | None = None,
               overrides: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Apply every applicable check to every table; one row per (check, simulator) (see CHECK_COLUMNS).

    ``runs_root`` is ``results/<study>/runs`` (checks that read a run's echoed configuration look in
    ``runs_root/<simulator>/<run_id>/``); ``overrides`` maps check name -> error | warning | off.
    """
    overrides = dict(overrides or {})
    checks = registry()
    unknown = sorted(set(overrides) - set(checks))
    if unknown:
        raise SanityCheckError(f"sanity.severity: unknown check(s) {unknown}; allowed: {sorted(checks)}")
    rows = []
    for sim in sorted(tables):
        ctx = TableContext(sim, tables[sim].reset_index(drop=True),
                           Path(runs_root) / sim if runs_root is not None else None)
        for chk in checks.values():
            severity = effective_severity(chk, overrides)
            if sim not in chk.simulators or severity == "off":
                continue
            findings = chk.fn(ctx)
            rows.append(_result_row(chk, ctx, severity, findings, checked_rows(chk, ctx)))
    return pd.DataFrame(rows, columns=CHECK_COLUMNS)


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

