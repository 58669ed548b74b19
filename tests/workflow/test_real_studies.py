"""The real-simulator check's studies: one small study per simulator at ``fidelity: simulate`` through Snakemake.

Each runs the real simulator of the site config ($EOESIM_SIMULATORS, native or an image) up to the sanity
check, then runs again in a second working directory with the same run cache, where the run must be restored
from the cache and give the same table. Marker ``real``: only ``make test-real`` runs them (see
tests/real_simulators.py); elsewhere they are skipped with the reason. The studies also hold the regressions
of issue 15 that need a real run: RapidChiplet's chiplet_type/link_length/booksim_load records and an HBM3
Ramulator run must pass sanity, a cached RapidChiplet run must restore, gem5 must be usable at all.
"""
import json
import os

import pandas as pd
import pytest
from real_simulators import real_site
from snakemake_runner import TINY, snakemake, write_study

pytestmark = pytest.mark.real

#: the simulator's workload section of each study (small: each runs in seconds to a minute on 2 cores)
WORKLOADS = {
    "mqsim": {"ssd": {"channels": 2, "chips_per_channel": 2, "flash": {"technology": "TLC", "blocks_per_plane": 256}},
              "flows": [{"kind": "trace", "io": {"request_size_kib": 128, "arrival": {"mean_interval_us": 2000},
                                                 "expert_loads": [{"name": "e", "weight_bytes": 1048576,
                                                                   "loads": 50}]}}]},
    "rapidchiplet": {"route": "experiment", "routing_algorithm": "splif", "traffic": {"pattern": "random_uniform"},
                     "booksim": {"enabled": True}},
    "ramulator": {"standard": "HBM3", "channels": 8, "frontend": {"impl": "LoadStoreTrace", "offered_load": 0.5},
                  "stream": {"num_requests": 20000}},
    "garnet": {"topology": "Mesh_XY", "synthetic": "uniform_random", "injection_rate": 0.1},
}
OTHERS = ("garnet", "ramulator", "mqsim", "rapidchiplet")


def study_for(sim: str) -> dict:
    """TINY with ``sim`` simulated for real and the other external simulators as surrogates."""
    fidelity = {name: "surrogate" for name in OTHERS}
    fidelity.update(scalesim="simulate", **{sim: "simulate"})
    return {**TINY, "study": f"real_{sim}", "fidelity": fidelity, "workload": {**TINY["workload"], sim: WORKLOADS[sim]}}


def run_study(workdir, study, cache):
    workdir.mkdir(parents=True)
    write_study(workdir, study)
    env = {**os.environ, "EOESIM_CACHE": str(cache)}
    proc = snakemake(workdir, f"results/{study['study']}/sanity/checks.csv", env=env, timeout=3000)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return workdir / "results" / study["study"]


@pytest.mark.parametrize("sim", ["mqsim", "rapidchiplet", "ramulator", "garnet"])
def test_small_study_runs_the_real_simulator_passes_sanity_and_restores_from_the_cache(sim, tmp_path):
    real_site(sim)
    study = study_for(sim)
    first = run_study(tmp_path / "first", study, tmp_path / "cache")
    table = pd.read_csv(first / "tables" / f"{sim}.csv")
    assert len(table) and (table["fidelity"] == "simulate").all()
    checks = pd.read_csv(first / "sanity" / "checks.csv")
    assert not (checks["status"] == "fail").any(), checks[checks["status"] == "fail"].to_string()
    run_ids = sorted(set(table["run_id"]))
    for run_id in run_ids:
        record = json.loads((first / "runs" / sim / run_id / "run.json").read_text())
        assert record["exit_code"] == 0 and record["reused_from"] is None
        assert record["version"] not in ("unknown", "unknown commit")

    second = run_study(tmp_path / "second", study, tmp_path / "cache")
    for run_id in run_ids:
        record = json.loads((second / "runs" / sim / run_id / "run.json").read_text())
        assert record["reused_from"], f"{sim} run {run_id} was simulated again instead of restored"
    again = pd.read_csv(second / "tables" / f"{sim}.csv")
    pd.testing.assert_frame_equal(table, again)
