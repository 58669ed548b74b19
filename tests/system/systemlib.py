"""Helpers of the system tests (tests/system/): run the setup scripts, run the tiny study, compare tables.

The system tests set up what they need themselves (Docker engine, images, Slurm daemons) through the
shell scripts next to this file, so that `make test` on a fresh machine of the project's kind (as root,
as CI runs it) exercises everything for real. A setup that cannot be done FAILS the test with the
script's reason; nothing is skipped.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
STUDY_FILE = HERE / "tiny_study.yaml"
STUDY_NAME = yaml.safe_load(STUDY_FILE.read_text())["study"]


def run(argv, timeout, env=None, cwd=REPO):
    """Run argv (no shell) with stdin closed; return the CompletedProcess (text output)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=full_env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, check=False)


def setup_step(argv, what, timeout):
    """Run a setup script; fail the test (never skip) with its stderr when it does not succeed."""
    try:
        proc = run(argv, timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what}: {argv[0]} did not finish within {timeout} s", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(f"{what} FAILED (exit {proc.returncode}):\n{proc.stderr[-4000:]}\n{proc.stdout[-2000:]}",
                    pytrace=False)
    return proc


def make_project(root: Path, site: dict) -> Path:
    """A project directory for one run: config/study.yaml (the tiny study), config/simulators.yaml, results/."""
    (root / "config").mkdir(parents=True)
    (root / "results").mkdir()
    shutil.copy(STUDY_FILE, root / "config" / "study.yaml")
    (root / "config" / "simulators.yaml").write_text(yaml.safe_dump(site))
    return root


def snakemake_native(project: Path, *args, timeout=900):
    """`snakemake` of this checkout on the project's study, with its site config; cwd = the repository,
    so profiles/default applies unless another workflow profile is given, as with `make run`."""
    cmd = [SNAKEMAKE, "--snakefile", REPO / "Snakefile", "--directory", project,
           "--configfile", project / "config" / "study.yaml", *args]
    # no run cache shared with anything else: every way of running must really run SCALE-Sim
    env = {"EOESIM_SIMULATORS": str(project / "config" / "simulators.yaml"), "EOESIM_CACHE": "none"}
    return run(cmd, timeout, env=env)


def result_files(project: Path) -> dict[str, bytes]:
    """Every table of a finished study, by path relative to results/<study>/: points.csv, tables/*.csv,
    each run's result.csv, and the e2e/ and surrogates/ CSV and JSON files. Not compared: run.json
    (provenance: host, interpreter, times), logs/ and figures/."""
    base = project / "results" / STUDY_NAME
    paths = [base / "points.csv", *(base / "tables").glob("*.csv"), *(base / "runs").glob("*/*/result.csv"),
             *(base / "e2e").rglob("*.csv"), *(base / "e2e").rglob("*.json"), *(base / "surrogates").rglob("*.json")]
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(paths)}


_NATIVE: list[Path] = []


def native_project(tmp_path_factory) -> Path:
    """The tiny study run natively (SCALE-Sim in python mode): the reference every other way must match.
    Run once per test session (both system test modules compare against it)."""
    if _NATIVE:
        return _NATIVE[0]
    project = make_project(tmp_path_factory.mktemp("native"), {"scalesim": {"mode": "python"}})
    proc = snakemake_native(project)
    assert proc.returncode == 0, proc.stderr[-4000:]
    files = result_files(project)
    assert "tables/scalesim.csv" in files and len([f for f in files if f.startswith("runs/")]) == 2, list(files)
    _NATIVE.append(project)
    return project
