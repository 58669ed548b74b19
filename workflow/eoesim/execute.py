"""One simulator run, end to end: render -> run -> check -> parse -> provenance -> atomic publish.

A run is built in a temporary directory beside its final place and renamed into
``runs/<simulator>/<run id>/`` only when it succeeded and parsed. A failed run is moved to
``logs/<simulator>/<run id>/`` (inputs, stdout.log, stderr.log) and raises RunFailedError naming the
simulator, the run id, the exit code (or signal) and the last 20 lines of stderr; it produces no result rows.

One job owns a run id at a time: the latest to start (:class:`RunClaim`). A job that lost its claim - an
orphan of a Snakemake killed with SIGKILL, still running when the study is re-run - publishes nothing,
neither the run nor its logs.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import pandas as pd

from eoesim.errors import ParseError, SimulatorError
from eoesim.provenance import input_hashes, run_record, write_json_atomic
from eoesim.reuse import RunCache, run_key
from eoesim.runners import STDERR_LOG, Runner
from eoesim.simulators.base import Simulator

log = logging.getLogger(__name__)
RESULT_CSV = "result.csv"
RUN_JSON = "run.json"
STDERR_TAIL_LINES = 20


class RunFailedError(SimulatorError):
    """A simulator run failed; besides the full message it keeps what a one-paragraph report needs."""

    def __init__(self, message: str, simulator: str, run_id: str, exit_status: str, reason: str, logs_dir: Path):
        super().__init__(message)
        self.simulator = simulator
        self.run_id = run_id
        self.exit_status = exit_status
        self.reason = reason
        self.logs_dir = Path(logs_dir)

    def summary(self, head: int = 3, tail: int = 5) -> str:
        """A few lines for the console: what failed and why, stderr's first and last lines, where the logs are."""
        lines = stderr_lines(self.logs_dir)
        shown = lines if len(lines) <= head + tail else lines[:head] + ["..."] + lines[-tail:]
        stderr = "\n".join(f"    {ln}" for ln in shown) if shown else "    (stderr is empty)"
        return (f"{self.simulator} run {self.run_id} failed ({self.exit_status}): {self.reason.splitlines()[0]}\n"
                f"  stderr ({len(lines)} lines, {STDERR_LOG}):\n{stderr}\n"
                f"  logs kept in {self.logs_dir} (inputs, stdout.log, stderr.log)")


class SupersededError(SimulatorError):
    """A newer job of the same run id started while this one ran; this one publishes nothing."""


def stderr_lines(rundir: Path) -> list[str]:
    """The non-blank lines of a run's stderr.log (carriage-return progress bars split into lines)."""
    path = rundir / STDERR_LOG
    if not path.exists():
        return []
    return [ln for ln in path.read_text(errors="replace").replace("\r", "\n").splitlines() if ln.strip()]


def stderr_tail(rundir: Path, lines: int = STDERR_TAIL_LINES) -> str:
    if not (rundir / STDERR_LOG).exists():
        return "(no stderr captured)"
    tail = stderr_lines(rundir)[-lines:]
    return "\n".join(tail) if tail else "(stderr is empty)"


def exit_status(returncode: int | None) -> str:
    """``exit code 1``, ``exit code -11 (killed by SIGSEGV)``, or ``no exit code`` (it did not end by itself:
    killed at its timeout or stopped, or it never started)."""
    if returncode is None:
        return "no exit code"
    if returncode < 0:
        try:
            return f"exit code {returncode} (killed by {signal.Signals(-returncode).name})"
        except ValueError:
            pass
    return f"exit code {returncode}"


def _replace_dir(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``; an existing ``dst`` is moved aside first and removed after the rename."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if dst.exists():
        old = dst.with_name(f".old-{dst.name}-{uuid.uuid4().hex[:8]}")
        dst.rename(old)
    src.rename(dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class RunClaim:
    """Which job may publish a run id: the one that last wrote its token into ``.<run id>.owner``.

    Taking the claim and publishing both hold an exclusive lock on that file, so a job that lost its
    claim cannot publish between another job's check and rename. The file goes once the run is published.
    """

    def __init__(self, final_dir: Path):
        self.path = Path(final_dir).parent / f".{Path(final_dir).name}.owner"
        self.token = f"{socket.gethostname()} pid {os.getpid()} {uuid.uuid4().hex}"

    @contextmanager
    def _locked(self, create: bool) -> Iterator[int | None]:
        try:
            fd = os.open(self.path, os.O_RDWR | (os.O_CREAT if create else 0), 0o644)
        except FileNotFoundError:
            yield None
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # releases the lock

    def take(self) -> str | None:
        """Claim the run id; returns the previous owner's token when one had not finished (an orphan)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked(create=True) as fd:
            previous = os.pread(fd, 4096, 0).decode(errors="replace").strip() or None
            os.ftruncate(fd, 0)
            os.pwrite(fd, self.token.encode(), 0)
        return previous

    @contextmanager
    def publishing(self) -> Iterator[None]:
        """Hold the claim while publishing; SupersededError when another job has taken it since."""
        with self._locked(create=False) as fd:
            owner = os.pread(fd, 4096, 0).decode(errors="replace").strip() if fd is not None else None
            if owner != self.token:
                raise SupersededError(f"a newer job ({owner or 'finished'}) took over this run while it ran "
                                      f"({self.token}); this job publishes nothing")
            yield
            self.path.unlink()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _keep_logs(claim: RunClaim, tmp: Path, logs_dir: Path) -> None:
    """Move a failed run's directory to ``logs_dir``, unless a newer job owns the run id (then drop it)."""
    try:
        with claim.publishing():
            _replace_dir(tmp, logs_dir)
            return
    except SupersededError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def execute_run(
    sim: Simulator,
    point: Mapping[str, Any],
    run_id: str,
    final_dir: Path,
    logs_dir: Path,
    runner: Runner,
    timeout_s: float,
    identity: Mapping[str, Any],
    cache: RunCache | None = None,
) -> pd.DataFrame:
    """Run ``sim`` on ``point``; return its tidy rows (also written to ``final_dir/result.csv``).

    ``identity`` describes what ran (version, mode, binary sha256 or image id); it goes into run.json
    and the rows' ``source`` column. With a ``cache``, a stored run with the same content key is restored
    instead of running the simulator (and still checked and parsed); a new successful run is stored.
    """
    final_dir, logs_dir = Path(final_dir), Path(logs_dir)
    claim = RunClaim(final_dir)
    previous = claim.take()
    if previous is not None:
        log.warning("%s run %s: an earlier job (%s) did not finish; it will publish nothing",
                    sim.name, run_id, previous)
    # a run killed hard (kill -9, power loss) leaves its temporary directory behind; the claim makes this
    # job the run id's only publisher, so any such leftover of this run id is garbage
    for stale in final_dir.parent.glob(f".tmp-{final_dir.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = final_dir.parent / f".tmp-{final_dir.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    started, t0 = _now(), time.monotonic()
    returncode = None
    argv: list[str] = []
    content_identity = sim.content_identity(identity)
    reused_from = None
    try:
        inputs = sim.render(point, tmp)
        hashes = input_hashes(tmp, inputs)
        key = run_key(sim.name, sim.adapter_version, content_identity, hashes)
        argv = runner.command(sim.argv(tmp), tmp, inputs)
        entry = cache.lookup(sim.name, key) if cache is not None else None
        if entry is not None:
            cache.restore(entry, tmp)
            returncode = json.loads((entry / RUN_JSON).read_text())["exit_code"]
            reused_from = str(entry)
        else:
            returncode = runner.run(sim.argv(tmp), tmp, timeout_s, inputs).returncode
        sim.check(tmp, returncode)
        rows = sim.annotate(sim.parse(tmp), point)
    except (SimulatorError, ParseError) as exc:
        _keep_logs(claim, tmp, logs_dir)
        status = exit_status(returncode)
        reason = str(exc).replace(str(tmp), str(logs_dir))  # the temporary directory is gone
        raise RunFailedError(
            f"{sim.name} run {run_id} failed ({status}): {reason}\n"
            f"logs kept in {logs_dir}\n--- last {STDERR_TAIL_LINES} lines of stderr ---\n"
            f"{stderr_tail(logs_dir)}",
            sim.name, run_id, status, reason, logs_dir,
        ) from exc
    except BaseException:
        _keep_logs(claim, tmp, logs_dir)
        raise
    source = f"{sim.name} {identity.get('version', '?')}"
    rows = rows.copy()
    rows.insert(0, "run_id", run_id)
    rows["fidelity"] = "simulate"
    rows["source"] = source
    rows.to_csv(tmp / RESULT_CSV, index=False)
    record = run_record(
        simulator=sim.name,
        adapter_version=sim.adapter_version,
        run_id=run_id,
        fidelity="simulate",
        source=source,
        argv=argv,
        inputs_sha256=hashes,
        run_key=key,
        content_identity=content_identity,
        reused_from=reused_from,
        parameters=dict(point),
        start=started,
        end=_now(),
        wall_s=round(time.monotonic() - t0, 3),
        exit_code=returncode,
        **dict(identity),
    )
    write_json_atomic(tmp / RUN_JSON, record)
    try:
        with claim.publishing():
            _replace_dir(tmp, final_dir)
    except SupersededError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if cache is not None and reused_from is None:
        cache.store(sim.name, key, final_dir)
    if Path(logs_dir).exists():
        shutil.rmtree(logs_dir, ignore_errors=True)
    return rows


INVALIDATED_NOTE = "INVALIDATED.txt"


def invalidate_run(run_dir: Path, logs_dir: Path, reason: str, cache: RunCache | None = None) -> bool:
    """Unpublish a finished run found bad after the fact (a sanity check): its directory moves to
    ``logs_dir`` with a note saying why, and its cache entry goes, so the next workflow run recomputes it
    instead of restoring it. Returns False when there was no such run."""
    run_dir, logs_dir = Path(run_dir), Path(logs_dir)
    record_path = run_dir / RUN_JSON
    if not record_path.is_file():
        return False
    record = json.loads(record_path.read_text())
    if cache is not None and record.get("run_key"):
        entry = cache.entry(str(record.get("simulator")), str(record["run_key"]))
        if entry.exists():
            doomed = entry.with_name(f".evicted-{entry.name}-{uuid.uuid4().hex[:8]}")
            entry.rename(doomed)
            shutil.rmtree(doomed, ignore_errors=True)
    (run_dir / INVALIDATED_NOTE).write_text(f"invalidated {_now()}: {reason}\n")
    _replace_dir(run_dir, logs_dir)
    return True
