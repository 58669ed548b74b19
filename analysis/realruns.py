"""Real simulator runs for the calibration datasets, made through the harness's own adapters.

Every run goes through the same path as a study's run (``eoesim.jobs.run_simulation``: render the
native inputs from templates, run the simulator, check, parse, annotate), so a dataset row is exactly
what the project's own workflow would produce for that design point. A point is given as a
``workload.<simulator>`` section (plus an optional study seed); it is validated with the study schema
(defaults filled in) on top of the default study and resolved by the adapter (``point_params``).

Runs already present under ``workdir/runs/<run id>`` (a ``result.csv``) are reused, so a campaign can
be stopped and resumed. Simulators are started through a thread pool (the work happens in their
subprocesses); the caller sets the process priority (``nice``), which the subprocesses inherit.
"""
from __future__ import annotations

import argparse
import copy
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd
import yaml

from eoesim.config import build_study, point_id
from eoesim.errors import EoesimError
from eoesim.jobs import read_table, run_simulation
from eoesim.paths import project_root
from eoesim.simulators.base import get_simulator
from eoesim.site import load_site_config

log = logging.getLogger(__name__)

#: the study the points are resolved on (its workload.<simulator> section is replaced)
BASE_STUDY = "config/config.yaml"
RESULT_FILE = "result.csv"


def simulator_point(simulator: str, section: Mapping[str, Any], seed: int = 1,
                    base_study: Path | None = None) -> dict:
    """The adapter's point for ``workload.<simulator> = section`` on the default study (validated)."""
    config = yaml.safe_load((Path(base_study) if base_study else project_root() / BASE_STUDY).read_text())
    config = copy.deepcopy(config)
    config["sweep"] = {}
    config["seed"] = int(seed)
    config.setdefault("workload", {})[simulator] = copy.deepcopy(dict(section))
    study = build_study(config, f"realruns {simulator}")
    return get_simulator(simulator, {}).point_params(study.points[0].params)


def run_id_of(simulator: str, point: Mapping[str, Any]) -> str:
    """The run id a study would give this point (the point id of the simulator's slice)."""
    return point_id({"simulator": simulator, **point})


def _one(simulator: str, point: Mapping[str, Any], site: Mapping[str, Any], workdir: Path) -> pd.DataFrame | None:
    run_id = run_id_of(simulator, point)
    final = workdir / "runs" / run_id
    if (final / RESULT_FILE).is_file():
        return read_table(final / RESULT_FILE)
    try:
        return run_simulation(simulator, point, site, run_id, final, workdir / "logs" / run_id)
    except EoesimError as exc:   # one failed run must not stop a campaign; it is logged and left out
        log.warning("%s run %s failed: %s", simulator, run_id, exc)
        return None


def run_points(simulator: str, points: Sequence[Mapping[str, Any]], site: Mapping[str, Any], workdir: Path,
               jobs: int = 2) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Run every point (reusing finished runs); return the concatenated table and run id -> point."""
    workdir = Path(workdir)
    runs = {run_id_of(simulator, p): dict(p) for p in points}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        tables = list(pool.map(lambda p: _one(simulator, p, site, workdir), runs.values()))
    done = [t for t in tables if t is not None]
    log.info("%s: %d of %d runs succeeded", simulator, len(done), len(runs))
    return (pd.concat(done, ignore_index=True) if done else pd.DataFrame()), runs


def campaign_main(description: str, simulator: str, run: Callable[[Path, dict, int], pd.DataFrame],
                  argv: list[str] | None = None) -> int:
    """The command line of a one-dataset campaign: ``--workdir DIR --out CSV [--jobs N]``; the simulator's site
    section comes from ``$EOESIM_SIMULATORS`` (or config/simulators.yaml)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workdir", type=Path, required=True, help="run directories (outside the repository)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    frame = run(args.workdir, load_site_config()[simulator], args.jobs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    log.info("wrote %d rows to %s", len(frame), args.out)
    return 0
