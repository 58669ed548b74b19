"""Every registered simulator adapter keeps the contract (issue 20): it declares every fact the system asks
about it, renders its example point, parses its real golden outputs into a table with its row keys and required
metrics, names sanity checks that exist and pass on that run, and has a calibrated surrogate (or says why not).
A simulator that misses one of these fails here, not silently downstream."""
from __future__ import annotations

from pathlib import Path

import pytest
from simulator_contract import (
    assert_declares_every_fact,
    assert_parses,
    assert_renders,
    assert_sanity_checks,
    assert_surrogate,
    example_run,
)

from eoesim.simulators.base import ADAPTER_MODULES, registry

ADAPTERS = registry()
GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def test_every_adapter_module_registers_its_simulator():
    assert sorted(ADAPTER_MODULES) == sorted(name for name in ADAPTERS if name in ADAPTER_MODULES)
    assert set(ADAPTER_MODULES) <= set(ADAPTERS)


@pytest.fixture(scope="module", params=sorted(ADAPTER_MODULES))
def run(request, tmp_path_factory):
    """The adapter's example run (rendered once per module; the tests only read it)."""
    cls = ADAPTERS[request.param]
    assert_declares_every_fact(cls)
    return example_run(cls, GOLDEN / cls.name, tmp_path_factory.mktemp(cls.name) / "run")


@pytest.mark.parametrize("name", sorted(ADAPTER_MODULES))
def test_declares_every_fact(name):
    assert_declares_every_fact(ADAPTERS[name])


def test_renders_its_example_point(run):
    assert_renders(run)


def test_parses_its_golden_run_with_row_keys_and_required_metrics(run):
    assert_parses(run)


def test_its_sanity_checks_exist_apply_and_pass_on_the_golden_run(run):
    assert_sanity_checks(run)


def test_has_a_calibrated_surrogate_or_says_why_not(run):
    assert_surrogate(run)
