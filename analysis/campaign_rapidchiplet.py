"""RapidChiplet calibration campaign: the packages the project renders, analytically and with BookSim.

``python -m eoesim.analysis.campaign_rapidchiplet --workdir DIR --out-dir analysis/calibration/rapidchiplet``
(site config from ``$EOESIM_SIMULATORS``; run it under ``nice``). Writes ``design.csv`` (analytical
metrics, one row per run) and ``design_booksim.csv`` (BookSim latency per stable load, RapidChiplet's own
load sweep), in the columns of the shared datasets plus ``route``, ``routing``, ``edge_columns``.

The points use the project's design route (the harness renders chiplets, placement, topology, routing
table and traffic; the study's default chiplet, technology and packaging settings - the ones of
RapidChiplet's examples) over topologies, grid shapes (square and not), traffic patterns (hotspot
seeded) and, analytically, memory/IO edge columns; topologies the design route does not render
(flattened butterfly, hexagonal placements) go through the experiment route (RapidChiplet's own
generators, SPLIF routing).
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from eoesim.analysis.realruns import run_points, simulator_point
from eoesim.analysis.surrogate_rapidchiplet import rapidchiplet_booksim_dataset, rapidchiplet_dataset
from eoesim.simulators.rapidchiplet_package import DESIGN_TOPOLOGIES
from eoesim.site import load_site_config

log = logging.getLogger(__name__)

GRIDS = ((2, 2), (3, 3), (4, 4), (2, 4), (3, 5), (5, 5), (6, 6))
TOPOLOGIES = ("mesh", "torus", "folded_torus", "flattened_butterfly")
TRAFFICS = ("random_uniform", "transpose", "hotspot")
EDGES = ({"west": "memory"}, {"east": "io"}, {"west": "memory", "east": "io"})
BOOKSIM_DESIGNS = (
    *(("mesh", g, t) for g in ((2, 2), (3, 3), (4, 4), (2, 4), (3, 4)) for t in TRAFFICS
      if t != "transpose" or g[0] == g[1]),
    *(("torus", g, t) for g in ((3, 3), (4, 4), (3, 4)) for t in ("random_uniform", "transpose")
      if t != "transpose" or g[0] == g[1]),
    ("folded_torus", (3, 3), "random_uniform"), ("folded_torus", (4, 4), "random_uniform"),
)


def _valid(topology: str, grid: tuple[int, int], traffic: str) -> bool:
    if traffic == "transpose" and grid[0] != grid[1]:
        return False
    return not (topology in ("torus", "folded_torus") and 2 in grid)


def _route(topology: str) -> dict:
    """The design route where it has the topology, else RapidChiplet's own generators (experiment route)."""
    if topology in DESIGN_TOPOLOGIES:
        return {"route": "design"}
    return {"route": "experiment", "routing_algorithm": "splif"}


def analytic_sections() -> list[dict]:
    out = [{**_route(t), "topology": t, "grid": list(g), "traffic": {"pattern": tr}}
           for t in TOPOLOGIES for g in GRIDS for tr in TRAFFICS if _valid(t, g, tr)]
    out += [{"route": "design", "topology": "mesh", "grid": list(g), "edge_columns": e,
             "traffic": {"pattern": "random_uniform"}} for g in ((2, 2), (3, 3), (4, 4)) for e in EDGES]
    out += [{"route": "experiment", "routing_algorithm": "splif", "topology": "hexamesh", "hex_radius": r,
             "traffic": {"pattern": tr}} for r in (1, 2, 3) for tr in ("random_uniform", "hotspot")]
    return out


def booksim_sections() -> list[dict]:
    return [{"route": "design", "topology": t, "grid": list(g), "traffic": {"pattern": tr},
             "booksim": {"enabled": True}} for t, g, tr in BOOKSIM_DESIGNS]


def _annotate(frame: pd.DataFrame, runs: dict) -> pd.DataFrame:
    """Add what the shared datasets held fixed and the design route varies."""
    out = frame.copy()
    point = [runs[rid] for rid in out["run_id"]]
    out["route"] = [p["route"] for p in point]
    out["routing"] = [p["routing"] if p["route"] == "design" else p["routing_algorithm"] for p in point]
    out["edge_columns"] = [f"{p['edge_columns']['west']}/{p['edge_columns']['east']}" for p in point]
    out["seed"] = [p["seed"] or 0 for p in point]
    hexa = [p["hex_radius"] is not None for p in point]
    out["hex_radius"] = [p["hex_radius"] if h else np.nan for p, h in zip(point, hexa)]
    for col in ("grid_rows", "grid_cols"):
        if col in out:
            out[col] = out[col].where(~np.asarray(hexa), np.nan)
    return out


def run_campaign(workdir: Path, site: dict, jobs: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    analytic = [simulator_point("rapidchiplet", s) for s in analytic_sections()]
    table, runs = run_points("rapidchiplet", analytic, site, workdir, jobs)
    design = _annotate(rapidchiplet_dataset(table, runs), runs)
    booksim = [simulator_point("rapidchiplet", s) for s in booksim_sections()]
    btable, bruns = run_points("rapidchiplet", booksim, site, workdir, jobs)
    loads = _annotate(rapidchiplet_booksim_dataset(btable, bruns), bruns)
    return design, loads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="run directories (outside the repository)")
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    design, loads = run_campaign(args.workdir, load_site_config()["rapidchiplet"], args.jobs)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    design.to_csv(args.out_dir / "design.csv", index=False)
    loads.to_csv(args.out_dir / "design_booksim.csv", index=False)
    log.info("wrote %d analytical and %d BookSim rows to %s", len(design), len(loads), args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
