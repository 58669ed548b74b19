"""Content-keyed reuse across runs/studies and `eoesim why`, with real SCALE-Sim runs."""
import json

import pandas as pd
import pytest
import yaml

from eoesim.errors import SimulatorError
from eoesim.execute import RESULT_CSV, RUN_JSON, execute_run
from eoesim.reuse import RunCache, cache_root, run_key
from eoesim.runners import Runner
from eoesim.simulators.base import get_simulator
from eoesim.simulators.scalesim import CONFIG_FILE, ScaleSim
from eoesim.why import explain_run_dir, explain_study

pytestmark = pytest.mark.slow

POINT = {
    "array_rows": 8, "array_cols": 8, "dataflow": "os", "sram_kib": {"ifmap": 64, "filter": 64, "ofmap": 32},
    "interface_bandwidth": "calc", "dram_bandwidth_words_per_cycle": 10, "freq_ghz": 1.0,
    "phase": "prefill", "seq_len": 16, "batch": 1,
    "gemms": [{"name": "e.a", "expert": "e", "gemm": "a", "m": 24, "n": 16, "k": 32, "instances": 1}],
}


class MustNotRun(Runner):
    """A runner that fails if the simulator is started: proves a result came from the cache."""

    def run(self, argv, rundir, timeout_s, inputs=()):
        raise SimulatorError("the simulator was started although an identical run is cached")


def run(tmp_path, name, sim=None, runner=None, point=POINT):
    sim = sim or get_simulator("scalesim", {"mode": "python"})
    return execute_run(sim, point, name, tmp_path / "runs" / name, tmp_path / "logs" / name,
                       runner or sim.runner(), 600, sim.identity(), RunCache(tmp_path / "cache"))


def test_identical_run_is_restored_from_the_cache_without_running(tmp_path):
    first = run(tmp_path, "aaaaaaaaaaaa")
    second = run(tmp_path, "bbbbbbbbbbbb", runner=MustNotRun(mode="python"))
    pd.testing.assert_frame_equal(first.drop(columns="run_id"), second.drop(columns="run_id"))
    rec1 = json.loads((tmp_path / "runs" / "aaaaaaaaaaaa" / RUN_JSON).read_text())
    rec2 = json.loads((tmp_path / "runs" / "bbbbbbbbbbbb" / RUN_JSON).read_text())
    assert rec1["run_key"] == rec2["run_key"] and rec1["reused_from"] is None
    assert rec2["reused_from"] == str(tmp_path / "cache" / "scalesim" / rec1["run_key"])
    assert (tmp_path / "runs" / "bbbbbbbbbbbb" / "outputs" / "run" / "COMPUTE_REPORT.csv").exists()
    assert pd.read_csv(tmp_path / "runs" / "bbbbbbbbbbbb" / RESULT_CSV)["run_id"].eq("bbbbbbbbbbbb").all()


def test_a_changed_input_changes_the_key_and_runs(tmp_path):
    run(tmp_path, "aaaaaaaaaaaa")
    other = json.loads(json.dumps(POINT))
    other["sram_kib"]["ifmap"] = 128
    with pytest.raises(SimulatorError, match="was started"):
        run(tmp_path, "cccccccccccc", runner=MustNotRun(mode="python"), point=other)


def test_key_ignores_machine_paths_but_not_versions():
    sim = get_simulator("scalesim", {"mode": "python"})
    ident = sim.identity()
    moved = dict(ident, binary="/elsewhere/bin", mode="python")
    assert sim.content_identity(moved) == sim.content_identity(ident)
    newer = dict(ident, version="3.0.1")
    assert run_key("scalesim", "1", sim.content_identity(newer), {}) != run_key(
        "scalesim", "1", sim.content_identity(ident), {})


class NewAdapter(ScaleSim):
    adapter_version = "2"


class OtherTemplate(ScaleSim):
    def render(self, point, rundir):
        files = super().render(point, rundir)
        (rundir / CONFIG_FILE).write_text((rundir / CONFIG_FILE).read_text().replace("OfmapOffset: 20000000",
                                                                                      "OfmapOffset: 30000000"))
        return files


def test_why_names_what_changed(tmp_path, monkeypatch):
    run(tmp_path, "aaaaaaaaaaaa")
    rundir = tmp_path / "runs" / "aaaaaaaaaaaa"
    assert "reused - same content key" in explain_run_dir(rundir, {})[0]
    monkeypatch.setattr("eoesim.why.get_simulator", lambda name, site: NewAdapter(site))
    lines = explain_run_dir(rundir, {})
    assert "will re-execute" in lines[0] and "adapter version changed: 1 -> 2" in lines[1]
    monkeypatch.setattr("eoesim.why.get_simulator", lambda name, site: OtherTemplate(site))
    lines = explain_run_dir(rundir, {})
    assert any(f"input {CONFIG_FILE} changed" in line for line in lines)


def test_why_for_a_study_reports_cache_hits_and_new_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("EOESIM_CACHE", str(tmp_path / "cache"))
    study = {"study": "s1", "eoe": {"experts": [{"name": "t", "layers": 1, "d_model": 16, "heads": 2,
                                                 "kv_heads": 2, "d_ff": 32, "vocab": 10}]},
             "workload": {"scalesim": {"seq_len": 8}}, "hardware": {"chiplet": {"array": [8, 8]}}}
    config = tmp_path / "s1.yaml"
    config.write_text(yaml.safe_dump(study))
    site = {"scalesim": {"mode": "python", "timeout_s": 600}}
    (line,) = [ln for ln in explain_study(config, tmp_path / "results", site) if "scalesim" in ln]
    assert "will execute" in line
    from eoesim.cli import main
    assert main(["run", str(config), "--results", str(tmp_path / "results")]) == 0
    study["study"] = "s2"
    config2 = tmp_path / "s2.yaml"
    config2.write_text(yaml.safe_dump(study))
    (line,) = [ln for ln in explain_study(config2, tmp_path / "results", site) if "runs/scalesim" in ln]
    assert "will reuse" in line and str(tmp_path / "cache") in line


def test_cache_location_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("EOESIM_CACHE", raising=False)
    assert cache_root(tmp_path) == tmp_path / ".cache"
    monkeypatch.setenv("EOESIM_CACHE", "none")
    assert cache_root(tmp_path) is None
    monkeypatch.setenv("EOESIM_CACHE", str(tmp_path / "shared"))
    assert cache_root(tmp_path) == tmp_path / "shared"


def test_restore_keeps_a_dangling_symlink_the_rendering_made(tmp_path):
    """A RapidChiplet working copy links booksim2/src/booksim into the checkout even when BookSim is not
    built; restoring a cached run over it used to fail with 'File exists' (issue 15.3)."""
    stored, rundir = tmp_path / "cache" / "rapidchiplet" / "k", tmp_path / "run"
    for where in (stored, rundir):
        (where / "booksim2" / "src").mkdir(parents=True)
        (where / "booksim2" / "src" / "booksim").symlink_to(tmp_path / "checkout" / "booksim2" / "src" / "booksim")
    (stored / "results").mkdir()
    (stored / "results" / "x.json").write_text("{}")
    (stored / "run.json").write_text("{}")
    RunCache(tmp_path / "cache").restore(stored, rundir)
    assert (rundir / "results" / "x.json").read_text() == "{}" and (rundir / "run.json").is_file()
    assert (rundir / "booksim2" / "src" / "booksim").is_symlink()
