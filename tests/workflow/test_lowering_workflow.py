"""Rules lower_point, couple_memory, collect_memory_coupling and plot_memory_coupling on a tiny study
(real SCALE-Sim, surrogate memory tier), in a temporary directory."""
import json

import numpy as np
import pandas as pd
import pytest
from snakemake_runner import SHORT_REQUESTS, TINY_GEMMS, snakemake, write_study

from eoesim.config import build_study
from eoesim.simulators.mqsim_trace import read_trace
from eoesim.simulators.ramulator_traces import read_loadstore
from eoesim.stitch.coupling import config_totals, dataflow_winners

pytestmark = pytest.mark.slow

STUDY = {
    "study": "low",
    "eoe": {"experts": [{"name": n, "layers": 1, "d_model": 32, "heads": 2, "kv_heads": 2, "d_ff": 64, "vocab": 100}
                        for n in "abc"],
            "router": {"kind": "topk", "k": 1},
            "requests": {"count": 20, "rate_per_s": 1000, **SHORT_REQUESTS}},  # one expert + KV fit, not two
    "workload": {"scalesim": {"phase": "prefill", "seq_len": 16, "batch": 1}},
    "hardware": {"chiplet": {"array": [8, 8]}, "package": {"grid": [2, 2]},
                 "memory": {"hbm": {"capacity_gib": 5.0e-5}, "ddr": {"capacity_gib": 0.0}}},
    "mapping": {"cache_policy": "lru"},
    "sweep": {"grid": {"hardware.chiplet.dataflow": ["os", "ws"]}},
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("low")
    write_study(workdir, STUDY)
    points = [p.id for p in build_study(STUDY).points]
    targets = [f"results/low/workloads/{p}/lowering.json" for p in points] + [
        "results/low/coupling/memory_coupling.csv", "results/low/figures/memory_coupling.pdf",
        "results/low/tables/scalesim.csv", "results/low/points.csv"]
    proc = snakemake(workdir, *targets)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir / "results" / "low", points


def test_lowering_files_are_consumable_and_match_the_manifest(finished):
    base, points = finished
    for pid in points:
        d = base / "workloads" / pid
        manifest = json.loads((d / "lowering.json").read_text())
        lines = read_loadstore(d / "ramulator_trace.txt")
        assert len(lines) == manifest["ramulator_trace"]["lines"] > 0
        topo = (d / "scalesim_topology.csv").read_text().splitlines()
        assert topo[0] == "Layer Name, M, N, K," and len(topo) - 1 == manifest["scalesim_topology"]["gemms"]
        # one expert fits in HBM, none in DDR: cold loads from the SSD
        assert manifest["mqsim_trace"]["requests"] == len(read_trace(d / "mqsim_trace.txt")) > 0
        mat = pd.read_csv(d / "traffic_matrix.csv", index_col="src_chiplet").to_numpy()
        traffic = json.loads((d / "traffic.json").read_text())
        assert np.allclose(mat.sum(axis=1), traffic["sent_bytes"]) and mat.shape == (4, 4)


def test_coupling_table_matches_the_studys_scalesim_runs(finished):
    base, _ = finished
    table = pd.read_csv(base / "coupling" / "memory_coupling.csv")
    study = pd.read_csv(base / "tables" / "scalesim.csv")
    # the study ran the layer's six prefill GEMMs and the decode shapes of three experts of one shape; the coupling
    # couples the layer's GEMMs
    assert len(study) == 2 * TINY_GEMMS and len(table) == 2 * 6
    merged = table.merge(study, left_on=["dataflow", "layer_id"], right_on=["dataflow", "layer_id"])
    # the coupling run repeats the study's SCALE-Sim run with traces kept: same compute cycles
    assert (merged["compute_only_cycles"] == merged["total_cycles"]).all()
    assert (table["stall_cycles"] == table["memory_coupled_cycles"] - table["compute_only_cycles"]).all()
    assert (table["stall_cycles"] >= 0).all() and (table["dram_requests"] > 0).all()
    assert (table["fidelity"] == "surrogate").all() and table["source"].str.startswith("surrogate").all()
    winners = pd.read_csv(base / "coupling" / "dataflow_winners.csv")
    expected = dataflow_winners(table)
    assert winners["scope"].tolist() == ["8x8", "all"]
    assert winners["winner_compute_only"].tolist() == expected["winner_compute_only"].tolist()
    assert winners["coupling_flips_winner"].tolist() == expected["coupling_flips_winner"].tolist()
    traces = sorted(p.name for p in (base / "coupling").glob("*/ramulator/layer*.trace"))
    assert len(traces) == 2 * 6


def test_figure_plots_the_coupling_totals(finished):
    base, _ = finished
    table = pd.read_csv(base / "coupling" / "memory_coupling.csv")
    fig = pd.read_csv(base / "figures" / "memory_coupling.csv")
    totals = config_totals(table).set_index("config")
    for row in fig.itertuples(index=False):
        col = "compute_only_layer_cycles" if row.model == "compute only" else "memory_coupled_layer_cycles"
        assert row.layer_cycles == totals.loc[row.config, col]
    assert len(fig) == 2 * 2 and (base / "figures" / "memory_coupling.png").stat().st_size > 0
