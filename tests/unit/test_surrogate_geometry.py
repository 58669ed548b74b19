"""Route geometry behind the NoC surrogates, checked against closed forms and the real-run datasets."""
from __future__ import annotations

import pandas as pd
import pytest

from eoesim.analysis import calibrate
from eoesim.analysis.chiplet_geometry import route_stats
from eoesim.analysis.noc_geometry import destination, traffic_geometry
from eoesim.analysis.surrogate_garnet import training_frame


@pytest.mark.parametrize("k", [2, 3, 4, 5, 8])
def test_uniform_random_mean_hops_is_the_closed_form(k):
    # uniform random over all k*k routers (source included, as gem5 does): 2 (k^2 - 1) / (3 k)
    assert traffic_geometry("uniform_random", k).hops == pytest.approx(2 * (k * k - 1) / (3 * k))


def test_deterministic_patterns_match_gem5_hop_counts_and_channel_loads():
    assert traffic_geometry("bit_complement", 8).hops == pytest.approx(8.0)
    assert traffic_geometry("tornado", 8).hops == pytest.approx(3.75)      # shift k/2 - 1 = 3
    assert traffic_geometry("tornado", 2).hops == 0                        # shift 0: to itself
    assert traffic_geometry("neighbor", 4).hops == pytest.approx(1.5)
    assert traffic_geometry("transpose", 4).gamma_max == pytest.approx(3.0)
    assert destination("shuffle", 3, 4) == 6 and destination("shuffle", 9, 4) == 3
    assert destination("shuffle", 3, 2, 4) == 6 and destination("shuffle", 5, 2, 4) == 3   # a 2x4 mesh


def test_garnet_geometry_matches_measured_low_load_hops():
    # square meshes and the chiplet packages' meshes, 2x4 and 4x8 among them (shuffle rotates the router id's
    # bits on any shape: 1.5 hops on a 2x4 mesh, as gem5 counts them)
    # steady runs only: past saturation gem5 averages over the packets that got through (8x8 package,
    # bit_complement at 0.1 delivers 0.081 and counts 7.34 hops of the 8 every packet needs)
    raw = pd.read_csv(calibrate.dataset_path("garnet"))
    steady = ~training_frame(raw)["saturated"].to_numpy(dtype=bool)
    low = raw[(raw["injection_rate"] <= 0.1) & raw["average_hops"].notna() & steady]
    assert (low["rows"] != low["cols"]).any()
    for row in low.itertuples():
        assert traffic_geometry(row.pattern, row.rows, row.cols).hops == pytest.approx(row.average_hops, abs=0.06)


def test_chiplet_routes_reproduce_rapidchiplet_mesh_latency_and_throughput():
    # mesh: every hop is a 1-cycle link + 27-cycle relay, endpoints 6: latency = 6 + 28 H exactly
    raw = pd.read_csv(calibrate.dataset_path("rapidchiplet"))
    mesh = raw[(raw["topology"] == "mesh") & (raw["traffic_pattern"] != "hotspot")]
    for row in mesh.itertuples():
        st = route_stats("mesh", int(row.grid_rows), int(row.grid_cols), row.traffic_pattern)
        assert 6 + 28 * st.mean_hops == pytest.approx(row.latency_avg_cycles, rel=1e-9)
        assert 1929 * st.total_load / st.max_link_load == pytest.approx(row.aggregate_throughput_bits_per_cycle,
                                                                         rel=1e-9)


def test_chiplet_geometry_handles_held_out_shapes():
    st = route_stats("torus", 3, 4, "random_uniform")   # non-square, in between the calibration grids
    assert st.n_chiplets == 12 and st.n_phys == 4
    assert route_stats("flattened_butterfly", 2, 5, "random_uniform").n_phys == 5
    assert route_stats("hexamesh", 2, 0, "random_uniform").n_chiplets == 19
