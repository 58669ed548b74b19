"""Containers for real (issue 10): the harness image, `docker compose run workflow`, and SCALE-Sim run
from an image by the harness.

Setup, done here so that CI needs nothing else: tests/system/start_docker.sh installs Debian's docker.io
and docker-compose and starts `dockerd --iptables=false --bridge=none` when no engine answers (stopped
again at the end by stop_docker.sh, only if it started it); containers/build-image.sh --local-base
debootstraps a Debian base (tarball cached in ~/.cache/eoesim), fills the wheelhouse and builds the image.
Both steps are no-ops when their image already exists (the harness image is tagged with a hash of its
sources). No image registry is used. If no engine can be started, the tests FAIL with the reason.
"""
from __future__ import annotations

import json
import os
import shutil
import sys

import pandas as pd
import pytest
from systemlib import (
    HERE,
    REPO,
    STUDY_NAME,
    assert_same_results,
    make_project,
    native_project,
    result_files,
    run,
    setup_step,
    snakemake_native,
)

from eoesim.runners import container_user

pytestmark = pytest.mark.slow
COMPOSE_FILE = REPO / "containers" / "docker-compose.yml"
#: the user the compose workflow runs as: not root, like a user in the docker group
COMPOSE_UID = 4321


@pytest.fixture(scope="module")
def engine():
    setup_step([HERE / "start_docker.sh"], "starting a Docker engine", timeout=900)
    yield
    run([HERE / "stop_docker.sh"], timeout=120)


@pytest.fixture(scope="module")
def image(engine):
    proc = setup_step([REPO / "containers" / "build-image.sh", "--local-base"], "building the harness image",
                      timeout=1800)
    tag = proc.stdout.strip().splitlines()[-1]
    assert tag.startswith("eoesim:src-"), proc.stdout
    return tag


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    return native_project(tmp_path_factory)


def compose_command():
    if run(["docker", "compose", "version"], timeout=60).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor `docker-compose` is available", pytrace=False)


def image_id(tag):
    return run(["docker", "image", "inspect", "--format", "{{.Id}}", tag], timeout=60).stdout.strip()


def test_image_meets_the_scalesim_contract(image):
    """python3 on PATH with the pinned scalesim and this project; no entrypoint; works as any user."""
    code = ("import importlib.metadata as m, eoesim.paths as p; "
            "print(m.version('scalesim'), m.version('numpy'), p.project_root())")
    proc = run(["docker", "run", "--rm", "--network", "none", "--user", "12345:12345", image, "python3", "-c", code],
               timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["3.0.0", "2.2.6", "/opt/eoesim"]
    label = run(["docker", "image", "inspect", "--format",
                 '{{ index .Config.Labels "io.eoesim.scalesim.version" }}', image], timeout=60)
    assert label.stdout.strip() == "3.0.0"
    doctor = run(["docker", "run", "--rm", "--network", "none", image, "eoesim", "doctor", "--json"], timeout=120)
    assert doctor.returncode == 0, doctor.stderr
    rows = {r["simulator"]: r for r in json.loads(doctor.stdout)}
    assert rows["scalesim"]["available"] and rows["scalesim"]["version"] == "3.0.0"


def test_doctor_checks_a_configured_image_against_the_contract(image, tmp_path):
    """`eoesim doctor` runs external/simulators.yaml's image_check commands inside configured images."""
    from eoesim.contracts import check_image

    assert all(c.ok for c in check_image("scalesim", {"image": image}))
    garnet = check_image("garnet", {"image": image, "binary": "/opt/gem5/gem5.opt", "configs": "/opt/gem5/configs"})
    assert not any(c.ok for c in garnet) and garnet[0].command == ("test", "-x", "/opt/gem5/gem5.opt")
    assert "set mqsim.image_binary" in check_image("mqsim", {"image": image, "image_binary": None})[0].detail
    site = tmp_path / "site.yaml"
    site.write_text(f"scalesim: {{mode: docker, image: '{image}'}}\n"
                    f"garnet: {{mode: docker, image: '{image}', binary: /opt/gem5/gem5.opt, "
                    "configs: /opt/gem5/configs}\n")
    proc = run([sys.executable, "-m", "eoesim.cli", "doctor", "--json"], timeout=300,
               env={"EOESIM_SIMULATORS": str(site)})
    assert proc.returncode == 0, proc.stderr
    rows = {r["simulator"]: r for r in json.loads(proc.stdout)}
    assert rows["scalesim"]["available"] and all(c["ok"] for c in rows["scalesim"]["contract"])


def test_compose_workflow_gives_the_same_tables_as_the_native_run(image, native, tmp_path):
    """`docker compose run workflow` on mounted config/ and results/ == native snakemake: byte for byte, the
    surrogate fits to the last bits LAPACK leaves (systemlib.assert_same_results)."""
    project = make_project(tmp_path / "compose", {"scalesim": {"mode": "python"}})
    os.chmod(project / "results", 0o777)
    env = {"EOESIM_IMAGE": image, "EOESIM_CONFIG_DIR": str(project / "config"),
           "EOESIM_RESULTS_DIR": str(project / "results"), "EOESIM_STUDY": "config/study.yaml",
           "EOESIM_UID": str(COMPOSE_UID), "EOESIM_GID": str(COMPOSE_UID)}
    proc = run([*compose_command(), "-f", COMPOSE_FILE, "run", "--rm", "workflow"], timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    expected, got = result_files(native), result_files(project)
    assert_same_results(expected, got, "the compose and the native run")
    base = project / "results" / STUDY_NAME
    assert (base / "tables" / "scalesim.csv").stat().st_uid == COMPOSE_UID
    for run_json in base.glob("runs/scalesim/*/run.json"):
        record = json.loads(run_json.read_text())
        assert record["mode"] == "python" and record["exit_code"] == 0
        assert record["argv"][0] == "/opt/venv/bin/python3"  # it really ran inside the image


def test_scalesim_runs_from_its_image_with_no_network_as_the_invoking_user(image, native, tmp_path):
    """Site config scalesim: {mode: docker, image}: every run is `docker run --network none --user ...` (the
    invoking user, never root inside: a root harness lends the container "nobody"),
    run.json records the image id, and the numbers equal the native run's. Only `source` differs: in
    docker mode it may name the image id instead of the scalesim version (what identity() reports)."""
    project = make_project(tmp_path / "dockermode", {"scalesim": {"mode": "docker", "image": image}})
    proc = snakemake_native(project)
    assert proc.returncode == 0, proc.stderr[-4000:]

    base = project / "results" / STUDY_NAME
    records = [json.loads(p.read_text()) for p in sorted(base.glob("runs/scalesim/*/run.json"))]
    assert len(records) == 2
    for record in records:
        argv = record["argv"]
        assert record["mode"] == "docker" and record["image_id"] == image_id(image)
        assert argv[:2] == ["docker", "run"] and argv[argv.index("--network") + 1] == "none"
        uid, gid = container_user()  # the invoking user; "nobody" when the harness runs as root
        assert argv[argv.index("--user") + 1] == f"{uid}:{gid}" and uid != 0
        assert argv[argv.index("-v") + 1].endswith(":/run") and image in argv
        assert any(a.endswith(":/run/scale.cfg:ro") for a in argv)  # rendered inputs are read-only
        assert argv[argv.index(image) + 1:][:3] == ["python3", "-m", "eoesim.simulators.scalesim_driver"]

    native_files, docker_files = result_files(native), result_files(project)
    assert docker_files["points.csv"] == native_files["points.csv"]
    ours = pd.read_csv(base / "tables" / "scalesim.csv")
    ref = pd.read_csv(native / "results" / STUDY_NAME / "tables" / "scalesim.csv")
    pd.testing.assert_frame_equal(ours, ref)  # same source too: the image's scalesim version label
    assert set(ref["source"]) == {"scalesim 3.0.0"}
