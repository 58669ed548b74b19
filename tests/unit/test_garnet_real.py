"""The Garnet adapter with a real gem5.opt (Garnet_standalone): the rendered chiplet package runs in gem5.

The chiplet package (``topology: chiplet_mesh``) is a topology module the harness renders into an overlay of
gem5's configs (eoesim.simulators.garnet_topology); only a real gem5 shows that it imports the module, builds
the links and their SerDes bridges, and routes over them. These run in the real-simulator check
(``make test-real`` with ``garnet.binary`` and ``garnet.configs`` in the site config) and are skipped elsewhere.

Physics checked by hand: a 4x4 router mesh cut into 2x2 chiplets of 2x2 routers, uniform random traffic under
XY routing. A packet crosses the vertical chiplet edge when its source and destination columns lie on
different sides (probability 1/2), and the horizontal edge likewise: 1.0 interposer hop per packet on average.
At a light load (0.02 packets/node/cycle: queueing is a fraction of a cycle), raising the interposer link
latency from 1 to 8 cycles adds 7 x 1.0 = 7 cycles to the average packet latency and leaves the hop count
unchanged. Narrowing the interposer links to half the router width puts SerDes bridges on both ends of each
one, which only adds latency.
"""
from __future__ import annotations

import pytest
from real_simulators import real_site

from eoesim.config import validate
from eoesim.execute import execute_run
from eoesim.simulators.base import get_simulator

pytestmark = pytest.mark.real

#: mean interposer hops per packet, uniform random traffic on 2x2 chiplets of 2x2 routers (module docstring)
INTERPOSER_HOPS = 1.0


def package(latency: int, width_bits: int = 128) -> dict:
    return {"topology": "chiplet_mesh", "synthetic": "uniform_random", "injection_rate": 0.02,
            "chiplet_mesh": {"chiplets": [2, 2], "routers_per_chiplet": [2, 2],
                             "interposer_link_latency_cycles": latency, "interposer_link_width_bits": width_bits}}


def run(sim, tmp_path, section: dict, name: str):
    point = sim.point_params(validate({"seed": 1, "workload": {"garnet": section}}, "test"))
    rows = execute_run(sim, point, name, tmp_path / "runs" / name, tmp_path / "logs" / name, sim.runner(), 600.0,
                       {"version": "real", "mode": "native"})
    return rows[rows["vnet"].astype(str) == "all"].iloc[0]


def test_each_interposer_latency_cycle_adds_one_cycle_per_interposer_hop(tmp_path):
    sim = get_simulator("garnet", real_site("garnet"))
    fast = run(sim, tmp_path, package(1), "ip1")
    slow = run(sim, tmp_path, package(8), "ip8")
    assert fast["average_hops"] == pytest.approx(slow["average_hops"], rel=0.02)
    added = slow["average_packet_latency_cycles"] - fast["average_packet_latency_cycles"]
    assert added == pytest.approx(7 * INTERPOSER_HOPS, abs=1.0)


def test_narrow_interposer_links_get_serdes_bridges_that_add_latency(tmp_path):
    sim = get_simulator("garnet", real_site("garnet"))
    wide = run(sim, tmp_path, package(4, 128), "w128")
    narrow = run(sim, tmp_path, package(4, 64), "w64")
    assert narrow["average_hops"] == pytest.approx(wide["average_hops"], rel=0.02)
    assert narrow["average_packet_latency_cycles"] > wide["average_packet_latency_cycles"] + 0.5 * INTERPOSER_HOPS


def test_the_study_package_runs_in_gem5_and_follows_its_link_latency(tmp_path):
    # topology: package on a 4x4 grid of chiplets = 16 routers, every link an interposer link. Uniform random
    # traffic (destinations include the source) crosses (k^2 - 1) / (3 k) = 1.25 links per dimension on a side of
    # k = 4: 2.5 hops, all interposer hops, so 6 more cycles per link (2 -> 8) add 2.5 x 6 = 15 cycles at a light load
    sim = get_simulator("garnet", real_site("garnet"))
    rows = {}
    for cycles in (2, 8):
        config = {"seed": 1, "hardware": {"package": {"grid": [4, 4], "link_latency_cycles": cycles}},
                  "workload": {"garnet": {"topology": "package", "injection_rate": 0.02}}}
        point = sim.point_params(validate(config, "test"))
        assert point["topology"] == "chiplet_mesh" and point["num_cpus"] == 16
        rows[cycles] = execute_run(sim, point, f"pkg{cycles}", tmp_path / "runs" / str(cycles),
                                   tmp_path / "logs" / str(cycles), sim.runner(), 600.0,
                                   {"version": "real", "mode": "native"})
        rows[cycles] = rows[cycles][rows[cycles]["vnet"].astype(str) == "all"].iloc[0]
    assert rows[2]["average_hops"] == pytest.approx(2.5, abs=0.05) == rows[8]["average_hops"]
    added = rows[8]["average_packet_latency_cycles"] - rows[2]["average_packet_latency_cycles"]
    assert added == pytest.approx(2.5 * 6, abs=1.5)
