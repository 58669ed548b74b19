"""The work of each Snakemake job, as plain functions (the rule scripts and the CLI call these)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from eoesim.errors import ParseError
from eoesim.execute import execute_run
from eoesim.reuse import RunCache
from eoesim.simulators.base import get_simulator

DEFAULT_TIMEOUT_S = 3600.0
#: site-config keys that bound a run (how long it may take) but not what it computes: they stay out of
#: the rules' params, which Snakemake re-runs jobs for when they change (raising a timeout re-runs nothing)
RUN_LIMIT_KEYS = ("timeout_s",)
#: columns of the harness's tables holding run or point ids: 12 hex digits, which pandas would read as a number
#: when they happen to look like one ("012345678901" -> 12345678901, "1e2345678901" -> inf)
ID_COLUMNS = ("run_id", "point_id", "simulated_runs")


def site_identity(site: Mapping[str, Any]) -> dict[str, Any]:
    """A simulator's site section without its run limits: what decides which simulator runs, and how."""
    return {k: v for k, v in site.items() if k not in RUN_LIMIT_KEYS}


def run_timeout_s(site: Mapping[str, Any]) -> int:
    """The site's ``timeout_s`` in whole seconds (a Snakemake resource, so not a re-run trigger)."""
    return math.ceil(float(site.get("timeout_s", DEFAULT_TIMEOUT_S)))


def run_simulation(
    simulator: str,
    params: Mapping[str, Any],
    site: Mapping[str, Any],
    run_id: str,
    run_dir: Path,
    logs_dir: Path,
    cache_dir: Path | None = None,
) -> pd.DataFrame:
    """Render, run (or reuse from ``cache_dir``), check, parse and publish one run (see execute.execute_run)."""
    sim = get_simulator(simulator, site)
    return execute_run(
        sim, params, run_id, Path(run_dir), Path(logs_dir), sim.runner(),
        float(site.get("timeout_s", DEFAULT_TIMEOUT_S)), sim.identity(),
        RunCache(Path(cache_dir)) if cache_dir is not None else None,
    )


def write_csv_atomic(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV through a temporary file and a rename, so no reader ever sees half a table."""
    write_text_atomic(path, frame.to_csv(index=False))


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def read_table(path: str | Path) -> pd.DataFrame:
    """A table the harness wrote (a run's result.csv, a study table), its id columns read as the text they are."""
    return pd.read_csv(path, dtype=dict.fromkeys(ID_COLUMNS, str))


def collect_table(result_csvs: Sequence[Path], out: Path) -> pd.DataFrame:
    """Concatenate the per-run result.csv files (in the given order) into one tidy table."""
    frames = []
    for path in result_csvs:
        try:
            frames.append(read_table(path))
        except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
            raise ParseError(path, f"unreadable result table: {exc}") from None
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    write_csv_atomic(table, out)
    return table
