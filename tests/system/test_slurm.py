"""The SLURM profile for real (issue 10): the tiny study through `--workflow-profile slurm` on a one-node
Slurm cluster on this machine gives exactly the local run's tables.

Setup, done here so that CI needs nothing else: tests/system/start_slurm.sh installs Debian's slurm-wlm
and munge and starts munged, slurmctld and slurmd (stopped again at the end by stop_slurm.sh, only those
it started); the executor plugin is installed from requirements-cluster.txt (--no-deps, see that file)
when missing. The cluster has no accounting database, so the run uses --slurm-status-command squeue.
If the cluster cannot be started the test FAILS with the reason.
"""
from __future__ import annotations

import importlib.util
import re
import sys

import pytest
from systemlib import (
    HERE,
    REPO,
    assert_same_results,
    make_project,
    native_project,
    result_files,
    run,
    setup_step,
    snakemake_native,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    setup_step([HERE / "start_slurm.sh"], "starting a one-node Slurm cluster", timeout=900)
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        setup_step([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-r",
                    REPO / "requirements-cluster.txt"], "installing the SLURM executor plugin", timeout=600)
    yield
    run([HERE / "stop_slurm.sh"], timeout=120)


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    return native_project(tmp_path_factory)


def scontrol_job(job_id: str) -> dict[str, str]:
    proc = run(["scontrol", "show", "job", job_id], timeout=60)
    assert proc.returncode == 0, proc.stderr
    return dict(re.findall(r"(\S+?)=(\S*)", proc.stdout))


def test_study_through_the_slurm_profile_equals_the_local_run(cluster, native, tmp_path):
    project = make_project(tmp_path / "slurm", {"scalesim": {"mode": "python"}})
    proc = snakemake_native(project, "--workflow-profile", REPO / "workflow" / "profiles" / "slurm",
                            "--slurm-status-command", "squeue",
                            "--slurm-init-seconds-before-status-checks", "5", timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]

    # every submitted job completed; among them the two SCALE-Sim runs, each sized from
    # ScaleSim.resources() (1 core, 2048 MB, 5 min for this tiny study)
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/rule_(\w+)/", log)
    assert [rule for _, rule in submitted].count("run_simulator") == 2, log[-3000:]
    for job_id, rule in submitted:
        job = scontrol_job(job_id)
        assert job["JobState"] == "COMPLETED" and job["Partition"] == "debug", (rule, job)
        assert job["WorkDir"] == str(project)
        if rule == "run_simulator":
            assert (job["CPUs/Task"], job["MinMemoryNode"], job["TimeLimit"]) == ("1", "2G", "00:05:00"), job

    expected, got = result_files(native), result_files(project)
    assert_same_results(expected, got, "the SLURM and the local run")
