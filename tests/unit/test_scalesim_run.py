"""Real SCALE-Sim runs (PyPI scalesim 3.0.0) through the harness, and its failure modes."""
import json
import re
import sys

import pandas as pd
import pytest

from eoesim.errors import SimulatorError
from eoesim.execute import RESULT_CSV, RUN_JSON, execute_run
from eoesim.provenance import sha256_file
from eoesim.simulators.base import get_simulator
from eoesim.simulators.scalesim import CONFIG_FILE, LAYOUT_FILE, TOPOLOGY_FILE, ScaleSim

pytestmark = pytest.mark.slow


def make_point(rows, cols, dataflow, gemms):
    return {
        "array_rows": rows, "array_cols": cols, "dataflow": dataflow,
        "sram_kib": {"ifmap": 64, "filter": 64, "ofmap": 32},
        "interface_bandwidth": "calc", "dram_bandwidth_words_per_cycle": 10, "freq_ghz": 2.0,
        "phase": "prefill", "seq_len": 16, "batch": 1,
        "gemms": [{"name": f"e.{n}", "expert": "e", "gemm": n, "m": m, "n": nn, "k": k, "instances": i}
                  for n, m, nn, k, i in gemms],
    }


SMALL = [("a", 32, 48, 40, 1), ("b", 16, 16, 8, 3)]


def run(sim, point, tmp_path, timeout_s=600.0):
    return execute_run(sim, point, "abcdef012345", tmp_path / "runs" / "abcdef012345",
                       tmp_path / "logs" / "abcdef012345", sim.runner(), timeout_s, sim.identity())


def test_parsed_cycles_equal_what_scalesim_prints(tmp_path):
    sim = get_simulator("scalesim", {"mode": "python"})
    rows = run(sim, make_point(16, 16, "ws", SMALL), tmp_path)
    rundir = tmp_path / "runs" / "abcdef012345"
    stdout = (rundir / "stdout.log").read_text()
    printed_total = [int(x) for x in re.findall(r"^Total cycles: (\d+)", stdout, re.M)]
    printed_compute = [int(x) for x in re.findall(r"^Compute cycles: (\d+)", stdout, re.M)]
    printed_stall = [int(x) for x in re.findall(r"^Stall cycles: (\d+)", stdout, re.M)]
    assert list(rows["total_cycles_incl_prefetch"]) == printed_total
    assert list(rows["total_cycles"]) == printed_compute
    assert list(rows["stall_cycles"]) == printed_stall
    assert list(rows["layer"]) == ["e.a", "e.b"]
    assert list(rows["instances"]) == [1, 3]
    assert (rows["compute_latency_ns"] == rows["total_cycles"] / 2.0).all()
    assert set(rows["fidelity"]) == {"simulate"} and set(rows["source"]) == {"scalesim 3.0.0"}
    # published atomically: result.csv and run.json next to the inputs, no temp dir left behind
    assert pd.read_csv(rundir / RESULT_CSV).shape[0] == 2
    record = json.loads((rundir / RUN_JSON).read_text())
    assert record["simulator"] == "scalesim" and record["exit_code"] == 0 and record["version"] == "3.0.0"
    assert record["inputs_sha256"][CONFIG_FILE] == sha256_file(rundir / CONFIG_FILE)
    assert set(record["inputs_sha256"]) == {CONFIG_FILE, TOPOLOGY_FILE, LAYOUT_FILE}
    assert record["parameters"]["array_rows"] == 16 and record["wall_s"] > 0
    assert record["argv"][:3] == [sys.executable, "-m", "eoesim.simulators.scalesim_driver"]
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["abcdef012345"]
    assert not (tmp_path / "logs" / "abcdef012345").exists()
    # traces are not written (save_disk_space)
    assert not list(rundir.rglob("*_TRACE.csv"))


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_bigger_array_never_takes_more_cycles_for_a_large_gemm(tmp_path, dataflow):
    sim = get_simulator("scalesim", {"mode": "python"})
    cycles = []
    for size in (8, 16, 32):
        rows = run(sim, make_point(size, size, dataflow, [("big", 96, 96, 64, 1)]), tmp_path / str(size))
        cycles.append(int(rows["total_cycles"].iloc[0]))
    assert cycles[0] >= cycles[1] >= cycles[2]
    assert cycles[0] > 2 * cycles[2]  # 16x the PEs must help a GEMM this large substantially


class BrokenConfigScaleSim(ScaleSim):
    """Renders a config without the [sparsity] section that scalesim 3 requires -> real traceback, rc 1."""

    def render(self, point, rundir):
        files = super().render(point, rundir)
        cfg = rundir / CONFIG_FILE
        cfg.write_text(cfg.read_text().replace("[sparsity]\nSparsitySupport: false\n", ""))
        return files


class MissingLayoutCliScaleSim(ScaleSim):
    """Runs SCALE-Sim's own CLI with a missing layout file: it prints ERROR: and exits 0."""

    def argv(self, rundir):
        return [sys.executable, "-m", "scalesim.scale", "-c", CONFIG_FILE, "-t", TOPOLOGY_FILE,
                "-l", "no_such_layout.csv", "-p", "outputs"]


class WrongOutdirScaleSim(ScaleSim):
    """Writes the reports somewhere else, so the expected report files are missing."""

    def argv(self, rundir):
        return super().argv(rundir)[:-1] + ["elsewhere"]


def _assert_failed_and_kept(tmp_path, info, *fragments):
    message = str(info.value)
    for fragment in ("scalesim run abcdef012345 failed", *fragments):
        assert fragment in message, message
    logs = tmp_path / "logs" / "abcdef012345"
    assert (logs / "stdout.log").exists() and (logs / "stderr.log").exists() and (logs / CONFIG_FILE).exists()
    assert not (tmp_path / "runs" / "abcdef012345").exists()
    assert not list((tmp_path / "runs").glob(".tmp-*"))
    assert not list(tmp_path.rglob(RESULT_CSV))


def test_nonzero_exit_fails_with_exit_code_and_stderr_tail(tmp_path):
    sim = BrokenConfigScaleSim({"mode": "python"})
    with pytest.raises(SimulatorError) as info:
        run(sim, make_point(8, 8, "os", SMALL), tmp_path)
    _assert_failed_and_kept(tmp_path, info, "exit code 1", "last 20 lines of stderr", "sparsity")


def test_error_on_stdout_with_exit_zero_is_a_failure(tmp_path):
    sim = MissingLayoutCliScaleSim({"mode": "python"})
    with pytest.raises(SimulatorError) as info:
        run(sim, make_point(8, 8, "os", SMALL), tmp_path)
    _assert_failed_and_kept(tmp_path, info, "exit code 0", "ERROR: scalesim.scale.py: Layout file not found")


def test_missing_report_file_is_a_failure(tmp_path):
    sim = WrongOutdirScaleSim({"mode": "python"})
    with pytest.raises(SimulatorError) as info:
        run(sim, make_point(8, 8, "os", SMALL), tmp_path)
    _assert_failed_and_kept(tmp_path, info, "missing report file(s)", "COMPUTE_REPORT.csv")


def test_timeout_kills_the_run(tmp_path):
    sim = get_simulator("scalesim", {"mode": "python"})
    with pytest.raises(SimulatorError) as info:
        run(sim, make_point(8, 8, "os", [("big", 256, 256, 256, 1)]), tmp_path, timeout_s=1.0)
    _assert_failed_and_kept(tmp_path, info, "timed out after 1 s")


def test_a_rerun_replaces_a_previous_failure_log(tmp_path):
    with pytest.raises(SimulatorError):
        run(BrokenConfigScaleSim({"mode": "python"}), make_point(8, 8, "os", SMALL), tmp_path)
    assert (tmp_path / "logs" / "abcdef012345").exists()
    run(get_simulator("scalesim", {"mode": "python"}), make_point(8, 8, "os", SMALL), tmp_path)
    assert (tmp_path / "runs" / "abcdef012345" / RUN_JSON).exists()
    assert not (tmp_path / "logs" / "abcdef012345").exists()
