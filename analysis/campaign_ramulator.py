"""Ramulator 2.0 calibration campaign: latency and bandwidth curves over offered load, dense around the knee.

``python -m eoesim.analysis.campaign_ramulator --workdir DIR --out analysis/calibration/ramulator2/curves.csv``
(site config from ``$EOESIM_SIMULATORS``, ``ramulator.variant: v2.0``; run it under ``nice``).

Every point goes through the project's Ramulator adapter (LoadStoreTrace frontend: the offered load is set
exactly by the frontend/memory clock-ratio pair; the access stream is the adapter's own generator), in
the settings the pack is calibrated for (``eoesim.simulators.ramulator.calibrated_settings``). The grid: four
standards x 1-8 channels x sequential/random x four read fractions x ``LOADS`` (finer from 0.7 of peak,
where the latency leaves its flat start and climbs to the plateau), plus repeats of random streams with
other seeds to measure the seed-to-seed spread.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from eoesim.analysis.realruns import campaign_main, run_points, simulator_point
from eoesim.analysis.surrogate_ramulator import ramulator_dataset

STANDARDS = ("DDR4", "DDR5", "HBM2", "HBM3")
CHANNELS = (1, 2, 4, 8)
PATTERNS = ("sequential", "random")
READ_FRACTIONS = (1.0, 0.85, 0.7, 0.5)
LOADS = (0.05, 0.15, 0.3, 0.45, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2)
#: (standard, channels, read fraction) of the random-stream repeats, at every load of REPEAT_LOADS
REPEATS = (("DDR4", 2, 1.0), ("DDR5", 4, 0.7), ("HBM2", 8, 1.0))
REPEAT_LOADS = (0.3, 0.6, 0.8, 0.9, 1.0)
REPEAT_SEEDS = (11, 12, 13)


def section(standard: str, channels: int, pattern: str, read_fraction: float, load: float,
            seed: int | None = None) -> dict:
    stream = {"pattern": pattern, "read_fraction": read_fraction}
    if seed is not None:
        stream["seed"] = seed
    return {"standard": standard, "channels": channels,
            "frontend": {"impl": "LoadStoreTrace", "offered_load": load}, "stream": stream}


def sections() -> list[dict]:
    out = [section(s, c, p, rf, load) for s in STANDARDS for c in CHANNELS for p in PATTERNS
           for rf in READ_FRACTIONS for load in LOADS]
    out += [section(s, c, "random", rf, load, seed) for s, c, rf in REPEATS for load in REPEAT_LOADS
            for seed in REPEAT_SEEDS]
    return out


def run_campaign(workdir: Path, site: dict, jobs: int = 2) -> pd.DataFrame:
    points = [simulator_point("ramulator", s) for s in sections()]
    table, runs = run_points("ramulator", points, site, workdir, jobs)
    frame = ramulator_dataset(table, runs)
    frame["status"] = "ok"
    return frame.sort_values(["standard", "channels", "pattern", "read_fraction", "offered_load_frac_of_peak",
                              "trace_seed"]).reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    return campaign_main(__doc__.splitlines()[0], "ramulator", run_campaign, argv)


if __name__ == "__main__":
    raise SystemExit(main())
