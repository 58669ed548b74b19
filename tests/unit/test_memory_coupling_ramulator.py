"""The real-Ramulator branch of the memory coupling, with a stand-in ``ramulator2`` that prints the golden
output of a real Ramulator 2.0 HBM2 run (tests/golden/ramulator/v2.0/hbm2_loadstore): this checks the
plumbing - our trace and clock ratio rendered into the adapter's config, the run, the adapter's check and
parse of real stats - not Ramulator's numbers for this trace (no Ramulator binary here)."""
import stat

import pytest
import yaml

from eoesim.config import build_study
from eoesim.simulators.base import get_simulator
from eoesim.simulators.ramulator_stats import read_stats
from eoesim.simulators.ramulator_traces import write_loadstore
from eoesim.stitch.coupling_run import simulated_memory


@pytest.fixture
def fake_ramulator(tmp_path, golden):
    stdout = golden / "ramulator" / "v2.0" / "hbm2_loadstore" / "stdout.txt"
    exe = tmp_path / "ramulator2"
    exe.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "v2.0a"; exit 0; fi\n'
                   '[ -f ramulator.trace ] || exit 3\n'
                   f'cat "{stdout}"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return {"variant": "v2.0", "binary": str(exe)}, stdout


def test_layer_trace_runs_through_the_ramulator_adapter(tmp_path, fake_ramulator):
    site, stdout = fake_ramulator
    ram_point = get_simulator("ramulator", site).point_params(build_study({"study": "t"}).points[0].params)
    trace = tmp_path / "layer0.trace"
    # as many loads and stores as the golden run served (the adapter checks the totals against the trace)
    write_loadstore(trace, [64 * i for i in range(20000)], [i < 6009 for i in range(20000)])
    out = simulated_memory(trace, ram_point, 64e9, tmp_path / "run", site)  # a quarter of the 256 GB/s peak
    rundir = tmp_path / "run"
    assert (rundir / "ramulator.trace").read_text() == trace.read_text()  # our requests, not a generated stream
    cfg = yaml.safe_load((rundir / "config.yaml").read_text())
    ratio = cfg["Frontend"]["clock_ratio"] / cfg["MemorySystem"]["clock_ratio"]
    assert ratio == pytest.approx(0.25 * 8 / 2)  # offered load x peak requests per tick (8 channels / nBL 2)
    golden = read_stats("v2.0", stdout, ram_point["tick_ps"], ram_point["request_bytes"], ram_point["channels"])
    assert out["achieved_bandwidth_bytes_per_s"] == golden["system_achieved_bandwidth_bytes_per_s"].iloc[0]
    assert out["memory_latency_ns"] == golden["system_avg_read_latency_ns"].iloc[0]
    assert out["fidelity"] == "simulate" and out["source"].startswith("ramulator v2.0")
    assert out["offered_load_frac_of_peak"] == pytest.approx(0.25)
