"""gem5 Garnet calibration campaign: the project's chiplet package (chiplet_mesh) under synthetic traffic.

``python -m eoesim.analysis.campaign_garnet --workdir DIR --out chiplet_mesh.csv``
(site config from ``$EOESIM_SIMULATORS`` naming gem5.opt of Garnet_standalone and its configs/; run it
under ``nice``).

Every run goes through the project's Garnet adapter with ``topology: chiplet_mesh`` (the harness renders
the package as a gem5 topology module: a grid of chiplets of router meshes, links across a chiplet edge
are interposer links with their own latency and width, SerDes bridges where the width differs), in the
settings of the shared Mesh_XY dataset (table routing, single-flit packets, one directory per CPU, network
clock = tester clock, 10,000 tester cycles). The grid: chiplet grids and routers per chiplet (square and
not), interposer latency and width, traffic patterns, injection rates up to and past saturation. Every mesh
has a power-of-two router count: gem5 interleaves memory over num_dirs = num_cpus directories with log2 of
it address bits, so a 6x6 or 4x6 package dies in gem5 (the adapter refuses it at planning time).
Rows are in the shared dataset's columns plus the chiplet columns (study_calibration.garnet_dataset).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from eoesim.analysis.realruns import campaign_main, run_points, simulator_point
from eoesim.analysis.surrogate_garnet import garnet_dataset

RATES = (0.02, 0.1, 0.2, 0.3, 0.4, 0.5)
#: (chiplets, routers per chiplet, interposer latency, interposer width bits, patterns)
CELLS = (
    ((2, 2), (2, 2), 4, 128, ("uniform_random", "transpose", "shuffle", "bit_complement")),
    ((2, 2), (2, 2), 1, 128, ("uniform_random", "transpose")),
    ((2, 2), (2, 2), 8, 128, ("uniform_random",)),
    ((2, 2), (2, 2), 4, 64, ("uniform_random", "transpose")),
    ((2, 2), (2, 2), 4, 32, ("uniform_random",)),
    ((2, 2), (4, 4), 4, 128, ("uniform_random", "transpose")),
    ((1, 2), (2, 2), 4, 128, ("uniform_random", "shuffle")),
    ((2, 4), (2, 2), 2, 128, ("uniform_random",)),
    ((4, 4), (2, 2), 4, 128, ("uniform_random",)),
    ((4, 4), (1, 1), 4, 128, ("uniform_random",)),
    # interposer latency and width varied on the 2x4 and 8x8 packages too, so that every one of them is seen on
    # more than one mesh size (a held-out mesh size is then not the only place they vary)
    # the remaining patterns on the 4x4 package and more of them on the 8x8 one (a pattern not seen on a package is
    # a regime the pack refuses there)
    ((2, 2), (2, 2), 4, 128, ("neighbor", "tornado")),
    ((2, 2), (4, 4), 4, 128, ("shuffle", "bit_complement", "neighbor", "tornado")),
    ((1, 2), (2, 2), 1, 128, ("uniform_random",)),
    ((1, 2), (2, 2), 8, 128, ("uniform_random",)),
    ((1, 2), (2, 2), 4, 64, ("uniform_random",)),
    ((2, 2), (4, 4), 1, 128, ("uniform_random",)),
    ((2, 2), (4, 4), 8, 128, ("uniform_random",)),
    ((2, 2), (4, 4), 4, 64, ("uniform_random",)),
)


def sections() -> list[dict]:
    return [{"topology": "chiplet_mesh", "synthetic": pattern, "injection_rate": rate,
             "chiplet_mesh": {"chiplets": list(chiplets), "routers_per_chiplet": list(routers),
                              "interposer_link_latency_cycles": latency, "interposer_link_width_bits": width}}
            for chiplets, routers, latency, width, patterns in CELLS for pattern in patterns for rate in RATES]


def run_campaign(workdir: Path, site: dict, jobs: int = 2) -> pd.DataFrame:
    points = [simulator_point("garnet", s) for s in sections()]
    table, runs = run_points("garnet", points, site, workdir, jobs)
    return garnet_dataset(table, runs)


def main(argv: list[str] | None = None) -> int:
    return campaign_main(__doc__.splitlines()[0], "garnet", run_campaign, argv)


if __name__ == "__main__":
    raise SystemExit(main())
