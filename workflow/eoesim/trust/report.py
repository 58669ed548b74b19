"""Run the sanity checks of one study and write checks.csv plus an HTML summary for the Snakemake report.

When an error-severity check fails, the real runs among its rows are invalidated before the error is
raised (eoesim.execute.invalidate_run: moved to ``logs/<simulator>/<run id>/`` with a note, evicted from
the run cache), so the next workflow run recomputes them instead of publishing the same bad rows again;
every other run stays.
"""
from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Mapping

import pandas as pd

from eoesim.execute import invalidate_run
from eoesim.jobs import read_table
from eoesim.reuse import RunCache
from eoesim.trust.checks import SanityCheckError, raise_on_errors
from eoesim.trust.suite import registry, run_checks

log = logging.getLogger(__name__)
STATUS_ORDER = {"fail": 0, "warn": 1, "pass": 2}


def load_tables(paths: list[str | Path]) -> dict[str, pd.DataFrame]:
    """``tables/<simulator>.csv`` files by simulator name (the file stem)."""
    return {Path(p).stem: read_table(p) for p in paths}


def summary_html(results: pd.DataFrame, study: str) -> str:
    """A self-contained HTML page: counts, then one table row per (check, simulator), worst first."""
    counts = results["status"].value_counts().to_dict()
    ordered = results.assign(_o=results["status"].map(STATUS_ORDER)).sort_values(["_o", "check", "simulator"])
    colour = {"fail": "#f4cccc", "warn": "#fff2cc", "pass": "#d9ead3"}
    head = "".join(f"<th>{html.escape(c)}</th>" for c in results.columns)
    body = "".join(
        f"<tr style='background:{colour[r['status']]}'>"
        + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in results.columns) + "</tr>"
        for _, r in ordered.iterrows()
    )
    why = "".join(f"<li><b>{html.escape(c.name)}</b> ({c.severity}): {html.escape(c.why)}</li>"
                  for c in registry().values())
    return (f"<html><head><meta charset='utf-8'><title>Sanity checks: {html.escape(study)}</title></head><body>"
            f"<h1>Sanity checks of study {html.escape(study)}</h1>"
            f"<p>{counts.get('fail', 0)} failed, {counts.get('warn', 0)} warnings, {counts.get('pass', 0)} passed.</p>"
            f"<table border='1' cellspacing='0' cellpadding='3'><tr>{head}</tr>{body}</table>"
            f"<h2>Why each check exists</h2><ul>{why}</ul></body></html>")


def failed_runs(results: pd.DataFrame) -> dict[tuple[str, str], list[str]]:
    """(simulator, run id) -> the failed error-severity checks whose rows include that real run."""
    out: dict[tuple[str, str], list[str]] = {}
    for row in results[results["status"] == "fail"].itertuples():
        for run_id in str(row.simulated_runs or "").split():
            out.setdefault((row.simulator, run_id), []).append(row.check)
    return out


def invalidate_failed_runs(results: pd.DataFrame, runs_root: Path, logs_root: Path,
                           cache: RunCache | None) -> list[str]:
    """Invalidate every real run a failed error-severity check names; ``simulator/run id`` of each."""
    done = []
    for (sim, run_id), checks in sorted(failed_runs(results).items()):
        reason = f"sanity check(s) {', '.join(checks)} failed on its rows"
        if invalidate_run(Path(runs_root) / sim / run_id, Path(logs_root) / sim / run_id, reason, cache):
            log.warning("%s run %s invalidated (%s): moved to %s", sim, run_id, reason, Path(logs_root) / sim / run_id)
            done.append(f"{sim}/{run_id}")
    return done


def sanity_check_study(tables: list[str | Path], runs_root: str | Path, overrides: Mapping[str, str],
                       checks_csv: str | Path, summary: str | Path, study: str,
                       logs_root: str | Path | None = None, cache_dir: str | Path | None = None) -> pd.DataFrame:
    """Check every table; on error-severity failures invalidate the real runs they name (with
    ``logs_root``) and raise SanityCheckError (nothing written)."""
    results = run_checks(load_tables(tables), Path(runs_root), overrides)
    for row in results[results["status"] != "pass"].itertuples():
        log.warning("%s [%s] %s: %s (%s)", row.check, row.simulator, row.status, row.message, row.sample_rows)
    try:
        raise_on_errors(results)
    except SanityCheckError as exc:
        if logs_root is None:
            raise
        cache = RunCache(Path(cache_dir)) if cache_dir else None
        invalidated = invalidate_failed_runs(results, Path(runs_root), Path(logs_root), cache)
        if not invalidated:
            raise
        raise SanityCheckError(
            f"{exc}\n{len(invalidated)} published run(s) invalidated, moved to {logs_root}/<simulator>/<run id>/ "
            f"and dropped from the run cache, so the next workflow run recomputes them: {' '.join(invalidated)}"
        ) from None
    Path(checks_csv).parent.mkdir(parents=True, exist_ok=True)
    results.to_csv(checks_csv, index=False)
    Path(summary).write_text(summary_html(results, study))
    return results
