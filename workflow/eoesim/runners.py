"""How a simulator process is started: a native binary, a module of this interpreter, or a container.

Every runner takes an argument vector (never a shell string), runs it with stdin from /dev/null
(MQSim blocks on ``cin.get()`` otherwise), writes stdout/stderr to files, and enforces a timeout by
killing the whole process group.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from eoesim.errors import SimulatorError, SimulatorUnavailableError

STDOUT_LOG = "stdout.log"
STDERR_LOG = "stderr.log"


@dataclass(frozen=True)
class ProcessResult:
    returncode: int
    argv: list[str]
    timed_out: bool = False


def run_process(
    argv: Sequence[str],
    cwd: Path,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
) -> ProcessResult:
    """Run ``argv`` in ``cwd``; stdout/stderr go to ``cwd/stdout.log`` and ``cwd/stderr.log``.

    On timeout the process group is killed and a SimulatorError is raised (the logs stay on disk).
    """
    argv = [str(a) for a in argv]
    full_env = dict(os.environ)
    full_env.update(env or {})
    try:
        with open(cwd / STDOUT_LOG, "wb") as out, open(cwd / STDERR_LOG, "wb") as err:
            proc = subprocess.Popen(
                argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=full_env, start_new_session=True,
            )
            try:
                returncode = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise SimulatorError(
                    f"timed out after {timeout_s:g} s and was killed: {' '.join(argv)}"
                ) from None
    except (FileNotFoundError, PermissionError) as exc:
        raise SimulatorUnavailableError(f"cannot start {argv[0]!r}: {exc.strerror}") from exc
    return ProcessResult(returncode=returncode, argv=argv)


@dataclass(frozen=True)
class Runner:
    """Runs an adapter's argv as it is (a native binary, or a module of the current interpreter)."""

    mode: str
    env: Mapping[str, str] = field(default_factory=dict)

    def command(self, argv: Sequence[str], rundir: Path, inputs: Sequence[Path] = ()) -> list[str]:
        return [str(a) for a in argv]

    def run(self, argv: Sequence[str], rundir: Path, timeout_s: float, inputs: Sequence[Path] = ()) -> ProcessResult:
        return run_process(self.command(argv, rundir, inputs), rundir, timeout_s, self.env)


@dataclass(frozen=True)
class DockerRunner(Runner):
    """Runs the argv inside ``image`` with no network, as the invoking user, ``rundir`` mounted at /run
    and the rendered inputs mounted over it read-only.

    The adapter's argv must use paths relative to the run directory (the container's working dir).
    """

    image: str = ""
    docker: str = "docker"

    def command(self, argv: Sequence[str], rundir: Path, inputs: Sequence[Path] = ()) -> list[str]:
        return docker_argv(self.image, argv, rundir, docker=self.docker, env=self.env, readonly=inputs)


def docker_argv(
    image: str,
    argv: Sequence[str],
    rundir: Path,
    docker: str = "docker",
    env: Mapping[str, str] | None = None,
    readonly: Sequence[Path] = (),
) -> list[str]:
    """``docker run --rm --network none --user UID:GID -v RUNDIR:/run [-v INPUT:/run/INPUT:ro ...] -w /run
    IMAGE ARGV...`` (``readonly``: files inside ``rundir`` the simulator may read but not change)."""
    cmd = [
        docker, "run", "--rm", "--network", "none",
        "--user", f"{os.getuid()}:{os.getgid()}",
        "-v", f"{Path(rundir).resolve()}:/run",
    ]
    for path in readonly:
        rel = Path(os.path.relpath(Path(path).absolute(), Path(rundir).absolute()))
        if rel.parts and rel.parts[0] != "..":
            cmd += ["-v", f"{Path(rundir).resolve() / rel}:/run/{rel.as_posix()}:ro"]
    cmd += ["-w", "/run"]
    for key, value in sorted((env or {}).items()):
        cmd += ["-e", f"{key}={value}"]
    return cmd + [image] + [str(a) for a in argv]


def docker_image_id(image: str, docker: str = "docker") -> str:
    """The image's content id (``sha256:...``) as the engine reports it."""
    if shutil.which(docker) is None:
        raise SimulatorUnavailableError(f"docker image {image!r} configured but no {docker!r} command")
    proc = subprocess.run(
        [docker, "image", "inspect", "--format", "{{.Id}}", image],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise SimulatorUnavailableError(f"docker image {image!r} is not available: {proc.stderr.strip()}")
    return proc.stdout.strip()


def docker_image_label(image: str, label: str, docker: str = "docker") -> str | None:
    """The value of ``label`` on ``image`` (None when the image has no such label)."""
    proc = subprocess.run(
        [docker, "image", "inspect", "--format", f'{{{{ index .Config.Labels "{label}" }}}}', image],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
    )
    value = proc.stdout.strip()
    return value if proc.returncode == 0 and value and value != "<no value>" else None
