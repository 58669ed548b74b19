"""How a simulator process is started: a native binary, a module of this interpreter, or a container.

Every runner takes an argument vector (never a shell string), runs it with stdin from /dev/null
(MQSim blocks on ``cin.get()`` otherwise), writes stdout/stderr to files, and starts it in a process
group of its own that never outlives the job, whichever way the job ends:

- it finishes or times out: the job kills the whole group (stray background children included);
- Ctrl-C, SIGTERM or SIGHUP: the job turns the signal into :class:`JobStoppedError` and kills the group
  on its way out (the run's logs are kept like those of any failed run);
- the job itself is killed (SIGKILL, out of memory): a small watcher process, started before the
  simulator, sees its pipe from the job close without a "done" and kills the group (and removes the
  container of a docker run, which a killed ``docker`` client would leave running).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from eoesim.errors import SimulatorError, SimulatorUnavailableError

STDOUT_LOG = "stdout.log"
STDERR_LOG = "stderr.log"
#: signals that stop a job (besides SIGINT, which Python already raises as KeyboardInterrupt)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
#: the watcher: reads the simulator's process group id, then waits for the job's pipe to close; without
#: "done" first (the job died) it kills the group and runs its cleanup command (argv)
WATCHER = """
import os, signal, sys
data = b""
while True:
    chunk = os.read(0, 256)
    if not chunk:
        break
    data += chunk
lines = data.decode(errors="replace").split()
if lines and "done" not in lines[1:]:
    try:
        os.killpg(int(lines[0]), signal.SIGKILL)
    except (ProcessLookupError, PermissionError, ValueError):
        pass
    if len(sys.argv) > 1:
        import subprocess
        subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120, check=False)
"""
#: how long the job waits for the group to go after killing it
REAP_TIMEOUT_S = 30


class JobStoppedError(SimulatorError):
    """The job was told to stop (SIGTERM, SIGHUP) while its simulator ran; the simulator was killed."""


@dataclass(frozen=True)
class ProcessResult:
    returncode: int
    argv: list[str]
    timed_out: bool = False


@contextmanager
def stop_signals_raise() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise :class:`JobStoppedError` (so ``finally`` blocks run) instead
    of ending the process on the spot; outside the main thread signals cannot be caught and nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise JobStoppedError(f"stopped by {signal.Signals(signum).name} while the simulator ran; it was killed")

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class GroupWatcher:
    """A process that kills the simulator's group (and runs ``cleanup``) if the job dies before ``done``."""

    def __init__(self, cleanup: Sequence[str] = ()):
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", WATCHER, *cleanup], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )

    def watch(self, pgid: int) -> None:
        self.proc.stdin.write(f"{pgid}\n".encode())
        self.proc.stdin.flush()

    def close(self, done: bool) -> None:
        """``done``: the simulator ended by itself; otherwise the watcher kills the group and cleans up."""
        try:
            if done:
                self.proc.stdin.write(b"done\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(timeout=REAP_TIMEOUT_S * 5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_process(
    argv: Sequence[str],
    cwd: Path,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    cleanup: Sequence[str] = (),
) -> ProcessResult:
    """Run ``argv`` in ``cwd``; stdout/stderr go to ``cwd/stdout.log`` and ``cwd/stderr.log``.

    On timeout the process group is killed and a SimulatorError is raised (the logs stay on disk); on
    every other way out (see the module doc) the group is killed too. ``cleanup`` is a command run when
    the run ends abnormally (a docker run's ``docker rm -f NAME``).
    """
    argv = [str(a) for a in argv]
    full_env = dict(os.environ)
    full_env.update(env or {})
    watcher = GroupWatcher(cleanup)
    exited = False  # the simulator ended by itself (nothing of it can be left once its group is killed)
    try:
        with open(cwd / STDOUT_LOG, "wb") as out, open(cwd / STDERR_LOG, "wb") as err:
            try:
                proc = subprocess.Popen(
                    argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                    env=full_env, start_new_session=True,
                )
            except (FileNotFoundError, PermissionError) as exc:
                exited = True
                raise SimulatorUnavailableError(f"cannot start {argv[0]!r}: {exc.strerror}") from exc
            watcher.watch(proc.pid)
            try:
                with stop_signals_raise():
                    returncode = proc.wait(timeout=timeout_s)
                exited = True
            except subprocess.TimeoutExpired:
                raise SimulatorError(
                    f"timed out after {timeout_s:g} s and was killed: {' '.join(argv)}"
                ) from None
            finally:
                _kill_group(proc.pid)
                try:
                    proc.wait(timeout=REAP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    pass
    finally:
        watcher.close(done=exited)
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
    """Runs the argv inside ``image``, hardened (see :func:`docker_argv`), ``rundir`` mounted at /run and
    the rendered inputs mounted over it read-only.

    The adapter's argv must use paths relative to the run directory (the container's working dir).
    """

    image: str = ""
    docker: str = "docker"

    def command(self, argv: Sequence[str], rundir: Path, inputs: Sequence[Path] = ()) -> list[str]:
        return docker_argv(self.image, argv, rundir, docker=self.docker, env=self.env, readonly=inputs)

    def run(self, argv: Sequence[str], rundir: Path, timeout_s: float, inputs: Sequence[Path] = ()) -> ProcessResult:
        with writable_by(rundir, container_user()):
            return run_process(self.command(argv, rundir, inputs), rundir, timeout_s, self.env,
                               cleanup=[self.docker, "rm", "-f", container_name(rundir)])


#: the user a container runs as when the harness runs as root (never root inside: "nobody")
UNPRIVILEGED = (65534, 65534)


def container_user() -> tuple[int, int]:
    """The invoking user, or :data:`UNPRIVILEGED` when that is root."""
    uid, gid = os.getuid(), os.getgid()
    return UNPRIVILEGED if uid == 0 else (uid, gid)


def container_name(rundir: Path) -> str:
    """A name unique to the run directory, so a container left by a killed job can be removed by name."""
    return "eoesim-" + hashlib.sha256(str(Path(rundir).resolve()).encode()).hexdigest()[:16]


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    for path in [root, *Path(root).rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)


@contextmanager
def writable_by(rundir: Path, user: tuple[int, int]) -> Iterator[None]:
    """The run directory owned by the container's user while it runs (only a root harness needs this:
    otherwise the container runs as the directory's owner), and by the harness again afterwards."""
    if os.getuid() != 0 or user == (0, 0):
        yield
        return
    _chown_tree(rundir, *user)
    try:
        yield
    finally:
        _chown_tree(rundir, os.getuid(), os.getgid())


def docker_argv(
    image: str,
    argv: Sequence[str],
    rundir: Path,
    docker: str = "docker",
    env: Mapping[str, str] | None = None,
    readonly: Sequence[Path] = (),
) -> list[str]:
    """``docker run --rm --name NAME --network none --user UID:GID --cap-drop ALL --security-opt
    no-new-privileges --read-only --tmpfs /tmp -v RUNDIR:/run [-v INPUT:/run/INPUT:ro ...] -w /run
    IMAGE ARGV...``: no network, no capabilities, no privilege gain, a read-only root file system with
    the run directory (and /tmp) the only writable places, never root (``container_user``);
    ``readonly``: files inside ``rundir`` the simulator may read but not change."""
    uid, gid = container_user()
    cmd = [
        docker, "run", "--rm", "--name", container_name(rundir), "--network", "none",
        "--user", f"{uid}:{gid}", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "--read-only", "--tmpfs", "/tmp", "-e", "HOME=/tmp",
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
