"""The Snakemake workflow on a tiny study in a temporary directory, with real SCALE-Sim runs."""
import json
import os
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import REPO
from snakemake_runner import SNAKEMAKE, TINY, TINY_GEMMS, job_counts, snakemake, write_study

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("wf")
    write_study(workdir, TINY)
    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir


def test_study_produces_points_runs_and_tidy_table(finished):
    base = finished / "results" / "tiny"
    points = pd.read_csv(base / "points.csv")
    assert len(points) == 2 and points["point_id"].str.fullmatch(r"[0-9a-f]{12}").all()
    table = pd.read_csv(base / "tables" / "scalesim.csv")
    assert len(table) == 2 * TINY_GEMMS  # two design points
    assert set(table["run_id"]) == set(points["scalesim_run_id"])
    assert set(table["gemm"]) == {"qkv_proj", "attn_score", "attn_value", "out_proj", "ffn_up", "ffn_down"}
    for col in ("total_cycles", "stall_cycles", "compute_util_pct", "mapping_efficiency_pct",
                "ifmap_sram_bw_words_per_cycle", "ofmap_dram_bw_words_per_cycle",
                "dram_filter_reads_words", "fidelity", "source"):
        assert col in table.columns
    assert (table["fidelity"] == "simulate").all() and (table["source"] == "scalesim 3.0.0").all()
    for run_id, rows in table.groupby("run_id"):
        rundir = base / "runs" / "scalesim" / run_id
        compute = (rundir / "outputs" / "run" / "COMPUTE_REPORT.csv").read_text().splitlines()[1:]
        native = [int(line.split(",")[2]) for line in compute]
        assert list(rows.sort_values("layer_id")["total_cycles"]) == native
        record = json.loads((rundir / "run.json").read_text())
        assert record["run_id"] == run_id and record["exit_code"] == 0
        assert (rundir / "stdout.log").exists() and (rundir / "stderr.log").exists()
    for sim in ("garnet", "ramulator", "mqsim", "rapidchiplet"):  # no binaries here: calibrated surrogates
        predicted = pd.read_csv(base / "tables" / f"{sim}.csv")
        assert (predicted["fidelity"] == "surrogate").all() and predicted["source"].str.startswith("surrogate").all()
    small = table[table["array_rows"] == 8]["total_cycles"].sum()
    large = table[table["array_rows"] == 16]["total_cycles"].sum()
    assert small > large


def test_e2e_stage_writes_summary_timeline_and_table(finished):
    base = finished / "results" / "tiny"
    points = pd.read_csv(base / "points.csv")
    summary = pd.read_csv(base / "e2e" / "summary.csv")
    assert sorted(summary["point"]) == sorted(points["point_id"])
    assert (summary["requests"] > 0).all() and (summary["e2e_latency_p99_s"] >= summary["e2e_latency_p50_s"]).all()
    for pid in points["point_id"]:
        point_summary = json.loads((base / "e2e" / pid / "summary.json").read_text())
        fidelities = {f for c in point_summary["component_sources"] for f in c["fidelities"]}
        assert fidelities <= {"simulate", "surrogate", "nominal"} and "surrogate" in fidelities
        trace = json.loads((base / "e2e" / pid / "timeline.json").read_text())
        events = trace["traceEvents"] if isinstance(trace, dict) else trace
        spans = [e for e in events if e.get("ph") == "X"]
        assert spans and all(e["dur"] >= 0 and "ts" in e and "tid" in e for e in spans)


def test_surrogate_refit_on_the_study_runs_and_parity_plots(finished):
    base = finished / "results" / "tiny"
    fitted = json.loads((base / "surrogates" / "scalesim.json").read_text())
    assert fitted["training"]["n_rows"] == 2 * TINY_GEMMS
    assert fitted["training"]["dataset"].endswith("tables/scalesim.csv")
    parity = pd.read_csv(base / "figures" / "parity_scalesim.csv")  # held-out predictions of the study refit
    assert len(parity) == 2 * TINY_GEMMS and (parity["metric"] == "total_cycles").all()
    assert sorted(parity["measured"]) == sorted(pd.read_csv(base / "tables" / "scalesim.csv")["total_cycles"])
    assert all((base / "figures" / f"parity_scalesim{ext}").stat().st_size > 0 for ext in (".pdf", ".png"))


def test_e2e_summaries_are_deterministic(finished):
    base = finished / "results" / "tiny" / "e2e"
    before = {p: p.read_bytes() for p in sorted(base.glob("*/summary.json"))}
    proc = snakemake(finished, "--forcerun", "stitch_e2e")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p: p.read_bytes() for p in sorted(base.glob("*/summary.json"))} == before


def result_bytes(workdir):
    base = workdir / "results" / "tiny"
    files = [base / "points.csv", *(base / "tables").glob("*.csv"), *(base / "e2e").rglob("*.json"),
             *(base / "e2e").rglob("*.csv"), *(base / "surrogates").glob("*.json"),
             *(base / "runs").glob("*/*/result.csv"), *(base / "figures").glob("*.csv"),
             *(base / "sanity").glob("*.csv"), *(p for p in (base / "workloads").rglob("*") if p.is_file()),
             *(base / "coupling").glob("*.csv"), *(base / "dse").rglob("*.csv"), base / "study.yaml"]
    return {str(p.relative_to(base)): p.read_bytes() for p in files}


def test_the_same_study_twice_from_scratch_gives_byte_identical_results(finished, tmp_path):
    """Determinism: a second, independent run (own results and run cache) reproduces every table and summary."""
    write_study(tmp_path, TINY)
    proc = snakemake(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, second = result_bytes(finished), result_bytes(tmp_path)
    assert len(first) > 10 and first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_rerunning_a_finished_study_runs_nothing(finished):
    proc = snakemake(finished, "-n")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_raising_a_simulator_timeout_reruns_nothing(finished, tmp_path):
    """timeout_s bounds a run, it does not change what runs: not a reason to re-run finished runs."""
    site = yaml.safe_load((REPO / "config" / "simulators.yaml").read_text())
    for section in site.values():
        if "timeout_s" in section:
            section["timeout_s"] *= 10
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(site))
    proc = snakemake(finished, "-n", env={**os.environ, "EOESIM_SIMULATORS": str(tmp_path / "site.yaml")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-2000:]


def test_changing_one_swept_value_runs_only_the_affected_point(finished):
    base = finished / "results" / "tiny"
    points = pd.read_csv(base / "points.csv")
    kept_run = points["scalesim_run_id"].iloc[0]
    kept_json = base / "runs" / "scalesim" / kept_run / "run.json"
    before = kept_json.stat().st_mtime_ns
    study = json.loads(json.dumps(TINY))
    study["sweep"]["grid"]["hardware.chiplet.array"] = [[8, 8], [12, 12]]
    write_study(finished, study)
    dry = snakemake(finished, "-n")
    counts = job_counts(dry.stdout)
    assert counts.get("run_simulator") == 1, dry.stdout
    proc = snakemake(finished)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert kept_json.stat().st_mtime_ns == before
    table = pd.read_csv(base / "tables" / "scalesim.csv")
    assert sorted(set(table["array_rows"])) == [8, 12]


def test_bad_config_fails_before_any_job_and_keeps_results(finished):
    table = finished / "results" / "tiny" / "tables" / "scalesim.csv"
    before = table.read_bytes()
    study = json.loads(json.dumps(TINY))
    study["hardware"]["chiplet"]["dataflow"] = "rs"
    write_study(finished, study)
    proc = snakemake(finished)
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    assert "hardware.chiplet.dataflow: 'rs' is not allowed; allowed: one of ['os', 'ws', 'is']" in err
    assert "run_simulator" not in err
    assert table.read_bytes() == before


def test_lint_is_clean():
    proc = subprocess.run([SNAKEMAKE, "--lint", "--snakefile", str(REPO / "Snakefile")], cwd=REPO,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr


def test_dry_run_of_the_default_study_plans_nine_runs():
    proc = subprocess.run([SNAKEMAKE, "-n", "--snakefile", str(REPO / "Snakefile")], cwd=REPO,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
