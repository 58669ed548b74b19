"""Every sanity check, and the runner that applies them to every parsed simulator table.

Importing this module imports the modules that define checks (bounds, echo, sram, sweep), so
:func:`registry` holds them all. The runner turns findings into one tidy row per (check, simulator):
severity, status (pass | warn | fail), rows affected, sample row ids, message, hint, and the real runs among
the rows affected (those a failed error-severity check invalidates, see eoesim.trust.report). A check runs on
a table when it applies to the table's simulator (eoesim.trust.checks: every simulator, or as the adapter
declares). Severity overrides come from the study's ``sanity.severity`` mapping (error | warning | off).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pandas as pd

from eoesim.simulators.base import registry as adapters
from eoesim.trust import bounds, echo, sram, sweep
from eoesim.trust.checks import (
    REGISTERED,
    SAMPLE_ROWS,
    STATUS_BY_SEVERITY,
    Check,
    Finding,
    SanityCheckError,
    TableContext,
    checked_rows,
    effective_severity,
)

#: the modules whose checks register on import (what registry() holds)
CHECK_MODULES = (bounds, echo, sram, sweep)
CHECK_COLUMNS = ["check", "simulator", "severity", "status", "rows_checked", "rows_affected", "sample_rows",
                 "message", "hint", "simulated_runs"]


def registry() -> dict[str, Check]:
    """Every registered check by name."""
    return dict(sorted(REGISTERED.items()))


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
    known = adapters()
    strangers = sorted(set(tables) - set(known))
    if strangers:
        raise SanityCheckError(f"sanity check: table(s) of {strangers} are not of a registered simulator; "
                               f"allowed: {sorted(known)}")
    rows = []
    for sim in sorted(tables):
        ctx = TableContext(known[sim], tables[sim].reset_index(drop=True),
                           Path(runs_root) / sim if runs_root is not None else None)
        for chk in checks.values():
            severity = effective_severity(chk, overrides)
            if not chk.applies_to(known[sim]) or severity == "off":
                continue
            findings = chk.fn(ctx)
            rows.append(_result_row(chk, ctx, severity, findings, checked_rows(chk, ctx)))
    return pd.DataFrame(rows, columns=CHECK_COLUMNS)


