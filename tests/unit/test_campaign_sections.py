"""Every cell of the calibration campaigns is a design point the adapter accepts.

A campaign builds all its points before it runs any, so one cell the adapter refuses (the Garnet campaign once
listed 6x6 and 4x6 chiplet packages, whose 36 and 24 directories gem5 cannot interleave) stops the whole
campaign; a real simulator is only at hand when it is run, so the cells are checked here. (The Ramulator campaign's
1,965 cells ran, and take half a minute to build, so they are left out.)
"""
from __future__ import annotations

import pytest

from eoesim.analysis import campaign_garnet, campaign_rapidchiplet
from eoesim.analysis.realruns import simulator_point


@pytest.mark.parametrize("simulator, sections", [
    ("garnet", campaign_garnet.sections),
    ("rapidchiplet", campaign_rapidchiplet.analytic_sections),
    ("rapidchiplet", campaign_rapidchiplet.booksim_sections),
])
def test_every_campaign_cell_is_a_point_the_adapter_accepts(simulator, sections):
    cells = sections()
    points = [simulator_point(simulator, s) for s in cells]
    assert len(points) == len(cells) > 0


def test_the_garnet_campaign_varies_the_interposer_latency_and_width():
    packages = [s["chiplet_mesh"] for s in campaign_garnet.sections()]
    assert len({p["interposer_link_latency_cycles"] for p in packages}) >= 3
    assert min(p["interposer_link_width_bits"] for p in packages) < 128   # SerDes bridges on narrower links
