"""Real runs of the project's own studies, kept as small fixtures for the surrogate packs' tests.

``python -m eoesim.analysis.project_workloads --workdir DIR --out tests/golden/surrogates [--simulators mqsim ...]``
(site config from ``$EOESIM_SIMULATORS``; run it under ``nice``).

For every study the project ships (config/config.yaml and config/studies/*.yaml) and every simulator, each
distinct run the study plans (the simulator's slice of a design point, by run id) is run for real through
the harness. ``<pack>_project_workloads.csv`` keeps per run (and observation) the study file, the run id and
the real values of the pack's primary outputs in the adapter's table columns; the tests rebuild the point from the
study, ask the pack through the adapter's ``surrogate_query`` and compare.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from eoesim.analysis.realruns import run_points
from eoesim.config import load_study, point_id
from eoesim.paths import project_root
from eoesim.simulators.base import get_simulator
from eoesim.site import load_site_config

log = logging.getLogger(__name__)

#: per simulator: per fixture file (its pack), the table rows that are observations of the pack and the columns kept
OBSERVED = {
    "mqsim": {"mqsim": (None, ["scenario", "flow_index", "device_response_time_mean_us", "throughput_bytes_per_s"])},
    "ramulator": {"ramulator": (None, ["system_avg_read_latency_ns", "system_achieved_bandwidth_bytes_per_s"])},
    "garnet": {"garnet": (("vnet", "all"), ["average_packet_latency_cycles", "average_hops", "acceptance_ratio"])},
    "rapidchiplet": {
        "rapidchiplet": (("record", "package"), ["latency_avg_cycles", "aggregate_throughput_bits_per_cycle",
                                                 "total_chiplet_area_mm2", "total_power_W"]),
        "rapidchiplet_booksim": (("record", "booksim_load"), ["injection_rate_flits_per_node_per_cycle",
                                                              "packet_latency_avg_cycles"]),
    },
}


def study_files() -> list[Path]:
    root = project_root()
    return [root / "config" / "config.yaml", *sorted((root / "config" / "studies").glob("*.yaml"))]


def study_runs(simulator: str, study_file: Path) -> dict[str, dict]:
    """run id -> the simulator's point, for every distinct run of the study."""
    study = load_study(study_file)
    sim = get_simulator(simulator, {})
    out = {}
    for p in study.points:
        params = sim.point_params(p.params)
        out[point_id({"simulator": simulator, **params})] = params
    return out


def fixtures(simulator: str, workdir: Path, site: dict, jobs: int = 2) -> dict[str, pd.DataFrame]:
    """Fixture name -> its rows, from real runs of every distinct run of every shipped study."""
    frames: dict[str, list[pd.DataFrame]] = {name: [] for name in OBSERVED[simulator]}
    for path in study_files():
        runs = study_runs(simulator, path)
        table, _ = run_points(simulator, list(runs.values()), site, workdir, jobs)
        if table.empty:
            continue
        for name, (where, keep) in OBSERVED[simulator].items():
            rows = table if where is None else table[table[where[0]].astype(str) == where[1]]
            rows = rows[["run_id", *[c for c in keep if c in rows]]].copy()
            rows.insert(0, "study", str(path.relative_to(project_root())))
            frames[name].append(rows)
    return {name: pd.concat(parts, ignore_index=True).drop_duplicates() if parts else pd.DataFrame()
            for name, parts in frames.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="run directories (outside the repository)")
    parser.add_argument("--out", type=Path, required=True, help="fixture directory")
    parser.add_argument("--simulators", nargs="+", default=list(OBSERVED), choices=sorted(OBSERVED))
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    site = load_site_config()
    args.out.mkdir(parents=True, exist_ok=True)
    for simulator in args.simulators:
        for name, frame in fixtures(simulator, args.workdir / simulator, site[simulator], args.jobs).items():
            frame.to_csv(args.out / f"{name}_project_workloads.csv", index=False)
            log.info("%s: %d rows of real runs of the project's studies", name, len(frame))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
