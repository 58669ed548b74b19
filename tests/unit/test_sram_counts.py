"""SCALE-Sim's SRAM access counts: the analytic count equals what real SCALE-Sim 3.0.0 runs report.

Golden reports (tests/golden/scalesim/sram_counts/, see PROVENANCE.md): the default study's 9 runs (3 square
arrays x 3 dataflows, 6 GEMMs each) and 6 scratch runs on rectangular arrays with shapes that are not
multiples of the array (incl. m = 1, n = 1, k = 1). The slow test runs SCALE-Sim itself on more odd shapes.
"""
import configparser
import csv
from pathlib import Path

import pandas as pd
import pytest

from eoesim.analysis.scalesim_sram import sram_access_words
from eoesim.eoe.expert import Gemm
from eoesim.eoe.hardware import build_hardware
from eoesim.errors import ConfigError
from eoesim.simulators.scalesim_reports import read_reports
from eoesim.stitch.study_model import SRAM_WORD_COLUMNS, StudyComponentModel

GOLDEN = Path(__file__).parents[1] / "golden" / "scalesim" / "sram_counts"


def golden_runs():
    return sorted(p for p in GOLDEN.iterdir() if p.is_dir())


def run_rows(folder: Path) -> pd.DataFrame:
    """One row per GEMM of a real run: array, dataflow, m, n, k and SCALE-Sim's SRAM word counts."""
    cfg = configparser.ConfigParser()
    cfg.read(folder / "scale.cfg")
    arch = cfg["architecture_presets"]
    with open(folder / "topology.csv", newline="") as fh:
        topo = [[c.strip() for c in r if c.strip()] for r in csv.reader(fh)][1:]
    reports = read_reports(folder).sort_values("layer_id")
    rows = pd.DataFrame({"m": [int(r[1]) for r in topo], "n": [int(r[2]) for r in topo],
                         "k": [int(r[3]) for r in topo]})
    rows["array_rows"], rows["array_cols"] = int(arch["ArrayHeight"]), int(arch["ArrayWidth"])
    rows["dataflow"] = arch["Dataflow"].strip()
    for c in SRAM_WORD_COLUMNS:
        rows[c] = reports[c].to_numpy()
    return rows


def test_golden_set_covers_the_default_study_and_odd_shapes():
    frame = pd.concat([run_rows(f) for f in golden_runs()])
    assert len(frame) == 9 * 6 + 6 * 5
    assert set(frame["dataflow"]) == {"os", "ws", "is"}
    assert (frame["array_rows"] != frame["array_cols"]).any()
    odd = frame[(frame["m"] % frame["array_rows"] != 0) & (frame["n"] % frame["array_cols"] != 0)]
    assert len(odd) >= 6
    assert {1} <= set(frame["m"]) and {1} <= set(frame["n"]) and {1} <= set(frame["k"])


@pytest.mark.parametrize("folder", golden_runs(), ids=lambda p: p.name)
def test_analytic_counts_equal_real_scalesim_reports(folder):
    for r in run_rows(folder).to_dict("records"):
        got = sram_access_words(r["m"], r["n"], r["k"], r["array_rows"], r["array_cols"], r["dataflow"])
        assert got == tuple(r[c] for c in SRAM_WORD_COLUMNS), r


def test_counts_by_hand_for_one_gemm():
    """m=37, n=53, k=29 on 8 x 12: folds over m 5, over n 5, over k 4."""
    assert sram_access_words(37, 53, 29, 8, 12, "os") == (5 * 37 * 29, 5 * 29 * 53, 37 * 53 + 25 * 20)
    assert sram_access_words(37, 53, 29, 8, 12, "ws") == (5 * 37 * 29, 29 * 53, 4 * 37 * 53)
    assert sram_access_words(37, 53, 29, 8, 12, "is") == (37 * 29, 4 * 29 * 53, 4 * 37 * 53)  # ceil(37/12) = 4
    with pytest.raises(ConfigError, match="dataflow.*'xs'.*allowed"):
        sram_access_words(1, 1, 1, 8, 8, "xs")


def test_study_model_takes_simulated_rows_and_counts_the_rest():
    """A simulated row's counts are used as reported (hand values here, to tell them apart from the
    analytic count); a surrogate row, and a shape without a row, get SCALE-Sim's analytic count."""
    hw = build_hardware({"chiplet": {"array": [8, 12], "dataflow": "os", "freq_ghz": 1.0}})
    table = pd.DataFrame([
        {"m": 37, "n": 53, "k": 29, "total_cycles": 100.0, "fidelity": "simulate", "source": "scalesim 3.0.0",
         "sram_ifmap_reads_words": 1, "sram_filter_reads_words": 2, "sram_ofmap_writes_words": 3},
        {"m": 1, "n": 45, "k": 70, "total_cycles": 50.0, "fidelity": "surrogate", "source": "pack",
         "sram_ifmap_reads_words": float("nan"), "sram_filter_reads_words": float("nan"),
         "sram_ofmap_writes_words": float("nan")}])
    model = StudyComponentModel(hw, {"scalesim": table}, {"scalesim": {"interface_bandwidth": "calc"}})
    assert model.gemm_sram_words(Gemm("a", 37, 53, 29), hw.chiplet) == (1, 2, 3)
    assert model.gemm_sram_words(Gemm("b", 1, 45, 70), hw.chiplet) == sram_access_words(1, 45, 70, 8, 12, "os")
    assert model.gemm_sram_words(Gemm("c", 70, 1, 33), hw.chiplet) == sram_access_words(70, 1, 33, 8, 12, "os")


@pytest.mark.slow
@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_analytic_counts_equal_a_live_scalesim_run(tmp_path, dataflow):
    from eoesim.execute import execute_run
    from eoesim.simulators.base import get_simulator

    shapes = [(19, 23, 11, 1), (1, 9, 30, 3), (30, 2, 5, 1), (7, 40, 17, 1)]
    point = {"array_rows": 6, "array_cols": 10, "dataflow": dataflow,
             "sram_kib": {"ifmap": 64, "filter": 64, "ofmap": 32},
             "interface_bandwidth": "calc", "dram_bandwidth_words_per_cycle": 10, "freq_ghz": 1.0,
             "phase": "prefill", "seq_len": 16, "batch": 1,
             "gemms": [{"name": f"e.g{i}", "expert": "e", "gemm": f"g{i}", "m": m, "n": n, "k": k, "instances": j}
                       for i, (m, n, k, j) in enumerate(shapes)]}
    sim = get_simulator("scalesim", {"mode": "python"})
    rows = execute_run(sim, point, "abcdef012345", tmp_path / "runs" / "abcdef012345",
                       tmp_path / "logs" / "abcdef012345", sim.runner(), 600.0, sim.identity())
    assert len(rows) == len(shapes)
    for r in rows.to_dict("records"):
        assert sram_access_words(r["m"], r["n"], r["k"], 6, 10, dataflow) == tuple(r[c] for c in SRAM_WORD_COLUMNS)
