"""CACTI sanity checks on a real run (tests/golden/cacti): echo of the rendered .cfg, and SRAMs that grow.

The clean copy of a real 256-KiB scratchpad run passes every check; corrupting CACTI's echo of its input,
or a table where a larger SRAM is smaller, fires the named check.
"""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from eoesim.provenance import sha256_file
from eoesim.simulators.base import get_simulator
from eoesim.trust.suite import run_checks

RUN = "0123456789ab"
PARAMS = {"technology_nm": 45, "cell_type": "itrs-hp", "peripheral_type": "itrs-hp", "temperature_k": 360}


def status(results, check):
    row = results[(results["check"] == check) & (results["simulator"] == "cacti")]
    assert len(row) == 1
    return row.iloc[0]


@pytest.fixture
def cacti_run(golden, tmp_path):
    rundir = tmp_path / "runs" / "cacti" / RUN
    shutil.copytree(golden / "cacti" / "scratchpad_256k_45nm", rundir)
    inputs = ["cacti/ifmap.cfg", "eoesim_srams.json"]
    record = {"run_id": RUN, "parameters": {**PARAMS, "srams": json.loads((rundir / "eoesim_srams.json")
                                                                          .read_text())["srams"]},
              "inputs_sha256": {n: sha256_file(rundir / n) for n in inputs}}
    (rundir / "run.json").write_text(json.dumps(record))
    sim = get_simulator("cacti")
    table = sim.annotate(sim.parse(rundir), PARAMS)
    table.insert(0, "run_id", RUN)
    table["fidelity"], table["source"] = "simulate", "cacti 1ffd8df"
    return tmp_path / "runs", rundir, table


def test_clean_real_cacti_run_passes_every_check(cacti_run):
    runs, _, table = cacti_run
    results = run_checks({"cacti": table}, runs)
    assert set(results["status"]) == {"pass"}, results[results["status"] != "pass"]
    assert status(results, "cacti_config_echo", )["rows_checked"] == 1


def test_a_value_cacti_did_not_take_fails_the_echo_check(cacti_run):
    runs, rundir, table = cacti_run
    stdout = rundir / "cacti" / "ifmap.stdout"
    stdout.write_text(stdout.read_text().replace("Cache banks (UCA)             : 1",
                                                 "Cache banks (UCA)             : 4"))
    row = status(run_checks({"cacti": table}, runs), "cacti_config_echo")
    assert row["status"] == "fail" and "ifmap: banks 1 rendered, CACTI ran 4" in row["message"]


def _sweep(table, areas, leakages, energies):
    """The real row at three sizes, with the given area, leakage and read energy (a made-up sweep)."""
    rows = pd.concat([table] * 3, ignore_index=True)
    rows["size_bytes"] = [65536, 131072, 262144]
    rows["area_mm2"], rows["leakage_mW"], rows["read_energy_nJ"] = areas, leakages, energies
    return rows


def test_an_sram_that_shrinks_as_it_grows_is_flagged(cacti_run):
    runs, _, table = cacti_run
    good = _sweep(table, [0.3, 0.6, 1.2], [80, 150, 300], [0.08, 0.1, 0.15])
    assert status(run_checks({"cacti": good}, runs), "sram_not_monotone")["status"] == "pass"
    bad = _sweep(table, [0.3, 0.2, 1.2], [80, 150, 300], [0.08, 0.1, 0.15])
    row = status(run_checks({"cacti": bad}, runs), "sram_not_monotone")
    assert (row["status"], row["severity"]) == ("warn", "warning")
    assert "area_mm2 falls from 0.3 at 65536 B to 0.2 at 131072 B" in row["message"]
    zero = _sweep(table, [0.3, 0.6, 1.2], [80, 0.0, 300], [0.08, 0.1, 0.15])
    assert "leakage_mW is not positive" in status(run_checks({"cacti": zero}, runs), "sram_not_monotone")["message"]
