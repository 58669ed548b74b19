"""The life of one simulator run beyond the happy path, with a fake adapter (tests/fake_simulators/):

- one publisher per run id: an orphan job (its Snakemake was killed with SIGKILL) still running when
  the study is re-run publishes nothing, neither the run nor its logs;
- a failure is reported once: the message names simulator, run id, exit code or signal, stderr and the
  logs directory (never the temporary directory, which is gone), and a rule script writes the traceback
  once to its log and a short account to the console;
- a published run that a sanity check later finds bad is unpublished (moved to logs/ with a note,
  dropped from the run cache) so the next workflow run recomputes it; the other runs stay.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from eoesim.execute import (
    INVALIDATED_NOTE,
    RESULT_CSV,
    RUN_JSON,
    RunClaim,
    RunFailedError,
    SupersededError,
    execute_run,
    invalidate_run,
)
from eoesim.jobs import run_timeout_s, site_identity
from eoesim.reuse import RunCache
from eoesim.runners import Runner
from eoesim.trust.checks import SanityCheckError
from eoesim.trust.report import sanity_check_study

FAKES = Path(__file__).resolve().parents[1] / "fake_simulators"
SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"
sys.path.insert(0, str(FAKES))
from fake_adapter import FakeSim  # noqa: E402

IDENTITY = {"version": "fake-1", "mode": "native"}


def run(tmp_path, site=None, run_id="r1", cache=None, value=1):
    return execute_run(FakeSim(site or {}), {"value": value}, run_id, tmp_path / "runs" / run_id,
                       tmp_path / "logs" / run_id, Runner("native"), 60, IDENTITY, cache)


def test_only_the_latest_claim_may_publish(tmp_path):
    final = tmp_path / "runs" / "r1"
    old, new = RunClaim(final), RunClaim(final)
    assert old.take() is None
    assert new.take() == old.token  # the new job sees that an earlier one did not finish
    with pytest.raises(SupersededError, match="publishes nothing"):
        with old.publishing():
            pytest.fail("a superseded job got to publish")
    with new.publishing():
        pass
    assert not new.path.exists()  # published: the claim is gone
    with pytest.raises(SupersededError):
        with old.publishing():
            pytest.fail("a superseded job got to publish after the new one finished")


def test_an_orphan_still_running_publishes_nothing_into_the_rerun(tmp_path):
    code = (f"import sys; sys.path.insert(0, {str(FAKES)!r}); from pathlib import Path\n"
            "from fake_adapter import FakeSim; from eoesim.execute import execute_run\n"
            "from eoesim.runners import Runner\n"
            f"root = Path({str(tmp_path)!r})\n"
            "execute_run(FakeSim({'sleep_s': 4, 'tag': 'orphan'}), {'value': 1}, 'r1', root / 'runs' / 'r1',\n"
            "            root / 'logs' / 'r1', Runner('native'), 60, {'version': 'fake-1'})\n")
    orphan = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 30
    while not list((tmp_path / "runs").glob(".tmp-r1-*")) and time.monotonic() < end:
        time.sleep(0.05)
    assert orphan.poll() is None, orphan.communicate()
    rows = run(tmp_path, {"tag": "rerun"})  # the study re-run while the orphan still runs
    assert list(rows["tag"]) == ["rerun"]
    _, err = orphan.communicate(timeout=60)
    assert orphan.returncode != 0 and "publishes nothing" in err
    assert pd.read_csv(tmp_path / "runs" / "r1" / RESULT_CSV)["tag"].tolist() == ["rerun"]
    assert not (tmp_path / "logs" / "r1").exists()  # the orphan's failure left no logs over the rerun's
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["r1"]  # no claim or temporary left


def test_a_failure_names_exit_code_stderr_and_the_logs_not_the_temporary_dir(tmp_path):
    with pytest.raises(RunFailedError) as info:
        run(tmp_path, {"exit_code": 3, "stderr": "fatal: no such layer\n"})
    err, logs = info.value, tmp_path / "logs" / "r1"
    assert (err.simulator, err.run_id, err.exit_status) == ("fake", "r1", "exit code 3")
    assert ".tmp-" not in str(err) and f"exited with 3 in {logs}" in str(err)
    summary = err.summary()
    assert "fake run r1 failed (exit code 3)" in summary and "fatal: no such layer" in summary
    assert f"logs kept in {logs}" in summary and (logs / "stderr.log").is_file()


def test_a_simulator_killed_by_a_signal_is_named(tmp_path):
    with pytest.raises(RunFailedError, match=r"exit code -11 \(killed by SIGSEGV\)"):
        run(tmp_path, {"signal": 11})


def test_a_rule_script_writes_the_traceback_once_and_a_summary_to_the_console(tmp_path):
    log = tmp_path / "job.log"
    logs = tmp_path / "logs" / "r1"
    logs.mkdir(parents=True)
    (logs / "stderr.log").write_text("".join(f"line {i}\n" for i in range(1, 31)))
    code = (f"import sys; sys.path.insert(0, {str(SCRIPTS)!r})\n"
            "from pathlib import Path; from _logging import to_log; from eoesim.execute import RunFailedError\n"
            f"to_log({str(log)!r})\n"
            f"raise RunFailedError('long message', 'garnet', 'r1', 'exit code -9 (killed by SIGKILL)', "
            f"'timed out after 5 s', Path({str(logs)!r}))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("garnet run r1 failed (exit code -9 (killed by SIGKILL)): timed out after 5 s")
    assert "line 1\n" in proc.stderr and "line 30" in proc.stderr and "line 10\n" not in proc.stderr  # head + tail
    assert f"logs kept in {logs}" in proc.stderr and f"(traceback in {log})" in proc.stderr
    assert "Traceback" not in proc.stderr and log.read_text().count("Traceback") == 1


def test_timeout_is_a_run_limit_not_part_of_what_runs():
    site = {"mode": "native", "binary": "/opt/gem5.opt", "timeout_s": 7200.5}
    assert site_identity(site) == {"mode": "native", "binary": "/opt/gem5.opt"}
    assert run_timeout_s(site) == 7201 and run_timeout_s({}) == 3600


def test_invalidating_a_run_unpublishes_it_and_drops_it_from_the_cache(tmp_path):
    cache = RunCache(tmp_path / "cache")
    run(tmp_path, cache=cache)
    key = json.loads((tmp_path / "runs" / "r1" / RUN_JSON).read_text())["run_key"]
    assert cache.lookup("fake", key) is not None
    assert invalidate_run(tmp_path / "runs" / "r1", tmp_path / "logs" / "r1", "value out of range", cache)
    assert not (tmp_path / "runs" / "r1").exists() and cache.lookup("fake", key) is None
    assert "value out of range" in (tmp_path / "logs" / "r1" / INVALIDATED_NOTE).read_text()
    assert not invalidate_run(tmp_path / "runs" / "r1", tmp_path / "logs" / "r1", "again", cache)
    rows = run(tmp_path, {"tag": "recomputed"}, cache=cache)  # not restored from the cache: run again
    assert list(rows["tag"]) == ["recomputed"]


def scalesim_rows(run_id: str, cycles: int) -> list[dict]:
    return [{"run_id": run_id, "layer_id": 0, "total_cycles": cycles, "fidelity": "simulate",
             "source": "scalesim 3.0.0"}]


def test_a_sanity_error_invalidates_the_bad_run_only(tmp_path):
    runs, logs, cache = tmp_path / "runs", tmp_path / "logs", RunCache(tmp_path / "cache")
    for run_id in ("good00000000", "bad000000000"):
        rundir = runs / "scalesim" / run_id
        rundir.mkdir(parents=True)
        (rundir / RUN_JSON).write_text(json.dumps({"simulator": "scalesim", "run_key": f"key-{run_id}"}))
        cache.store("scalesim", f"key-{run_id}", rundir)
    table = tmp_path / "scalesim.csv"
    pd.DataFrame(scalesim_rows("good00000000", 100) + scalesim_rows("bad000000000", -5)).to_csv(table, index=False)
    with pytest.raises(SanityCheckError) as info:
        sanity_check_study([table], runs, {"scalesim_config_echo": "off"},  # the runs have no scale.cfg
                           tmp_path / "checks.csv", tmp_path / "summary.html", "s",
                           logs_root=logs, cache_dir=cache.root)
    assert "negative_value" in str(info.value) and "1 published run(s) invalidated" in str(info.value)
    assert "scalesim/bad000000000" in str(info.value)
    assert not (runs / "scalesim" / "bad000000000").exists()
    assert "negative_value" in (logs / "scalesim" / "bad000000000" / INVALIDATED_NOTE).read_text()
    assert cache.lookup("scalesim", "key-bad000000000") is None
    assert (runs / "scalesim" / "good00000000" / RUN_JSON).is_file()
    assert cache.lookup("scalesim", "key-good00000000") is not None
    assert not (tmp_path / "checks.csv").exists()
