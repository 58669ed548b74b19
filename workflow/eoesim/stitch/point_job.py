"""The stitch_e2e job of one design point: its component rows from the study's tables -> e2e outputs."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from eoesim.eoe.hardware import build_hardware
from eoesim.errors import ParseError
from eoesim.jobs import read_table
from eoesim.stitch.e2e import E2EResult, stitch_point, write_point
from eoesim.stitch.study_model import StudyComponentModel


def point_tables(runs: Mapping[str, Mapping[str, Any]]) -> dict[str, pd.DataFrame]:
    """The rows of each simulator's table that belong to this point's run (``runs``: sim -> run_id, table)."""
    tables = {}
    for sim, info in runs.items():
        table = read_table(info["table"])
        rows = table[table["run_id"] == info["run_id"]]
        if rows.empty:
            raise ParseError(info["table"], f"no rows of {sim} run {info['run_id']}")
        tables[sim] = rows
    return tables


def stitch_design_point(params: Mapping[str, Any], runs: Mapping[str, Mapping[str, Any]], outdir: Path,
                        base_dir: Path | None = None) -> E2EResult:
    """Stitch one design point from its component tables and write summary.json and timeline.json."""
    model = StudyComponentModel(build_hardware(params["hardware"]), point_tables(runs),
                                {sim: info["point"] for sim, info in runs.items()})
    result = stitch_point(params, model, base_dir=base_dir)
    write_point(result, outdir)
    return result
