"""A compute chiplet's static power and die area (eoesim.serving.power from eoesim.eoe.chiplet_budget), by hand.

PE array: rows x cols PEs of 3000 um2 (fp16 multiply-accumulate datapath, 45 nm; chiplet_constants.csv), leaking
0.2309 W/mm2 (itrs-hp logic at 45 nm, 360 K) or 4.871e-05 W/mm2 (itrs-lstp); four PHYs of 0.125 W and 0.85 mm2
(RapidChiplet's); the SRAMs' leakage and area are CACTI's (here its calibrated surrogate).
"""
import pytest

from eoesim.analysis.surrogate import OutOfDomainWarning
from eoesim.config import validate
from eoesim.eoe.chiplet_budget import ChipletTech, chiplet_budget
from eoesim.eoe.hardware import build_hardware
from eoesim.serving.power import compute_chiplet, embodied_g, power_settings
from eoesim.stitch.energy import EnergyModel

PE_UM2 = 3000.0
HP_45NM_W_PER_MM2 = 0.2309
LSTP_45NM_W_PER_MM2 = 4.871e-05
PHYS_W = 4 * 0.125
PHYS_MM2 = 4 * 0.85


def params(array=(128, 128), devices="itrs-hp", sram_kib=None):
    p = validate({"hardware": {"chiplet": {"array": list(array), "technology_nm": 45,
                                           **({"sram_kib": sram_kib} if sram_kib else {})}},
                  "workload": {"cacti": {"cell_type": devices, "peripheral_type": devices}}}, "test")
    return p


def sram(p):
    return chiplet_budget(p["hardware"]["chiplet"], ChipletTech.of_study(p))


def test_static_power_is_pe_and_sram_leakage_plus_phys():
    p = params()
    pe_mm2 = 128 * 128 * PE_UM2 * 1e-6
    b = sram(p)
    assert b.sram_leakage_w > 0 and b.sram_area_mm2 > 0
    chip = compute_chiplet(p)
    assert chip.static_w == pytest.approx(pe_mm2 * HP_45NM_W_PER_MM2 + b.sram_leakage_w + PHYS_W, rel=1e-4)
    assert chip.area_mm2 == pytest.approx(pe_mm2 + b.sram_area_mm2 + PHYS_MM2, rel=1e-6)


def test_a_quarter_of_the_array_leaks_a_quarter_and_low_standby_devices_almost_nothing():
    big, small = compute_chiplet(params((128, 128))), compute_chiplet(params((64, 64)))
    srams = sram(params()).sram_leakage_w
    pe_big = big.static_w - srams - PHYS_W
    assert small.static_w - srams - PHYS_W == pytest.approx(pe_big / 4, rel=1e-4)
    lstp = params(devices="itrs-lstp")  # (CACTI's pack has itrs-hp SRAMs only: its SRAM figures are out of domain)
    with pytest.warns(OutOfDomainWarning):
        pe_lstp = compute_chiplet(lstp).static_w - sram(lstp).sram_leakage_w - PHYS_W
    assert pe_lstp == pytest.approx(128 * 128 * PE_UM2 * 1e-6 * LSTP_45NM_W_PER_MM2, rel=1e-3)


def test_smaller_srams_leak_less_and_take_less_area():
    full = compute_chiplet(params())
    small = compute_chiplet(params(sram_kib={"ifmap": 64, "filter": 64, "ofmap": 32}))
    assert small.static_w < full.static_w and small.area_mm2 < full.area_mm2


def test_embodied_carbon_of_the_chiplets_follows_their_area():
    big, small = params((128, 128)), params((64, 64))
    em, settings = EnergyModel(), power_settings(None)
    g_big = embodied_g(big, build_hardware(big["hardware"]), 4, em, settings)["chiplets"]
    g_small = embodied_g(small, build_hardware(small["hardware"]), 4, em, settings)["chiplets"]
    assert g_small / g_big == pytest.approx(compute_chiplet(small).area_mm2 / compute_chiplet(big).area_mm2)
