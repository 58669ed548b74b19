"""Garnet runs end to end through eoesim.execute.execute_run, with stand-in executables for gem5.opt.

gem5 is not installed here. Each stand-in is a tiny script written into tmp_path that reproduces one
documented behaviour of gem5.opt (CONTRACTS.md section 7, gem5's logging formats): a fatal exit, a
deadlock panic (abort), a run whose stats dump is cut short, a hang. The one success case REPLAYS the
real sample outputs from tests/golden/garnet (copies them into m5out/ and prints the real stdout): it
checks the harness wiring (argv, cwd, publish, provenance), not simulator results.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from eoesim.errors import SimulatorError
from eoesim.execute import RESULT_CSV, RUN_JSON, execute_run
from eoesim.schema import load_schema, validate_against
from eoesim.simulators.garnet import Garnet, resolve_point

SAMPLE = "mesh4x4_uniform_random_inj0.1"
BUILD_INFO = "Build information:\n\ngem5 version 24.0.0.1\nbuild options:\n    PROTOCOL = Garnet_standalone\n"
HEADER = "gem5 Simulator System.  https://www.gem5.org\ngem5 version 24.0.0.1\n"


def default_point():
    schema = load_schema()["properties"]["workload"]["properties"]["garnet"]
    return resolve_point(validate_against({}, schema, "test", "garnet"))


@pytest.fixture
def fake_configs(tmp_path):
    root = tmp_path / "gem5" / "configs"
    for pkg in ("common", "ruby", "network", "topologies", "example"):
        (root / pkg).mkdir(parents=True)
    (root / "example" / "garnet_synth_traffic.py").write_text("# stand-in for gem5's script; never run\n")
    return root


def stand_in(tmp_path, body: str):
    import sys

    path = tmp_path / "bin" / "gem5.opt"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        f"#!{sys.executable}\nimport sys, os, gzip, shutil, json, time\n"
        f"if sys.argv[1:] == ['--build-info']:\n    print({BUILD_INFO!r}); sys.exit(0)\n"
        "outdir = sys.argv[sys.argv.index('-d') + 1]\nos.makedirs(outdir, exist_ok=True)\n"
        f"sys.stdout.write({HEADER!r})\n{body}\n"
    )
    path.chmod(0o755)
    return path


def run(tmp_path, fake_configs, binary, timeout_s=60.0):
    sim = Garnet({"binary": str(binary), "configs": str(fake_configs)})
    results = tmp_path / "results"
    final, logs = results / "runs" / "garnet" / "p1", results / "logs" / "garnet" / "p1"
    rows = execute_run(sim, default_point(), "p1", final, logs, sim.runner(), timeout_s,
                       {"version": "stand-in", "mode": "native"})
    return rows, final, logs


def assert_failed_with_logs(tmp_path, final, logs):
    assert not final.exists(), "a failed run must not publish a result"
    assert (logs / "stdout.log").is_file() and (logs / "stderr.log").is_file()
    assert (logs / "garnet_synth_traffic.args").is_file()
    assert not list((tmp_path / "results").rglob(RESULT_CSV))
    assert not [p for p in (tmp_path / "results" / "runs" / "garnet").iterdir() if p.name.startswith(".tmp-")]


def test_fatal_exit_fails_the_job_and_keeps_logs(tmp_path, fake_configs):
    binary = stand_in(tmp_path, (
        "sys.stderr.write('src/mem/ruby/network/Network.cc:79: fatal: Number of virtual networks must be "
        "positive\\nMemory Usage: 12 KBytes\\n')\nsys.exit(1)"))
    final = tmp_path / "results" / "runs" / "garnet" / "p1"
    logs = tmp_path / "results" / "logs" / "garnet" / "p1"
    with pytest.raises(SimulatorError, match=r"garnet run p1 failed \(exit code 1\): gem5 exited with code 1: fatal: "
                                             r"Number of virtual networks must be positive") as err:
        run(tmp_path, fake_configs, binary)
    assert f"logs kept in {logs}" in str(err.value)
    assert_failed_with_logs(tmp_path, final, logs)
    assert "fatal: Number of virtual networks" in (logs / "stderr.log").read_text()


def test_deadlock_panic_abort_fails_the_job(tmp_path, fake_configs):
    binary = stand_in(tmp_path, (
        "sys.stderr.write('src/mem/ruby/network/garnet/NetworkInterface.cc:476: panic: panic condition "
        "vc_busy_counter[vnet] > m_deadlock_threshold occurred: system.ruby.network.netifs03: Possible network "
        "deadlock in vnet: 2 at time: 60000000 \\n'); sys.stderr.flush()\nos.abort()"))
    with pytest.raises(SimulatorError, match=r"network deadlock \(was killed by signal 6 \(SIGABRT\)\): panic:"):
        run(tmp_path, fake_configs, binary)
    assert_failed_with_logs(tmp_path, tmp_path / "results" / "runs" / "garnet" / "p1",
                            tmp_path / "results" / "logs" / "garnet" / "p1")


def test_truncated_stats_fails_the_job_with_no_row(tmp_path, fake_configs, golden):
    src = golden / "garnet" / SAMPLE
    binary = stand_in(tmp_path, (
        f"with gzip.open({str(src / 'config.json.gz')!r}) as f: open(os.path.join(outdir, 'config.json'), 'wb')"
        ".write(f.read())\n"
        f"with gzip.open({str(src / 'stats.txt.gz')!r}) as f: open(os.path.join(outdir, 'stats.txt'), 'wb')"
        ".write(f.read()[:300000])\n"
        "print('Exiting @ tick 10000000 because Network Tester completed simCycles')"))
    with pytest.raises(SimulatorError, match=r"incomplete statistics: .*stats\.txt:\d+: truncated"):
        run(tmp_path, fake_configs, binary)
    logs = tmp_path / "results" / "logs" / "garnet" / "p1"
    assert_failed_with_logs(tmp_path, tmp_path / "results" / "runs" / "garnet" / "p1", logs)
    assert (logs / "m5out" / "stats.txt").is_file()


def test_missing_binary_fails_the_job_naming_the_key(tmp_path, fake_configs):
    with pytest.raises(SimulatorError, match=r"garnet\.binary = .*/nowhere/gem5\.opt is not an executable file; "
                                             r"set garnet\.binary"):
        run(tmp_path, fake_configs, tmp_path / "nowhere" / "gem5.opt")
    logs = tmp_path / "results" / "logs" / "garnet" / "p1"
    assert (logs / "garnet_synth_traffic.args").is_file()
    assert not (tmp_path / "results" / "runs" / "garnet" / "p1").exists()


def test_hang_times_out_and_keeps_logs(tmp_path, fake_configs):
    binary = stand_in(tmp_path, "sys.stdout.flush()\ntime.sleep(60)")
    with pytest.raises(SimulatorError, match="timed out after 1 s"):
        run(tmp_path, fake_configs, binary, timeout_s=1.0)
    assert (tmp_path / "results" / "logs" / "garnet" / "p1" / "stdout.log").read_text().startswith("gem5 Simulator")


def test_replayed_real_outputs_are_published_with_provenance(tmp_path, fake_configs, golden):
    src = golden / "garnet" / SAMPLE
    binary = stand_in(tmp_path, (
        "json.dump({'argv': sys.argv[1:], 'cwd': os.getcwd()}, open('argv.json', 'w'))\n"
        "for name in ('stats.txt', 'config.json'):\n"
        f"    with gzip.open(os.path.join({str(src)!r}, name + '.gz')) as f:\n"
        "        open(os.path.join(outdir, name), 'wb').write(f.read())\n"
        f"sys.stdout.write(open({str(src / 'stdout.txt')!r}).read().split('\\n', 2)[2])\n"
        f"sys.stderr.write(open({str(src / 'stderr.txt')!r}).read())"))
    sim = Garnet({"binary": str(binary), "configs": str(fake_configs)})
    identity = sim.identity()
    assert identity["version"] == "24.0.0.1" and len(identity["binary_sha256"]) == 64
    final = tmp_path / "results" / "runs" / "garnet" / "p1"
    rows = execute_run(sim, default_point(), "p1", final, tmp_path / "results" / "logs" / "garnet" / "p1",
                       sim.runner(), 60.0, identity)
    assert list(rows["vnet"]) == ["all", "0", "1", "2"]
    assert set(rows["source"]) == {"garnet 24.0.0.1"} and set(rows["fidelity"]) == {"simulate"}
    assert len(pd.read_csv(final / RESULT_CSV)) == 4
    seen = json.loads((final / "argv.json").read_text())
    cwd = Path(seen["cwd"])  # the run directory while it ran (renamed into place afterwards)
    assert cwd.parent == final.parent and cwd.name.startswith(".tmp-p1-")
    assert seen["argv"][:3] == ["-d", "m5out", "gem5_configs/example/garnet_synth_traffic.py"]
    assert "--sim-cycles=10000000" in seen["argv"]
    record = json.loads((final / RUN_JSON).read_text())
    assert record["exit_code"] == 0 and record["argv"][0] == str(binary)
    assert set(record["inputs_sha256"]) == {"garnet_synth_traffic.args"}
