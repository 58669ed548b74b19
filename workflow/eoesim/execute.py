"""One simulator run, end to end: render -> run -> check -> parse -> provenance -> atomic publish.

A run is built in a temporary directory beside its final place and renamed into
``runs/<simulator>/<run id>/`` only when it succeeded and parsed. A failed run is moved to
``logs/<simulator>/<run id>/`` (inputs, stdout.log, stderr.log) and raises SimulatorError naming the
simulator, the run id, the exit code and the last 20 lines of stderr; it produces no result rows.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from eoesim.errors import ParseError, SimulatorError
from eoesim.provenance import input_hashes, run_record, write_json_atomic
from eoesim.reuse import RunCache, run_key
from eoesim.runners import STDERR_LOG, Runner
from eoesim.simulators.base import Simulator

RESULT_CSV = "result.csv"
RUN_JSON = "run.json"
STDERR_TAIL_LINES = 20


def stderr_tail(rundir: Path, lines: int = STDERR_TAIL_LINES) -> str:
    path = rundir / STDERR_LOG
    if not path.exists():
        return "(no stderr captured)"
    text = path.read_text(errors="replace").replace("\r", "\n")
    tail = [ln for ln in text.splitlines() if ln.strip()][-lines:]
    return "\n".join(tail) if tail else "(stderr is empty)"


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


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


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
    final_dir = Path(final_dir)
    # a run killed hard (kill -9, power loss) leaves its temporary directory behind; one job owns a run id
    # at a time (Snakemake: one job per output), so any such leftover of this run id is garbage
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
        _replace_dir(tmp, Path(logs_dir))
        raise SimulatorError(
            f"{sim.name} run {run_id} failed (exit code {returncode}): {exc}\n"
            f"logs kept in {logs_dir}\n--- last {STDERR_TAIL_LINES} lines of stderr ---\n"
            f"{stderr_tail(Path(logs_dir))}"
        ) from exc
    except BaseException:
        _replace_dir(tmp, Path(logs_dir))
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
    _replace_dir(tmp, final_dir)
    if cache is not None and reused_from is None:
        cache.store(sim.name, key, final_dir)
    if Path(logs_dir).exists():
        shutil.rmtree(logs_dir, ignore_errors=True)
    return rows
