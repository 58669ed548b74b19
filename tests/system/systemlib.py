"""Helpers of the system tests (tests/system/): run the setup scripts, run the tiny study, compare tables.

The system tests set up what they need themselves (Docker engine, images, Slurm daemons) through the
shell scripts next to this file, so that `make test` on a fresh machine of the project's kind (as root,
as CI runs it) exercises everything for real. A setup that cannot be done FAILS the test with the
script's reason; nothing is skipped.
"""
from __future__ import annotations

import json
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


#: a surrogate fit is the only result computed through LAPACK: the same wheels give last-bit differences
#: between Python builds (measured: the image's Python 3.11.2 vs the host's 3.11.7 - numpy.linalg.svd of one
#: matrix differs in its last bits, the tiny study's scalesim fit by 1e-14 relative, its noise-level
#: uncertainties by 7e-5 relative, a 4-decimal validation figure by one unit in the last place)
FIT_REL = 1e-9
FIT_ROUNDED_ABS = 2e-4


def assert_same_results(expected: dict[str, bytes], got: dict[str, bytes], what: str) -> None:
    """``got`` holds the same files as ``expected``, byte for byte, except the surrogate fits (surrogates/*.json):
    those equal in every key and string, their parameters to FIT_REL, their uncertainties to FIT_REL of the
    parameter's own size and their validation figures (rounded to 4 decimals) to FIT_ROUNDED_ABS."""
    assert sorted(got) == sorted(expected)
    for name in expected:
        if name.startswith("surrogates/") and name.endswith(".json"):
            _assert_same_fit(json.loads(expected[name]), json.loads(got[name]), f"{name} ({what})")
        else:
            assert got[name] == expected[name], f"{name} differs between {what}"


def _assert_same_fit(ref: dict, new: dict, where: str) -> None:
    assert list(new) == list(ref), where
    for key in ref:
        if key == "params":
            _assert_close(ref[key], new[key], lambda _p, a: FIT_REL * max(abs(a), 1.0), f"{where}: params")
        elif key == "uncertainty":
            scale = {k: abs(v) if isinstance(v, float) else 1.0 for k, v in ref["params"].items()}
            _assert_close(ref[key], new[key], lambda p, _a: FIT_REL * max(scale.get(p[0], 1.0), 1.0),
                          f"{where}: uncertainty")
        elif key == "validation":
            _assert_close(ref[key], new[key], lambda _p, a: FIT_ROUNDED_ABS + FIT_REL * abs(a), f"{where}: validation")
        else:
            assert new[key] == ref[key], f"{where}: {key}"


def _assert_close(ref, new, tol, where: str, path: tuple = ()) -> None:
    """Same structure and strings; floats within ``tol(path, value)``."""
    if isinstance(ref, dict):
        assert isinstance(new, dict) and list(new) == list(ref), f"{where}: keys at {path}"
        for k in ref:
            _assert_close(ref[k], new[k], tol, where, path + (k,))
    elif isinstance(ref, list):
        assert isinstance(new, list) and len(new) == len(ref), f"{where}: length at {path}"
        for i, (a, b) in enumerate(zip(ref, new)):
            _assert_close(a, b, tol, where, path + (i,))
    elif isinstance(ref, float) and isinstance(new, (float, int)) and not isinstance(new, bool):
        assert abs(new - ref) <= tol(path, ref), f"{where}: {'/'.join(map(str, path))} = {new!r}, expected {ref!r}"
    else:
        assert new == ref, f"{where}: {'/'.join(map(str, path))} = {new!r}, expected {ref!r}"


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
