"""A toy seventh simulator (tests/fixtures/toy_simulator/) keeps the simulator contract while touching only its
adapter module, template folder, schema file, surrogate module and fixtures - nothing in the package (issue 20,
docs/adding-a-simulator.md). It is registered in a fresh interpreter, so the registries of this test session stay
those of the package."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent
TOY = UNIT.parent / "fixtures" / "toy_simulator"


def contract(tmp_path, *drop):
    return subprocess.run([sys.executable, str(TOY / "contract_run.py"), str(UNIT), str(tmp_path), *drop],
                          capture_output=True, text=True, timeout=120)


def test_the_toy_simulator_registers_and_keeps_the_contract(tmp_path):
    done = contract(tmp_path)
    assert done.returncode == 0 and "contract kept" in done.stdout, done.stderr[-3000:]
    assert (tmp_path / "packs" / "toylink.json").is_file()
    assert (tmp_path / "runs" / "toylink" / "r1" / "results.csv").is_file()


@pytest.mark.parametrize("fact, message", [
    ("required_metrics", "toylink: the adapter does not declare ['required_metrics']"),
    ("echo_checks", "toylink: the adapter does not declare ['echo_checks']"),
])
def test_a_toy_without_one_of_its_facts_fails_the_contract(tmp_path, fact, message):
    done = contract(tmp_path, fact)
    assert done.returncode != 0 and message in done.stderr, done.stderr[-3000:]
