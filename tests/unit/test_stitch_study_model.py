"""The table-backed ComponentModel: which table answers each component, and the fallbacks."""
import math

import pandas as pd
import pytest

from eoesim.analysis.packs import load_pack
from eoesim.eoe.expert import Gemm
from eoesim.eoe.hardware import build_hardware
from eoesim.stitch.study_model import StudyComponentModel

HW = build_hardware({"chiplet": {"array": [32, 32], "dataflow": "ws", "freq_ghz": 1.0},
                     "package": {"grid": [2, 2], "link_bandwidth_gb_per_s": 100.0},
                     "memory": {"hbm": {"bandwidth_gb_per_s": 256.0, "latency_ns": 100.0}},
                     "ssd": {"read_bandwidth_gb_per_s": 2.0, "read_latency_us": 50.0}})
SCALESIM = pd.DataFrame([{"m": 64, "n": 768, "k": 256, "total_cycles": 12345, "fidelity": "simulate",
                          "source": "scalesim 3.0.0"}])
RAMULATOR = pd.DataFrame([{"system_avg_read_latency_ns": 40.0, "system_achieved_bandwidth_bytes_per_s": 1.0e11,
                           "avg_read_latency_ns_rel_err_pct": 3.5, "fidelity": "surrogate", "source": "ram pack"}])
MQSIM = pd.DataFrame([{"device_response_time_mean_us": 200.0, "throughput_bytes_per_s": 1.0e9,
                       "fidelity": "simulate", "source": "MQSim 7ec40e3"}])
GARNET = pd.DataFrame([{"vnet": "all", "average_packet_latency_cycles": 10.0, "average_hops": 2.5,
                        "fidelity": "surrogate", "source": "garnet pack"},
                       {"vnet": "0", "average_packet_latency_cycles": 99.0, "average_hops": 9.0,
                        "fidelity": "surrogate", "source": "garnet pack"}])
POINTS = {"scalesim": {"interface_bandwidth": "calc"}, "ramulator": {"standard": "HBM2"},
          "garnet": {"ruby_clock_ghz": 2.0}}


def model(**tables):
    return StudyComponentModel(HW, tables, POINTS)


def test_simulated_gemm_shape_comes_from_the_scalesim_table():
    est = model(scalesim=SCALESIM).gemm_cycles(Gemm("qkv", 64, 768, 256, instances=3), HW.chiplet)
    assert est.value == 3 * 12345 and est.fidelity == "simulate" and est.source == "scalesim 3.0.0"


def test_other_gemm_shapes_come_from_the_exact_scalesim_surrogate():
    est = model(scalesim=SCALESIM).gemm_cycles(Gemm("dec", 1, 768, 256), HW.chiplet)
    expected = load_pack("scalesim").cycles(1, 768, 256, 32, 32, "ws")
    assert est.value == expected and est.fidelity == "surrogate" and "systolic_folding" in est.source


def test_hbm_transfer_uses_ramulator_latency_and_bandwidth():
    est = model(ramulator=RAMULATOR).memory_transfer(1e6, "hbm")
    assert est.value == pytest.approx(40e-9 + 1e6 / 1e11)
    assert (est.fidelity, est.rel_error) == ("surrogate", pytest.approx(0.035))


def test_ddr_and_missing_tables_fall_back_to_datasheet_values():
    m = model(ramulator=RAMULATOR)
    assert m.memory_transfer(1e6, "ddr").fidelity == "nominal"
    assert model().memory_transfer(1e6, "hbm").value == pytest.approx(100e-9 + 1e6 / 256e9)
    nan_row = RAMULATOR.assign(system_avg_read_latency_ns=math.nan)
    assert model(ramulator=nan_row).memory_transfer(1e6, "hbm").fidelity == "nominal"


def test_ssd_read_uses_mqsim_response_time_plus_bytes_over_throughput():
    est = model(mqsim=MQSIM).ssd_read(64e6)
    assert est.value == pytest.approx(200e-6 + 64e6 / 1e9) and est.fidelity == "simulate"
    assert model().ssd_read(2e9).value == pytest.approx(50e-6 + 1.0)


def test_network_uses_garnet_latency_per_hop_of_the_all_vnet_row():
    est = model(garnet=GARNET).network_transfer(1000.0, hops=3)
    per_hop = 10.0 / 2.5 * 1e-9 / 2.0
    assert est.value == pytest.approx(3 * per_hop + 1000.0 / 100e9) and est.source == "garnet pack"
