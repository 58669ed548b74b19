"""Tests against real simulator builds (pytest marker ``real``): which simulators they may use, or why they skip.

They run only in the real-simulator check, ``make test-real`` (which sets EOESIM_REAL=1), with the simulators
the site config names: ``$EOESIM_SIMULATORS`` (else config/simulators.yaml), natively or from images (mode
docker). Everywhere else - ``make test``, CI - each is skipped with the reason, so the suite's time is
unchanged. A simulator the check asks for but the site config does not provide is a skip that says which
section to fill in; ``make test-real`` prints every skip reason (-rs).
"""
from __future__ import annotations

import os

import pytest

from eoesim.simulators.base import get_simulator
from eoesim.site import load_site_config, site_config_path

REAL_ENV = "EOESIM_REAL"
NOT_REQUESTED = ("real-simulator test: runs in the real-simulator check `make test-real` (EOESIM_REAL=1), with "
                 "the simulators of the site config in $EOESIM_SIMULATORS (README: Checking real simulators)")


def require_real() -> None:
    """Skip unless this is the real-simulator check."""
    if os.environ.get(REAL_ENV) != "1":
        pytest.skip(NOT_REQUESTED)


def real_site(name: str) -> dict:
    """The site section of simulator ``name`` for a real-simulator test, or a skip naming what is missing."""
    require_real()
    site = load_site_config()
    section = dict(site.get(name, {}))
    avail = get_simulator(name, section).availability()
    if not avail.available:
        pytest.skip(f"{name} is not available in the site config {site_config_path()}: {avail.detail}")
    return section
