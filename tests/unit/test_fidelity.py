"""Fidelity selection (simulate | surrogate | auto) and surrogate tables in the adapters' columns."""
import warnings

import pytest

from eoesim.analysis.packs import load_pack
from eoesim.analysis.surrogate import OutOfDomainError, OutOfDomainWarning
from eoesim.config import build_study
from eoesim.errors import ConfigError
from eoesim.plan import plan_study
from eoesim.simulators.base import get_simulator
from eoesim.surrogates import predict_runs

NO_SIMULATORS = {}  # site config with every external simulator unset (the defaults)


def test_auto_without_simulator_uses_the_calibrated_surrogate_and_says_why():
    plan = plan_study(build_study({}), NO_SIMULATORS)
    for name in ("garnet", "ramulator", "mqsim", "rapidchiplet", "cacti"):
        choice = plan.fidelity[name]
        assert (choice.requested, choice.chosen) == ("auto", "surrogate")
        assert "not available" in choice.reason and "calibrated surrogate pack" in choice.reason
    assert plan.fidelity["scalesim"].chosen == "simulate"
    assert plan.simulators("surrogate") == ["cacti", "garnet", "mqsim", "ramulator", "rapidchiplet"]


def test_simulate_without_simulator_is_an_error_naming_how_to_provide_it():
    with pytest.raises(ConfigError, match=r"fidelity.garnet: 'simulate' but garnet is not available here .*"
                                          r"garnet.binary.*config/simulators.yaml, section garnet"):
        plan_study(build_study({"fidelity": {"garnet": "simulate"}}), NO_SIMULATORS)


def test_surrogate_that_cannot_cover_the_point_is_an_error():
    study = build_study({"fidelity": {"garnet": "surrogate"},
                         "workload": {"garnet": {"topology": "Crossbar"}}})
    with pytest.raises(ConfigError, match="fidelity.garnet: 'surrogate' is not possible: .*covers topologies .* only"):
        plan_study(study, NO_SIMULATORS)


def test_auto_with_neither_leaves_the_component_out_with_the_reason():
    study = build_study({"workload": {"garnet": {"topology": "Crossbar"}}})
    choice = plan_study(study, NO_SIMULATORS).fidelity["garnet"]
    assert choice.chosen == "none" and "covers topologies ['Mesh_XY', 'chiplet_mesh'] only" in choice.reason


def test_surrogate_rows_use_the_adapter_columns_and_equal_the_pack():
    sim = get_simulator("garnet")
    point = sim.point_params(build_study({}).points[0].params)
    table = predict_runs(sim, {"abc": point})
    row = table.iloc[0]
    direct = load_pack("garnet").predict(sim.surrogate_query(point))
    assert row["average_packet_latency_cycles"] == pytest.approx(direct["avg_packet_latency_cycles"].iloc[0])
    assert (row["run_id"], row["fidelity"], row["vnet"]) == ("abc", "surrogate", "all")
    assert row["source"].startswith("surrogate garnet/") and row["in_domain"]


def test_scalesim_surrogate_table_has_the_simulated_columns():
    sim = get_simulator("scalesim", {"mode": "python"})
    point = sim.point_params(build_study({}).points[0].params)
    table = predict_runs(sim, {"r1": point})
    layer = table[table["origin"] == "layer"]
    assert list(layer["gemm"]) == ["qkv_proj", "attn_score", "attn_value", "out_proj", "ffn_up", "ffn_down"]
    serving = table[table["origin"] == "serving"]  # the serving engine's decode buckets (eoesim.serving.shapes)
    assert set(serving["m"]) == {1, 16} and len(table) == len(point["gemms"])
    assert (table["compute_latency_ns"] == table["total_cycles"] / point["freq_ghz"]).all()


def test_out_of_domain_query_warns_and_fails_in_strict_mode():
    sim = get_simulator("mqsim")
    study = build_study({"workload": {"mqsim": {"ssd": {"pcie_lanes": 8}}}})
    point = sim.point_params(study.points[0].params)  # the pack's calibration runs all had 4 PCIe lanes
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = predict_runs(sim, {"r": point})
    assert not table["in_domain"].iloc[0]
    assert any(issubclass(w.category, OutOfDomainWarning) for w in caught)
    with pytest.raises(OutOfDomainError):
        predict_runs(sim, {"r": point}, strict=True)
