"""Crash safety with real processes and signals: kill -9 of snakemake and of a simulator mid-sweep, rerun.

Finished points are never lost or re-run, no row is duplicated, and no half-written file is read.
"""
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO
from snakemake_runner import SNAKEMAKE

pytestmark = pytest.mark.slow
ARRAYS = [[8, 8], [10, 10], [12, 12], [14, 14]]
#: six prefill GEMMs (32 tokens), the four linear layers at decode batches 1 and 16, decode attention (score,
#: value) at two context lengths (eoesim.serving.shapes)
GEMMS_PER_POINT = 6 + 4 * 2 + 2 * 2
STUDY = {
    "study": "crash",
    "eoe": {"experts": [{"name": "t", "layers": 1, "d_model": 64, "heads": 2, "kv_heads": 2,
                         "d_ff": 128, "vocab": 100}],
            "requests": {"count": 50}},
    "workload": {"scalesim": {"seq_len": 32}},
    "hardware": {"chiplet": {"dataflow": "os"}},
    "sweep": {"grid": {"hardware.chiplet.array": ARRAYS}},
}


#: the sweep's simulator runs, tables and e2e stage (the figure stages are not what these tests kill)
TARGETS = ("results/crash/points.csv", "results/crash/tables/scalesim.csv", "results/crash/e2e/summary.csv")


def start(workdir, *extra):
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(workdir / "study.yaml"), "--cores", "1", *extra, *TARGETS]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True, text=True)


def finished_runs(workdir):
    return sorted((workdir / "results" / "crash" / "runs" / "scalesim").glob("*/run.json"))


def wait_for(predicate, timeout=300):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def simulator_pids(workdir):
    """SCALE-Sim processes working inside ``workdir`` (never another test's or another checkout's)."""
    out = subprocess.run(["pgrep", "-f", "eoesim.simulators.scalesim_driver"], capture_output=True, text=True)
    pids = []
    for pid in (int(p) for p in out.stdout.split()):
        try:
            if Path(os.readlink(f"/proc/{pid}/cwd")).is_relative_to(workdir):
                pids.append(pid)
        except OSError:
            continue
    return pids


def check_complete(workdir):
    base = workdir / "results" / "crash"
    table = pd.read_csv(base / "tables" / "scalesim.csv")
    points = pd.read_csv(base / "points.csv")
    assert len(table) == len(ARRAYS) * GEMMS_PER_POINT
    assert not table.duplicated(["run_id", "layer_id"]).any()
    assert set(table["run_id"]) == set(points["scalesim_run_id"])
    for run_json in finished_runs(workdir):
        assert (run_json.parent / "result.csv").exists()
    assert not list((base / "runs" / "scalesim").glob(".tmp-*"))
    assert not list((base / "tables").glob(".*.tmp"))


def test_kill_9_of_snakemake_then_rerun_loses_and_duplicates_nothing(tmp_path):
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(STUDY))
    proc = start(tmp_path)
    assert wait_for(lambda: len(finished_runs(tmp_path)) >= 1 and simulator_pids(tmp_path)), "no run finished in time"
    os.killpg(proc.pid, signal.SIGKILL)  # snakemake, its job and the simulator, all at once
    proc.wait()
    done_before = {p: p.stat().st_mtime_ns for p in finished_runs(tmp_path)}
    assert 1 <= len(done_before) < len(ARRAYS)
    for run_json in done_before:  # what was published is complete
        assert (run_json.parent / "result.csv").exists() and run_json.read_text().rstrip().endswith("}")
    assert start(tmp_path, "--unlock").wait(timeout=120) == 0  # a hard kill leaves snakemake's lock behind
    rerun = start(tmp_path)
    assert rerun.wait(timeout=600) == 0, rerun.stderr.read()[-3000:]
    check_complete(tmp_path)
    assert {p: p.stat().st_mtime_ns for p in done_before} == done_before  # finished points were not re-run


def test_kill_9_of_a_simulator_fails_its_job_keeps_logs_and_rerun_completes(tmp_path):
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(STUDY))
    proc = start(tmp_path)
    assert wait_for(lambda: bool(simulator_pids(tmp_path))), "no simulator started"
    for pid in simulator_pids(tmp_path):
        os.kill(pid, signal.SIGKILL)
    assert proc.wait(timeout=600) != 0
    rule_logs = "".join(p.read_text() for p in (tmp_path / "results" / "crash" / "logs" / "scalesim").glob("*.log"))
    assert "scalesim run" in rule_logs and "exit code -9" in rule_logs
    assert rule_logs.count("ERROR job failed") == 1  # the failure (with its cause) is logged once
    console = proc.stderr.read()  # the reason is on the console, not only behind "check log file(s)"
    assert "failed (exit code -9 (killed by SIGKILL))" in console
    assert "logs kept in results/crash/logs/scalesim/" in console
    logs = list((tmp_path / "results" / "crash" / "logs" / "scalesim").glob("*/stderr.log"))
    assert logs, "the failed run's logs were not kept"
    assert not (tmp_path / "results" / "crash" / "tables" / "scalesim.csv").exists()
    rerun = start(tmp_path)
    assert rerun.wait(timeout=600) == 0, rerun.stderr.read()[-3000:]
    check_complete(tmp_path)
    assert not (tmp_path / "results" / "crash" / "logs" / "scalesim" / logs[0].parent.name).exists()
