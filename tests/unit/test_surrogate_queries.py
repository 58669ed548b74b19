"""The adapters' surrogate queries: every input the point has reaches the pack, and a regime or setting the pack
was not fitted on is out of its domain (with a message naming it), never silently inside; ``validate``
(plan_study) refuses in strict mode what the job would refuse."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from eoesim.analysis.packs import load_pack
from eoesim.analysis.surrogate import OutOfDomainWarning
from eoesim.config import build_study
from eoesim.errors import ConfigError
from eoesim.plan import plan_study
from eoesim.simulators.base import get_simulator
from eoesim.surrogates import CALIBRATED, SETTINGS_COLUMN

NO_SIMULATORS: dict = {}


def _point(simulator: str, section: dict | None = None, **study) -> dict:
    config = {**study, "workload": {simulator: section or {}}}
    return get_simulator(simulator).point_params(build_study(config).points[0].params)


def _predict(pack: str, query):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OutOfDomainWarning)
        out = load_pack(pack).predict(query)
    return out, " ".join(str(w.message) for w in caught)


# ---- MQSim ------------------------------------------------------------------------------------------------
def test_mqsim_query_counts_every_request_of_a_transfer_and_the_reread_idiom():
    point = _point("mqsim", {"ssd": {"flash": {"technology": "TLC"}}})   # the default study's SSD flow
    row = get_simulator("mqsim").surrogate_query(point).iloc[0]
    # one 64 MiB expert loaded 4 times, 128 KiB requests, transfers 10 ms apart (Poisson)
    assert row["requests_per_transfer"] == 512 and row["transfers"] == 4
    assert row["offered_load_MBps"] == pytest.approx(64 * 2**20 / 10_000)      # bytes per us = MB/s
    assert (row["pattern"], row["footprint_KiB"]) == ("reread", 64 * 1024)
    arrivals = np.array(row["transfer_arrivals_us"].split(), dtype=float)
    assert len(arrivals) == 4 and arrivals[0] == 0 and np.all(np.diff(arrivals) > 0)
    assert row[SETTINGS_COLUMN] == CALIBRATED


def test_mqsim_fresh_ranges_are_sequential_and_settings_without_an_input_leave_the_domain():
    flow = {"kind": "trace", "io": {"request_size_kib": 128, "expert_loads": [
        {"name": f"e{i}", "weight_bytes": 2**20, "loads": 1} for i in range(8)]}}
    row = get_simulator("mqsim").surrogate_query(_point("mqsim", {"flows": [flow]})).iloc[0]
    assert (row["pattern"], row["requests_per_transfer"], row["transfers"]) == ("sequential", 8, 8)
    query = get_simulator("mqsim").surrogate_query(_point("mqsim", {"ssd": {"pcie_lanes": 8}}))
    assert query[SETTINGS_COLUMN].iloc[0] == "pcie_lanes=8 (calibrated: 4)"
    out, why = _predict("mqsim", query)
    assert not out["in_domain"].iloc[0] and "fixed_settings='pcie_lanes=8 (calibrated: 4)' is not a fitted level" in why


def test_mqsim_steady_state_is_only_offered_below_saturation_and_short_bursts_are_outside():
    base = dict(channels=8, chips_per_channel=4, dies_per_chip=2, planes_per_die=2, flash_technology="TLC",
                request_size_KiB=128, read_fraction=1.0, pattern="reread", requests_per_transfer=64,
                footprint_KiB=8192)
    import pandas as pd
    query = pd.DataFrame([dict(base, offered_load_MBps=f * 2000) for f in (0.2, 0.5, 2.0)]
                         + [dict(base, offered_load_MBps=400, requests_per_transfer=8)])
    out, why = _predict("mqsim", query)
    assert out["in_domain"].tolist() == [True, True, False, False]
    assert np.isnan(out["response_time_us"].iloc[2])            # no steady state above saturation
    assert out["response_time_us"].iloc[1] > out["response_time_us"].iloc[0]
    assert "bursts of fewer than 32 requests" in why


# ---- RapidChiplet -------------------------------------------------------------------------------------------
def test_rapidchiplet_query_keeps_the_hexagonal_radius_and_the_edge_columns():
    sim = get_simulator("rapidchiplet")
    hexa = sim.surrogate_query(_point("rapidchiplet", {"route": "experiment", "topology": "hexamesh",
                                                       "hex_radius": 2})).iloc[0]
    assert (hexa["hex_radius"], hexa["n_chiplets"]) == (2, 19) and np.isnan(hexa["grid_rows"])
    # RapidChiplet's example compute chiplet, the one the pack was fitted on (else hardware.chiplet sets it)
    calibrated = {"chiplets": {"compute": {"area_mm2": 74, "power_w": 20}}}
    edges = sim.surrogate_query(_point("rapidchiplet", {"grid": [3, 3], "edge_columns": {"west": "memory"},
                                                        **calibrated}))
    assert edges["edge_columns"].iloc[0] == "memory/none" and edges["n_chiplets"].iloc[0] == 12
    out, _ = _predict("rapidchiplet", edges)
    plain, _ = _predict("rapidchiplet", sim.surrogate_query(_point("rapidchiplet", {"grid": [3, 3], **calibrated})))
    # three memory chiplets (110 mm2 + 4 PHYs of 0.85 mm2 each) on top of the 3 x 3 compute grid
    assert out["total_chiplet_area_mm2"].iloc[0] - plain["total_chiplet_area_mm2"].iloc[0] == pytest.approx(
        3 * (110 + 4 * 0.85), rel=1e-6)
    assert out["in_domain"].iloc[0]


def test_rapidchiplet_chiplet_settings_the_pack_was_not_fitted_on_are_out_of_domain():
    point = _point("rapidchiplet", {"chiplets": {"compute": {"area_mm2": 100}}})
    query = get_simulator("rapidchiplet").surrogate_query(point)
    assert query[SETTINGS_COLUMN].iloc[0].startswith("chiplets.compute.area_mm2=100 (calibrated: 74)")
    out, why = _predict("rapidchiplet", query)
    assert not out["in_domain"].iloc[0] and "area_mm2=100" in why


def test_booksim_pack_distinguishes_traffic_patterns_and_refuses_an_unfitted_one():
    import pandas as pd
    base = dict(topology="mesh", n_chiplets=16, grid_rows=4, grid_cols=4, injection_rate_flits_per_node_per_cycle=0.05)
    query = pd.DataFrame([dict(base, traffic_pattern="random_uniform"), dict(base, traffic_pattern="transpose"),
                          dict(base, traffic_pattern="hotspot", seed=1), dict(base, topology="folded_torus",
                                                                                traffic_pattern="transpose")])
    out, why = _predict("rapidchiplet_booksim", query)
    assert out["in_domain"].tolist() == [True, True, True, False]
    assert out["saturation_injection_rate"].iloc[1] < out["saturation_injection_rate"].iloc[0]
    assert "regime (topology='folded_torus', traffic_pattern='transpose') was not fitted on" in why


# ---- Ramulator ----------------------------------------------------------------------------------------------
def test_ramulator_settings_the_pack_has_no_input_for_are_out_of_domain():
    sim = get_simulator("ramulator")
    assert sim.surrogate_query(_point("ramulator"))[SETTINGS_COLUMN].iloc[0] == CALIBRATED
    other = sim.surrogate_query(_point("ramulator", {"standard": "DDR4", "ranks": 2}))
    assert other[SETTINGS_COLUMN].iloc[0] == "ranks=2 (calibrated: 1)"
    out, _ = _predict("ramulator", other)
    assert not out["in_domain"].iloc[0]


# ---- Garnet and validate ------------------------------------------------------------------------------------
CHIPLET_STUDY = {"workload": {"garnet": {"topology": "chiplet_mesh", "chiplet_mesh": {
    "chiplets": [2, 2], "routers_per_chiplet": [2, 2], "interposer_link_latency_cycles": 4,
    "interposer_link_width_bits": 64}}}, "fidelity": {"garnet": "surrogate"}}


def test_garnet_chiplet_mesh_query_carries_the_package():
    row = get_simulator("garnet").surrogate_query(_point("garnet", CHIPLET_STUDY["workload"]["garnet"])).iloc[0]
    assert (row["topology"], row["mesh_rows"], row["mesh_cols"]) == ("chiplet_mesh", 4, 4)
    assert (row["chiplet_rows"], row["chiplet_cols"], row["interposer_link_latency"],
            row["interposer_link_width_bits"]) == (2, 2, 4, 64)


def _package(latency: int, width: int, rate: float):
    section = {**CHIPLET_STUDY["workload"]["garnet"], "injection_rate": rate,
               "chiplet_mesh": {**CHIPLET_STUDY["workload"]["garnet"]["chiplet_mesh"],
                                "interposer_link_latency_cycles": latency, "interposer_link_width_bits": width}}
    return get_simulator("garnet").surrogate_query(_point("garnet", section))


def test_garnet_chiplet_mesh_slows_and_saturates_earlier_with_a_slower_or_narrower_interposer():
    # the pack is fitted on real gem5 runs of the package (2x2 chiplets of 2x2 routers, uniform random): a packet
    # crosses 1.0 interposer link on average, so each interposer cycle adds about one cycle at low load (gem5: 6.92
    # cycles from latency 1 to 8); a link's VCs turn around once per round trip over it, so a longer or narrower
    # interposer link carries fewer packets per cycle and the package saturates at a lower injection rate
    pack = load_pack("garnet")
    out = {(lat, width): pack.predict(_package(lat, width, 0.02), check=False).iloc[0]
           for lat, width in ((1, 128), (4, 128), (8, 128), (4, 64), (4, 32))}
    latency = {k: v["avg_packet_latency_cycles"] for k, v in out.items()}
    sat = {k: v["saturation_injection_rate"] for k, v in out.items()}
    assert latency[(8, 128)] - latency[(1, 128)] == pytest.approx(7.0, abs=1.0)
    assert latency[(1, 128)] < latency[(4, 128)] < latency[(4, 64)] < latency[(4, 32)] + 1.0
    assert sat[(1, 128)] > sat[(4, 128)] > sat[(8, 128)] and sat[(4, 128)] > sat[(4, 64)] > sat[(4, 32)]
    # gem5 accepted at most 0.35 (latency 4) and 0.20 (latency 8) packets/node/cycle under overload
    assert 0.28 < sat[(4, 128)] <= 0.36 and 0.15 < sat[(8, 128)] <= 0.21


def test_garnet_chiplet_mesh_is_inside_the_domain_where_the_pack_has_real_runs_and_outside_elsewhere():
    out, why = _predict("garnet", _package(4, 64, 0.1))
    assert out["in_domain"].iloc[0] and why == ""
    # gem5 measured 15.27 cycles for this package at 0.1 (analysis/calibration/garnet/calibration.csv)
    assert out["avg_packet_latency_cycles"].iloc[0] == pytest.approx(15.27, rel=0.05)
    # an interposer slower than any the pack has real runs of is outside its domain: labelled, not trusted
    out, why = _predict("garnet", _package(16, 128, 0.02))
    assert not out["in_domain"].iloc[0] and "interposer_link_latency" in why


def test_validate_checks_every_point_and_refuses_out_of_domain_points_in_strict_mode():
    mesh = {"fidelity": {"garnet": "surrogate"}, "sweep": {"grid": {"workload.garnet.injection_rate": [0.05, 0.95]}}}
    choice = plan_study(build_study(mesh), NO_SIMULATORS).fidelity["garnet"]
    # the second point is beyond the fitted saturation rate: labelled, not refused
    assert choice.chosen == "surrogate" and "1 of 2 point(s) outside its domain" in choice.reason
    with pytest.raises(ConfigError, match="fidelity.garnet: 'surrogate' is not possible: 1 of 2 point"):
        plan_study(build_study({**mesh, "strict_surrogate_domain": True}), NO_SIMULATORS)
    # auto falls back to no Garnet results, with the reason, where strict mode would refuse the surrogate
    slow = {"workload": {"garnet": {**CHIPLET_STUDY["workload"]["garnet"], "chiplet_mesh": {
        **CHIPLET_STUDY["workload"]["garnet"]["chiplet_mesh"], "interposer_link_latency_cycles": 16}}}}
    auto = {**slow, "fidelity": {"garnet": "auto"}, "strict_surrogate_domain": True}
    assert plan_study(build_study(auto), NO_SIMULATORS).fidelity["garnet"].chosen == "none"
