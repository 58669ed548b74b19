"""A simulator never outlives its job: its whole process group dies on Ctrl-C, SIGTERM, SIGHUP, a killed
job (SIGKILL), a timeout and a normal exit - with a fake simulator that ignores every polite signal and
leaves a child behind (tests/fake_simulators/stubborn_sim.py). Docker runs are hardened and a container
left by a killed job is removed by name (a fake docker client, tests/fake_simulators/fake_docker.py).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eoesim.errors import SimulatorError
from eoesim.runners import UNPRIVILEGED, DockerRunner, container_name, docker_argv, run_process, writable_by

FAKES = Path(__file__).resolve().parents[1] / "fake_simulators"
STUBBORN = FAKES / "stubborn_sim.py"


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its parent counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_for(predicate, timeout_s: float = 20.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def start_job(rundir: Path, runner: str = "native", env: dict | None = None) -> tuple[subprocess.Popen, list[int]]:
    """A job process running the stubborn simulator through run_process (or a DockerRunner on the fake
    docker client); returns it once the simulator has written its pids."""
    if runner == "native":
        call = f"run_process([sys.executable, {str(STUBBORN)!r}], Path({str(rundir)!r}), 600)"
    else:
        call = (f"DockerRunner(mode='docker', image='sim:1', docker={runner!r})"
                f".run(['python', {str(STUBBORN)!r}], Path({str(rundir)!r}), 600)")
    code = f"import sys; from pathlib import Path; from eoesim.runners import *; {call}"
    # SIGINT as a terminal delivers it, even when this test runs in a background job that ignores it
    job = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, **(env or {})},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    pids_file = rundir / "pids.txt"
    assert wait_for(pids_file.exists), job.communicate(timeout=5) if job.poll() is not None else "no pids"
    return job, [int(p) for p in pids_file.read_text().split()]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_to_the_job_kills_the_whole_simulator_group(tmp_path, sig):
    job, pids = start_job(tmp_path)
    assert all(alive(p) for p in pids)
    job.send_signal(sig)
    _, err = job.communicate(timeout=30)
    assert job.returncode != 0
    if sig != signal.SIGINT:
        assert f"stopped by {sig.name}" in err
    assert wait_for(lambda: not any(alive(p) for p in pids)), f"left running: {pids}"


def test_a_killed_job_does_not_leave_its_simulator_running(tmp_path):
    job, pids = start_job(tmp_path)
    job.kill()  # SIGKILL: no handler, no finally; the watcher sees the job's pipe close
    job.communicate(timeout=30)
    assert wait_for(lambda: not any(alive(p) for p in pids)), f"orphans left running: {pids}"


def test_a_normal_exit_kills_children_left_in_the_background(tmp_path):
    res = run_process([sys.executable, str(STUBBORN), "--exit-now"], tmp_path, 60)
    assert res.returncode == 0
    pids = [int(p) for p in (tmp_path / "pids.txt").read_text().split()]
    assert wait_for(lambda: not any(alive(p) for p in pids)), f"background child left running: {pids}"


def test_a_timeout_kills_a_simulator_that_ignores_sigterm(tmp_path):
    with pytest.raises(SimulatorError, match="timed out after 1 s"):
        run_process([sys.executable, str(STUBBORN)], tmp_path, 1)
    pids = [int(p) for p in (tmp_path / "pids.txt").read_text().split()]
    assert wait_for(lambda: not any(alive(p) for p in pids))


def fake_docker(tmp_path: Path) -> tuple[str, Path]:
    client = tmp_path / "docker"
    client.write_text(f"#!/bin/sh\nexec {sys.executable} {FAKES / 'fake_docker.py'} \"$@\"\n")
    client.chmod(0o755)
    return str(client), tmp_path / "removed.txt"


def test_a_killed_docker_job_removes_its_container_by_name(tmp_path):
    docker, removed = fake_docker(tmp_path)
    rundir = tmp_path / "run"
    rundir.mkdir()
    job, pids = start_job(rundir, docker, {"FAKE_DOCKER_REMOVED": str(removed)})
    job.kill()
    job.communicate(timeout=30)
    assert wait_for(removed.exists) and removed.read_text().split() == [container_name(rundir)]
    assert wait_for(lambda: not any(alive(p) for p in pids))


def test_a_docker_run_that_ends_by_itself_removes_nothing(tmp_path, monkeypatch):
    docker, removed = fake_docker(tmp_path)
    rundir = tmp_path / "run"
    rundir.mkdir()
    monkeypatch.setenv("FAKE_DOCKER_REMOVED", str(removed))
    res = DockerRunner(mode="docker", image="sim:1", docker=docker).run(["python", "-c", "print('ok')"], rundir, 60)
    assert res.returncode == 0 and (rundir / "stdout.log").read_text() == "ok\n"
    assert not removed.exists()  # docker run --rm removed it; nothing was left to clean up


def test_docker_argv_is_hardened(tmp_path):
    argv = docker_argv("sim:1", ["sim", "-c", "x"], tmp_path)
    pairs = {(a, b) for a, b in zip(argv, argv[1:])}
    assert {("--network", "none"), ("--cap-drop", "ALL"), ("--security-opt", "no-new-privileges"),
            ("--tmpfs", "/tmp"), ("--name", container_name(tmp_path)), ("-w", "/run"),
            ("-v", f"{tmp_path.resolve()}:/run")} <= pairs
    assert "--read-only" in argv and "--privileged" not in argv
    assert argv[argv.index("--user") + 1].split(":")[0] != "0"
    assert container_name(tmp_path) != container_name(tmp_path / "other")


@pytest.mark.skipif(os.getuid() != 0, reason="only a harness running as root hands its run directory over")
def test_a_root_harness_lends_the_run_dir_to_the_container_user_and_takes_it_back(tmp_path):
    rundir = tmp_path / "run"
    (rundir / "sub").mkdir(parents=True)
    (rundir / "sub" / "input.cfg").write_text("x")
    with writable_by(rundir, UNPRIVILEGED):
        assert {(p.stat().st_uid, p.stat().st_gid) for p in [rundir, *rundir.rglob("*")]} == {UNPRIVILEGED}
    assert {p.stat().st_uid for p in [rundir, *rundir.rglob("*")]} == {0}


def local_image() -> str | None:
    """An image of the local docker engine with a shell ($EOESIM_TEST_IMAGE, default eoesim-base:bookworm)."""
    image = os.environ.get("EOESIM_TEST_IMAGE", "eoesim-base:bookworm")
    try:
        proc = subprocess.run(["docker", "image", "inspect", image], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return image if proc.returncode == 0 else None


@pytest.mark.skipif(local_image() is None, reason="needs a docker engine with the image $EOESIM_TEST_IMAGE "
                                                  "(default eoesim-base:bookworm, containers/)")
def test_a_real_container_runs_unprivileged_on_a_read_only_root(tmp_path):
    rundir = tmp_path / "run"
    rundir.mkdir()
    (rundir / "input.cfg").write_text("in\n")
    script = ("id -u; echo ok > out.txt; (echo x > /etc/x) 2>&1; (echo y > input.cfg) 2>&1; "
              "grep -E 'CapEff|NoNewPrivs' /proc/self/status; echo t > /tmp/t && echo tmp-writable")
    res = DockerRunner(mode="docker", image=local_image()).run(["sh", "-c", script], rundir, 120,
                                                               [rundir / "input.cfg"])
    out = (rundir / "stdout.log").read_text()
    assert res.returncode == 0 and out.splitlines()[0] != "0"  # never root inside
    assert out.count("Read-only file system") == 2  # the root file system and the rendered input
    assert "CapEff:\t0000000000000000" in out and "NoNewPrivs:\t1" in out and "tmp-writable" in out
    assert (rundir / "out.txt").read_text() == "ok\n" and (rundir / "input.cfg").read_text() == "in\n"
    assert {p.stat().st_uid for p in rundir.iterdir()} == {os.getuid()}
