"""Against the real Ramulator, in the real-simulator check (``make test-real``; skipped otherwise).

* v2.0: the ``ramulator`` section of the site config ($EOESIM_SIMULATORS) with variant v2.0 (a ``ramulator2``
  built from tag v2.0a, natively or in an image): every standard and both frontends are rendered, run and
  parsed end to end.
* v2.1: ``EOESIM_RAMULATOR21_PYTHONPATH`` = the ``python/`` directory of a Ramulator 2.1 checkout (a site
  config names one variant only): every rendered config script is accepted by the real 2.1 Python
  configuration classes (``python -m ramulator export`` does not need the compiled extension), and our HBM2
  script expands to the sample's exported config.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from real_simulators import real_site, require_real

from eoesim.config import validate
from eoesim.execute import execute_run
from eoesim.simulators.base import get_simulator

pytestmark = pytest.mark.real


@pytest.fixture
def v20_site():
    site = real_site("ramulator")
    if site.get("variant", "v2.0") != "v2.0":
        pytest.skip("the site config's ramulator is not variant v2.0")
    return site


@pytest.fixture
def py21():
    require_real()
    path = os.environ.get("EOESIM_RAMULATOR21_PYTHONPATH")
    if not path:
        pytest.skip("set EOESIM_RAMULATOR21_PYTHONPATH to a Ramulator 2.1 checkout's python/")
    return path


def point_for(variant, site, **wl):
    sim = get_simulator("ramulator", {"variant": variant, **site})
    return sim, sim.point_params(validate({"workload": {"ramulator": wl}}))


@pytest.mark.parametrize("standard", ["DDR4", "DDR5", "HBM2", "HBM3"])
@pytest.mark.parametrize("frontend,stream", [
    ("LoadStoreTrace", {"pattern": "random", "read_fraction": 0.7, "num_requests": 4000}),
    ("SimpleO3", {"pattern": "sequential", "read_fraction": 0.8, "num_requests": 2000, "bubbles": 4}),
])
def test_real_v20_run(tmp_path, v20_site, standard, frontend, stream):
    sim, point = point_for("v2.0", v20_site, standard=standard, channels=2,
                           ranks=2 if standard.startswith("DDR") else 1,
                           frontend={"impl": frontend, "offered_load": 0.6}, stream=stream)
    rows = execute_run(sim, point, "real", tmp_path / "run", tmp_path / "logs", sim.runner(), 120,
                       sim.identity())
    assert list(rows["channel"]) == [0, 1]
    assert rows["system_read_requests"].iloc[0] > 0
    assert (rows["memory_system_cycles"] > 0).all()
    if frontend == "LoadStoreTrace":
        # every request of the trace was accepted (the run ends when the last one is sent)
        assert rows["system_read_requests"].iloc[0] + rows["system_write_requests"].iloc[0] == 4000
        assert (rows["reads_served"] > 0).all()


@pytest.mark.parametrize("standard", ["DDR4", "DDR5", "HBM2", "HBM3"])
@pytest.mark.parametrize("frontend", ["LoadStoreTrace", "SimpleO3"])
@pytest.mark.parametrize("row_policy", ["open", "closed"])
def test_v21_scripts_accepted_by_the_real_config_classes(tmp_path, py21, standard, frontend, row_policy):
    sim, point = point_for("v2.1", {"python_path": py21}, standard=standard, channels=2,
                           ranks=2 if standard.startswith("DDR") else 1, frontend={"impl": frontend},
                           controller={"row_policy": row_policy, "addr_mapper": "MOP4CLXOR"},
                           stream={"num_requests": 20, "read_fraction": 0.8})
    sim.render(point, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "ramulator", "export", "ramulator_config.py"], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": py21}, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    cfg = yaml.safe_load(proc.stdout)
    assert len(cfg["memory_system"]["controllers"]) == 2
    assert cfg["memory_system"]["controllers"][0]["dram"]["impl"] == standard


def test_v21_hbm2_script_expands_to_the_sample_config(tmp_path, golden, py21):
    sim, point = point_for("v2.1", {"python_path": py21}, standard="HBM2", channels=8,
                           frontend={"clock_ratio": [1, 1]}, stream={"num_requests": 20})
    sim.render(point, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "ramulator", "export", "ramulator_config.py"], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": py21}, capture_output=True, text=True, check=True)
    ours = yaml.safe_load(proc.stdout)
    sample = yaml.safe_load((golden / "ramulator" / "v2.1" / "hbm2_loadstore" / "exported_config.yaml").read_text())
    ours["frontend"]["path"] = sample["frontend"]["path"]
    assert ours == sample
