"""The DSE objectives of a design point, read from its e2e summary and (area) the RapidChiplet table.

Every objective is minimised. Latency and energy come from the stitched e2e summary
(``e2e/summary.csv`` columns); area is RapidChiplet's ``total_chiplet_area_mm2`` of the point's
RapidChiplet run (its ``package`` record), available only when the study has a RapidChiplet table.
"""
from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from eoesim.errors import ConfigError
from eoesim.serving.columns import summary_row

LATENCY_OBJECTIVES = ("e2e_latency_p99_s", "e2e_latency_mean_s")
ENERGY_OBJECTIVE = "energy_per_token_j"
AREA_OBJECTIVE = "area_mm2"
AREA_COLUMN = "total_chiplet_area_mm2"
#: the e2e objectives, columns of e2e/summary.csv (eoesim.serving.columns)
OBJECTIVE_COLUMNS = ("e2e_latency_p99_s", "e2e_latency_mean_s", ENERGY_OBJECTIVE)
#: axis labels with units
LABELS = {"e2e_latency_p99_s": "p99 end-to-end latency (s)", "e2e_latency_mean_s": "Mean end-to-end latency (s)",
          ENERGY_OBJECTIVE: "Energy per token (mJ)", AREA_OBJECTIVE: "Chiplet area (mm²)"}


def check_dse(dse: Mapping[str, Any], source: str) -> None:
    """The objectives must hold exactly one latency objective and the energy per token."""
    objectives = list(dse["objectives"])
    latency = [o for o in objectives if o in LATENCY_OBJECTIVES]
    if len(latency) != 1 or ENERGY_OBJECTIVE not in objectives:
        raise ConfigError(f"{source}: dse.objectives: {objectives!r} is not allowed; allowed: exactly one of "
                          f"{list(LATENCY_OBJECTIVES)}, plus {ENERGY_OBJECTIVE!r}, optionally {AREA_OBJECTIVE!r}")


def latency_objective(objectives: list[str]) -> str:
    return next(o for o in objectives if o in LATENCY_OBJECTIVES)


def summary_objectives(summary: Mapping[str, Any]) -> dict[str, float]:
    """The e2e objectives of one stitched summary.json."""
    row = summary_row("", summary)
    return {name: float(row[name]) for name in OBJECTIVE_COLUMNS}


def point_areas(rapidchiplet: pd.DataFrame | None, point_runs: Mapping[str, str]) -> dict[str, float]:
    """Point id -> total chiplet area (mm2) of its RapidChiplet run (``point_runs``: point -> run id)."""
    if rapidchiplet is None or AREA_COLUMN not in rapidchiplet.columns:
        return {}
    rows = rapidchiplet
    if "record" in rows.columns:
        rows = rows[rows["record"] == "package"]
    area = rows.dropna(subset=[AREA_COLUMN]).groupby("run_id")[AREA_COLUMN].first()
    return {pid: float(area[rid]) for pid, rid in point_runs.items() if rid in area.index}


def usable_objectives(objectives: list[str], areas: Mapping[str, float], points: list[str]) -> tuple[list[str], str]:
    """The objectives that can be evaluated for every point, and why any was left out ('' if none)."""
    if AREA_OBJECTIVE in objectives and not all(p in areas for p in points):
        return ([o for o in objectives if o != AREA_OBJECTIVE],
                "area_mm2 left out: the study has no RapidChiplet area for every point")
    return list(objectives), ""
