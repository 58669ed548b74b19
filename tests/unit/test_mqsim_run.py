"""MQSim runs end to end through execute_run: failure modes with stand-ins, and the real binary (slow).

The stand-ins are tiny shell scripts this test writes into tmp_path to reproduce documented MQSim failure
modes (CONTRACTS.md section 1, and crashes seen in real runs): an ``ERROR:`` line with exit code 1, a
process that never ends, one that waits on stdin like MQSim's ``cin.get()``, and a SIGSEGV. They produce no result
rows; every test asserts that the job FAILS.
The real-simulator test (``make test-real``) runs the site config's MQSim and compares with the golden run
in tests/golden/mqsim/eoe_small.
"""
from __future__ import annotations

import time

import pytest
import yaml
from real_simulators import real_site

from eoesim.config import validate
from eoesim.errors import SimulatorError
from eoesim.execute import execute_run
from eoesim.simulators.base import get_simulator
from eoesim.simulators.mqsim_results import read_flow_table

SMALL = {"ssd": {"channels": 1, "chips_per_channel": 1},
         "flows": [{"kind": "trace", "io": {"expert_loads": [{"name": "e", "weight_bytes": 1048576}]}}]}


def stand_in(tmp_path, body: str):
    exe = tmp_path / "MQSim"
    exe.write_text("#!/bin/sh\n" + body + "\n")
    exe.chmod(0o755)
    return get_simulator("mqsim", {"binary": str(exe)})


def run(sim, tmp_path, section=None, timeout_s=30.0, seed=1):
    point = sim.point_params(validate({"seed": seed, "workload": {"mqsim": section or SMALL}}, "test"))
    return execute_run(sim, point, "abc123", tmp_path / "runs" / "abc123", tmp_path / "logs" / "abc123",
                       sim.runner(), timeout_s, {"version": "stand-in", "mode": "native"})


def test_error_line_with_rc1_fails_the_job_and_keeps_logs(tmp_path):
    """Stand-in for MQSim's missing-trace failure: 'ERROR:...' on stderr and exit code 1."""
    sim = stand_in(tmp_path, 'echo "Executing scenario 1 out of 1 ......."\n'
                             'echo "ERROR:Error while opening input trace file: flow0.trace" >&2\nexit 1')
    with pytest.raises(SimulatorError) as info:
        run(sim, tmp_path)
    msg = str(info.value)
    assert "mqsim run abc123 failed (exit code 1)" in msg
    assert "MQSim exited with code 1: ERROR:Error while opening input trace file: flow0.trace" in msg
    logs = tmp_path / "logs" / "abc123"
    assert (logs / "stderr.log").read_text().startswith("ERROR:")
    assert (logs / "workload.xml").is_file() and (logs / "flow0.trace").is_file()
    assert not (tmp_path / "runs" / "abc123").exists()


def test_a_hanging_simulator_is_killed_by_the_timeout(tmp_path):
    """Stand-in that never ends (as MQSim does when it waits for a key press): killed after timeout_s."""
    sim = stand_in(tmp_path, 'echo "Simulation complete; Press any key to exit."\nexec sleep 600')
    t0 = time.monotonic()
    with pytest.raises(SimulatorError, match=r"timed out after 1 s and was killed"):
        run(sim, tmp_path, timeout_s=1.0)
    assert time.monotonic() - t0 < 20
    assert (tmp_path / "logs" / "abc123" / "stdout.log").is_file()


def test_stdin_is_dev_null_so_cin_get_returns(tmp_path):
    """Stand-in that reads stdin to EOF like cin.get(): with /dev/null it returns at once, and the job
    then fails on the missing completion marker - not on a timeout."""
    sim = stand_in(tmp_path, 'cat > /dev/null\necho "MQSim started"')
    t0 = time.monotonic()
    with pytest.raises(SimulatorError, match="lacks 'Simulation complete'"):
        run(sim, tmp_path, timeout_s=15.0)
    assert time.monotonic() - t0 < 10


def test_a_crash_names_the_signal(tmp_path):
    """Stand-in that dies of SIGSEGV, as real MQSim 7ec40e3 does with Address_Mapping HYBRID."""
    sim = stand_in(tmp_path, 'echo "Executing scenario 1 out of 1 ......."\nkill -SEGV $$')
    with pytest.raises(SimulatorError, match=r"exited with code -11: killed by signal 11 \(SIGSEGV\)"):
        run(sim, tmp_path)


def test_rc0_without_outputs_fails(tmp_path):
    """Stand-in that claims completion but writes no scenario file."""
    sim = stand_in(tmp_path, 'echo "Simulation complete; Press any key to exit."')
    with pytest.raises(SimulatorError, match="workload_scenario_1.xml is missing"):
        run(sim, tmp_path)


@pytest.mark.real
def test_real_mqsim_reproduces_the_golden_run(golden, tmp_path):
    sim = get_simulator("mqsim", real_site("mqsim"))
    src = golden / "mqsim" / "eoe_small"
    section = yaml.safe_load((src / "section.yaml").read_text())
    rows = run(sim, tmp_path, section=section, timeout_s=600, seed=7)
    expected = read_flow_table(src)
    cols = ["flow_name", "requests_generated", "requests_serviced", "bytes_transferred",
            "device_response_time_mean_us", "end_to_end_delay_max_us", "last_completion_us",
            "ssd_flash_read_cmds", "ssd_flash_program_cmds"]
    assert rows[cols].to_dict("records") == expected[cols].to_dict("records")
    assert (rows["throughput_source"] == "response_time_log").all()
