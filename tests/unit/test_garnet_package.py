"""workload.garnet.topology: package - the study's own hardware.package as the Garnet network."""
from __future__ import annotations

import copy
import warnings

import pytest
import yaml

from eoesim.analysis.packs import load_pack
from eoesim.config import build_study
from eoesim.errors import ConfigError
from eoesim.paths import project_root
from eoesim.simulators.base import get_simulator


def _point(package: dict | None = None, chiplet: dict | None = None, garnet: dict | None = None) -> dict:
    config = {"workload": {"garnet": garnet or {"topology": "package"}},
              "hardware": {"package": package or {}, "chiplet": chiplet or {}}}
    return get_simulator("garnet").point_params(build_study(config).points[0].params)


def test_package_is_a_router_per_chiplet_with_the_package_links_as_interposer_links():
    point = _point({"grid": [2, 4], "link_latency_cycles": 3})
    assert point["topology"] == "chiplet_mesh" and (point["num_cpus"], point["mesh_rows"]) == (8, 2)
    assert point["chiplet_mesh"]["chiplets"] == [2, 4] and point["chiplet_mesh"]["routers_per_chiplet"] == [1, 1]
    assert point["chiplet_mesh"]["interposer_link_latency_cycles"] == 3
    # 4 cycles of a 2 GHz chiplet are 2 ns: 2 cycles of the 1 GHz network; never below one cycle
    assert _point({"link_latency_cycles": 4}, {"freq_ghz": 2.0})["chiplet_mesh"]["interposer_link_latency_cycles"] == 2
    assert _point({"link_latency_cycles": 0})["chiplet_mesh"]["interposer_link_latency_cycles"] == 1
    # the interposer width stays the workload's
    wide = _point(garnet={"topology": "package", "chiplet_mesh": {"interposer_link_width_bits": 64}})
    assert wide["chiplet_mesh"]["interposer_link_width_bits"] == 64


def test_a_torus_package_is_refused_with_the_key():
    with pytest.raises(ConfigError, match=r"workload.garnet.topology: package needs a mesh package; "
                                          r"hardware.package.topology is 'torus'"):
        _point({"topology": "torus"})


def test_the_package_network_slows_and_saturates_earlier_with_slower_package_links():
    pack, out = load_pack("garnet"), {}
    for cycles in (1, 2, 4, 8):
        query = get_simulator("garnet").surrogate_query(_point({"link_latency_cycles": cycles}))
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # inside the pack's domain: fitted on real gem5 runs of packages
            out[cycles] = pack.predict(query).iloc[0]
    latency = [out[c]["avg_packet_latency_cycles"] for c in (1, 2, 4, 8)]
    sat = [out[c]["saturation_injection_rate"] for c in (1, 2, 4, 8)]
    assert latency == sorted(latency) and sat == sorted(sat, reverse=True)
    # 2.5 hops per packet on the 4x4 package, each an interposer link: 7 more cycles per link add ~17.5 cycles
    assert latency[3] - latency[0] == pytest.approx(2.5 * 7, rel=0.15)


def test_the_default_study_models_its_own_package():
    config = yaml.safe_load((project_root() / "config" / "config.yaml").read_text())
    config = copy.deepcopy(config)
    config["sweep"] = {}
    study = build_study(config)
    point = get_simulator("garnet").point_params(study.points[0].params)
    package = study.points[0].params["hardware"]["package"]
    assert point["topology"] == "chiplet_mesh"
    assert point["chiplet_mesh"]["chiplets"] == package["grid"]
    assert point["chiplet_mesh"]["interposer_link_latency_cycles"] == package["link_latency_cycles"]
