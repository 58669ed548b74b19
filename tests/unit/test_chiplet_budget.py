"""Chiplet area and power (eoesim.eoe.chiplet_budget): hand-computed cases and directions of a design sweep.

Hand cases use explicit CACTI rows (numbers of the real 45-nm scratchpad run in tests/golden/cacti) so that
only the model's arithmetic is under test; the sweeps use the calibrated CACTI surrogate, as the plan does.
"""
from __future__ import annotations

import math
import os
import sys

import pandas as pd
import pytest

from eoesim.config import validate
from eoesim.eoe.chiplet_budget import ChipletTech, chiplet_budget, load_chiplet_constants, rapidchiplet_section
from eoesim.errors import ConfigError
from eoesim.execute import execute_run
from eoesim.simulators.base import get_simulator

#: the golden 256-KiB scratchpad (45 nm, 64 B blocks): read/write nJ per access, leakage mW, area mm2
GOLDEN = {"read_energy_nJ": 0.15265, "write_energy_nJ": 0.242289, "leakage_mW": 299.966 + 7.60975,
          "area_mm2": 1.57966 * 0.773686}


def chiplet(**over):
    section = validate({"hardware": {"chiplet": over}}, "test")["hardware"]["chiplet"]
    return section


def golden_rows(names=("ifmap", "filter", "ofmap")):
    return pd.DataFrame([{"name": n, **GOLDEN, "fidelity": "simulate", "source": "cacti test"} for n in names])


def test_hand_computed_budget_of_a_64x64_fp16_chiplet_at_45nm():
    c = load_chiplet_constants()
    b = chiplet_budget(chiplet(array=[64, 64]), ChipletTech(), golden_rows())
    pe_area = 64 * 64 * 3000e-6                         # Horowitz: 16-bit float mult 1640 + add 1360 um2
    assert b.pe_area_mm2 == pytest.approx(pe_area)
    assert b.sram_area_mm2 == pytest.approx(3 * GOLDEN["area_mm2"])
    assert b.phy_area_mm2 == pytest.approx(4 * 0.85)    # RapidChiplet's PHYs
    assert b.area_mm2 == pytest.approx(pe_area + 3 * GOLDEN["area_mm2"] + 3.4)
    assert b.core_area_mm2 == pytest.approx(b.area_mm2 - 3.4)
    assert b.pe_leakage_w == pytest.approx(pe_area * c["logic_leakage_hp_45nm_w_per_mm2"])
    assert b.sram_leakage_w == pytest.approx(3 * GOLDEN["leakage_mW"] / 1000)
    # flat out at 1 GHz: 4096 fp16 MACs of 1.5 pJ; ifmap and filter feed 64 words x 2 B = 2 reads of 64 B per
    # cycle, the ofmap takes 2 writes of 64 B
    sram_w = (2 * GOLDEN["read_energy_nJ"] * 2 + 2 * GOLDEN["write_energy_nJ"]) * 1e-9 * 1e9
    assert b.peak_dynamic_w == pytest.approx(4096 * 1.5e-12 * 1e9 + sram_w)
    assert b.power_w == pytest.approx(b.leakage_w + b.peak_dynamic_w)
    assert b.sram_read_j_per_byte["ifmap"] == pytest.approx(0.15265e-9 / 64)
    assert b.sram_write_j_per_byte["ofmap"] == pytest.approx(0.242289e-9 / 64)
    assert b.fidelity == "simulate"


def test_pe_area_scales_with_the_square_of_the_node():
    at45 = chiplet_budget(chiplet(technology_nm=45), ChipletTech(), golden_rows())
    at22 = chiplet_budget(chiplet(technology_nm=22), ChipletTech(), golden_rows())
    assert at22.pe_area_mm2 == pytest.approx(at45.pe_area_mm2 * (22 / 45) ** 2)


def test_word_size_picks_the_pe_area_of_its_precision():
    int8 = chiplet_budget(chiplet(), ChipletTech(bytes_per_word=1), golden_rows())
    fp32 = chiplet_budget(chiplet(), ChipletTech(bytes_per_word=4), golden_rows())
    assert (int8.pe_area_mm2, fp32.pe_area_mm2) == pytest.approx((128 * 128 * 318e-6, 128 * 128 * 11884e-6))


def test_rows_must_cover_every_sram():
    with pytest.raises(ConfigError, match=r"CACTI rows lack SRAM\(s\) \['ofmap'\]"):
        chiplet_budget(chiplet(), ChipletTech(), golden_rows(("ifmap", "filter")))


def _point(array, sram=None, **hardware):
    study = {"hardware": {"chiplet": {"array": array, **({"sram_kib": sram} if sram else {}), **hardware}}}
    return validate(study, "test")


def _package(array, sram=None):
    """Compute chiplet, RapidChiplet point and surrogate package row of a design point."""
    params = _point(array, sram)
    sim = get_simulator("rapidchiplet")
    point = sim.point_params(params)
    row = sim.annotate_surrogate(pd.DataFrame([{"total_chiplet_area_mm2": 0.0, "total_power_W": 0.0}]), point)
    return chiplet_budget(params["hardware"]["chiplet"], ChipletTech.of_study(params)), point, row.iloc[0]


@pytest.mark.parametrize("small, large", [
    (([32, 32], None), ([64, 64], None)),
    (([64, 64], None), ([128, 128], None)),
    (([64, 64], {"ifmap": 64, "filter": 64, "ofmap": 32}), ([64, 64], {"ifmap": 1024, "filter": 1024, "ofmap": 512})),
])
def test_a_bigger_array_or_sram_makes_chiplet_and_package_bigger_and_leakier(small, large):
    b_small, p_small, pkg_small = _package(*small)
    b_large, p_large, pkg_large = _package(*large)
    assert b_large.area_mm2 > b_small.area_mm2 and b_large.leakage_w > b_small.leakage_w
    assert b_large.power_w > b_small.power_w
    c_small, c_large = p_small["chiplets"]["compute"], p_large["chiplets"]["compute"]
    assert c_large["area_mm2"] > c_small["area_mm2"] and c_large["power_w"] > c_small["power_w"]
    assert pkg_large["total_chiplet_area_mm2"] > pkg_small["total_chiplet_area_mm2"]
    assert pkg_large["total_power_W"] > pkg_small["total_power_W"]


def test_rapidchiplet_gets_the_budget_unless_the_study_sets_the_area():
    params = _point([64, 64])
    budget = chiplet_budget(params["hardware"]["chiplet"], ChipletTech.of_study(params))
    section = rapidchiplet_section(params)
    assert section["chiplets"]["compute"]["area_mm2"] == pytest.approx(budget.core_area_mm2, rel=1e-6)
    assert section["chiplets"]["compute"]["power_w"] == pytest.approx(budget.power_w, rel=1e-6)
    assert section["compute_budget"]["fidelity"] == "surrogate"
    # RapidChiplet adds the PHYs itself: the die's side is sqrt(core + 4 PHYs)
    pkg = get_simulator("rapidchiplet").point_params(params)
    from eoesim.simulators.rapidchiplet_package import build_package
    side = build_package(pkg).chiplet_type(0).side_mm
    assert side == pytest.approx(math.sqrt(budget.core_area_mm2 + 4 * 0.85), rel=1e-6)
    fixed = validate({"workload": {"rapidchiplet": {"chiplets": {"compute": {"area_mm2": 74, "power_w": 20}}}}},
                     "test")
    assert rapidchiplet_section(fixed)["chiplets"]["compute"]["area_mm2"] == 74
    assert "compute_budget" not in rapidchiplet_section(fixed)


def test_memory_chiplets_need_their_own_area():
    params = validate({"workload": {"rapidchiplet": {"chiplets": {"memory": {"area_mm2": None}}}}}, "test")
    with pytest.raises(ConfigError, match=r"workload.rapidchiplet.chiplets.memory.area_mm2: null is not allowed"):
        rapidchiplet_section(params)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("EOESIM_RAPIDCHIPLET_CHECKOUT"),
                    reason="set EOESIM_RAPIDCHIPLET_CHECKOUT to a spcl/rapidchiplet checkout")
def test_real_rapidchiplet_area_cost_yield_and_power_follow_the_array(tmp_path):
    sim = get_simulator("rapidchiplet", {"checkout": os.environ["EOESIM_RAPIDCHIPLET_CHECKOUT"],
                                         "python": os.environ.get("EOESIM_RAPIDCHIPLET_PYTHON", sys.executable)})
    rows = {}
    for array in ([32, 32], [128, 128]):
        point = sim.point_params(_point(array))
        tag = f"a{array[0]}"
        out = execute_run(sim, point, tag, tmp_path / tag, tmp_path / f"logs-{tag}", sim.runner(), 600,
                          sim.identity())
        rows[array[0]] = (out[out["record"] == "package"].iloc[0], out[out["record"] == "chiplet_type"].iloc[0])
    (small, small_die), (large, large_die) = rows[32], rows[128]
    for metric in ("total_chiplet_area_mm2", "total_interposer_area_mm2", "total_cost_usd", "total_power_W"):
        assert large[metric] > small[metric], metric
    assert large_die["chiplet_yield"] < small_die["chiplet_yield"]
