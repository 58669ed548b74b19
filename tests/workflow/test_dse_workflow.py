"""The DSE stage on tiny studies: a sampled sweep at surrogate fidelity, the refine checkpoint re-running
the top-k points with the real SCALE-Sim, pareto.csv and figure pareto; and a plain grid without refine."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake_runner import snakemake

pytestmark = pytest.mark.slow
EXPERT = {"name": "t", "layers": 1, "d_model": 32, "heads": 2, "kv_heads": 2, "d_ff": 64, "vocab": 100}
BASE = {
    # prompts of exactly seq_len tokens: the prefill GEMMs are the shapes SCALE-Sim runs
    "eoe": {"experts": [EXPERT], "requests": {"count": 40, "prompt_tokens": {"dist": "fixed", "value": 16},
                                              "output_tokens": {"dist": "fixed", "value": 4}}},
    "workload": {"scalesim": {"phase": "prefill", "seq_len": 16, "batch": 1}},
}
SAMPLED = {**BASE, "study": "tiny_dse", "fidelity": {"scalesim": "surrogate"},
           "sweep": {"sample": {"method": "lhs", "n": 4, "seed": 2, "ranges": {
               "hardware.chiplet.array": {"choices": [[8, 8], [16, 16]]},
               "hardware.chiplet.dataflow": {"choices": ["os", "ws"]},
               "hardware.chiplet.freq_ghz": {"min": 0.5, "max": 2.0}}}},
           "dse": {"objectives": ["e2e_latency_mean_s", "energy_per_token_j", "area_mm2"],
                   "refine": {"top_k": 2}}}
GRID = {**BASE, "study": "tiny_grid", "sweep": {"grid": {"hardware.chiplet.array": [[8, 8], [16, 16]]}}}


def run_study(workdir: Path, study: dict) -> Path:
    (workdir / "study.yaml").write_text(yaml.safe_dump(study))
    base = Path("results") / study["study"]
    targets = [str(base / "points.csv"), str(base / "dse" / "pareto.csv"), str(base / "figures" / "pareto.pdf")]
    proc = snakemake(workdir, *targets)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir / base


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    return run_study(tmp_path_factory.mktemp("dse"), SAMPLED)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return run_study(tmp_path_factory.mktemp("grid"), GRID)


def summary_values(path: Path) -> tuple[float, float]:
    s = json.loads(path.read_text())
    return s["e2e_latency_s"]["mean"], s["energy"]["per_token_j"]


def test_refine_reruns_the_top_k_with_real_scalesim(sampled):
    points = pd.read_csv(sampled / "points.csv")
    assert len(points) == 4
    selection = json.loads((sampled / "dse" / "refine.json").read_text())
    assert len(selection["points"]) == 2 and set(selection["points"]) <= set(points["point_id"])
    assert selection["objectives"] == ["e2e_latency_mean_s", "energy_per_token_j", "area_mm2"]
    sims = selection["simulators"]
    assert sims["scalesim"]["rerun"] and sims["scalesim"]["refined_fidelity"] == "simulate"
    for sim in ("garnet", "ramulator", "mqsim", "rapidchiplet"):  # no binaries here: stay surrogate
        assert not sims[sim]["rerun"] and sims[sim]["refined_fidelity"] == "surrogate"
    chosen = points.set_index("point_id").loc[selection["points"]]
    assert sims["scalesim"]["run_ids"] == sorted(set(chosen["scalesim_run_id"]))
    sweep_table = pd.read_csv(sampled / "tables" / "scalesim.csv")
    assert (sweep_table["fidelity"] == "surrogate").all()
    refined = pd.read_csv(sampled / "dse" / "refined" / "tables" / "scalesim.csv")
    assert set(refined["run_id"]) == set(sims["scalesim"]["run_ids"])
    assert (refined["fidelity"] == "simulate").all() and (refined["source"] == "scalesim 3.0.0").all()
    for run_id, rows in refined.groupby("run_id"):  # the real simulator's own report
        compute = (sampled / "runs" / "scalesim" / run_id / "outputs" / "run" / "COMPUTE_REPORT.csv")
        native = [int(line.split(",")[2]) for line in compute.read_text().splitlines()[1:]]
        assert list(rows.sort_values("layer_id")["total_cycles"]) == native
    for pid in selection["points"]:
        refined_summary = json.loads((sampled / "dse" / "refined" / "e2e" / pid / "summary.json").read_text())
        assert refined_summary["fidelity_ops"].get("simulate", 0) > 0
        sweep_summary = json.loads((sampled / "e2e" / pid / "summary.json").read_text())
        assert sweep_summary["fidelity_ops"].get("simulate", 0) == 0


def test_pareto_csv_holds_both_fidelities_as_in_the_summaries(sampled):
    table = pd.read_csv(sampled / "dse" / "pareto.csv").set_index("point_id")
    selection = json.loads((sampled / "dse" / "refine.json").read_text())
    rc = pd.read_csv(sampled / "tables" / "rapidchiplet.csv", dtype={"run_id": str})
    area_of_run = rc[rc["record"] == "package"].set_index("run_id")["total_chiplet_area_mm2"]
    runs = pd.read_csv(sampled / "points.csv", dtype=str).set_index("point_id")["rapidchiplet_run_id"]
    for pid, row in table.iterrows():
        latency, energy = summary_values(sampled / "e2e" / pid / "summary.json")
        area = area_of_run[runs[pid]]  # the point's own package: its chiplets' area follows its array
        assert (row["e2e_latency_mean_s"], row["energy_per_token_j"], row["area_mm2"]) == (latency, energy, area)
        assert row["refined"] == (pid in selection["points"])
        if row["refined"]:
            r_latency, r_energy = summary_values(sampled / "dse" / "refined" / "e2e" / pid / "summary.json")
            assert (row["e2e_latency_mean_s_refined"], row["energy_per_token_j_refined"]) == (r_latency, r_energy)
            assert row["e2e_latency_mean_s_rel_diff"] == pytest.approx((r_latency - latency) / latency, abs=1e-15)
            assert row["refined_simulators"] == "scalesim"
        else:
            assert np.isnan(row["e2e_latency_mean_s_refined"])
    values = table[["e2e_latency_mean_s", "energy_per_token_j"]].to_numpy()
    for pid, row in table.iterrows():  # the front: no other point at least as good everywhere and better once
        mine = table.loc[pid, ["e2e_latency_mean_s", "energy_per_token_j"]].to_numpy(dtype=float)
        dominated = ((values <= mine).all(axis=1) & (values < mine).any(axis=1)).any()
        assert row["pareto"] == (not dominated)


def check_figure(base: Path) -> pd.DataFrame:
    figures = base / "figures"
    for ext in ("pdf", "png", "csv"):
        assert (figures / f"pareto.{ext}").stat().st_size > 0
    assert (figures / "pareto.pdf").read_bytes()[:5] == b"%PDF-"
    data = pd.read_csv(figures / "pareto.csv")
    source = pd.read_csv(base / "dse" / "pareto.csv").set_index("point_id")
    latency = [c for c in ("e2e_latency_p99_s", "e2e_latency_mean_s") if c in data.columns][0]
    sweep = data[data["estimate"] == "sweep"].set_index("point_id")
    assert list(sweep.index) == list(source.index)
    assert (sweep[latency] == source[latency]).all()
    assert sweep["energy_per_token_mj"].to_numpy() == pytest.approx(source["energy_per_token_j"].to_numpy() * 1e3,
                                                                    rel=1e-12)
    assert (sweep["pareto"] == source["pareto"]).all()
    refined = data[data["estimate"] == "refined"].set_index("point_id")
    assert set(refined.index) == set(source.index[source["refined"]])
    assert (refined[latency] == source.loc[refined.index, f"{latency}_refined"]).all()
    return data


def test_figure_pareto_plots_the_pareto_table(sampled):
    data = check_figure(sampled)
    assert (data["estimate"] == "refined").sum() == 2


def test_a_grid_without_dse_section_draws_its_front_without_refine(grid):
    selection = json.loads((grid / "dse" / "refine.json").read_text())
    assert selection["points"] == [] and selection["top_k"] == 0
    assert not (grid / "dse" / "refined").exists()
    table = pd.read_csv(grid / "dse" / "pareto.csv")
    assert len(table) == 2 and table["pareto"].any() and not table["refined"].any()
    assert set(table["label"]) == {"8x8", "16x16"}
    data = check_figure(grid)
    assert (data["estimate"] == "refined").sum() == 0
