"""Static power over a run, and the carbon of a run: operational plus amortized embodied (ACT model).

Static power (watts while the run lasts, whether busy or not):
- each powered chiplet: the compute chiplet's power of the package description RapidChiplet evaluates
  (``workload.rapidchiplet.compute_chiplet.power_w`` + its four PHYs), the chiplet's power budget; with
  ``power.power_gating`` true, chiplets that host no instance and are not the router are gated off;
- each HBM stack and the DDR: DRAM background power per GiB of capacity (``dram_background_w_per_gib``);
- the SSD: its idle power (``ssd_idle_w``); its reads add their dynamic energy.

Embodied carbon (Gupta et al., ACT, ISCA 2022): a die's ``area x (CI_fab x EPA + GPA + MPA) / yield`` at its
technology node, DRAM and flash per GB, and a packaging footprint per IC (each chiplet and HBM stack),
amortized over the hardware's lifetime: a run of ``T`` seconds carries ``T / lifetime`` of it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from eoesim.eoe.hardware import GIB
from eoesim.errors import ConfigError
from eoesim.stitch.energy import EnergyModel

SECONDS_PER_YEAR = 365.25 * 24 * 3600
PHYS_PER_CHIPLET = 4
NODES_NM = (3, 5, 7, 10, 14, 28)
#: RapidChiplet's compute chiplet defaults (workflow/schemas/simulators/rapidchiplet.schema.yaml)
COMPUTE_CHIPLET_DEFAULTS = {"area_mm2": 74.0, "phy_area_mm2": 0.85, "power_w": 20.0, "phy_power_w": 0.125}


@dataclass(frozen=True)
class PowerSettings:
    power_gating: bool = False
    lifetime_years: float | None = None
    tech_node_nm: int = 7


def power_settings(section: Mapping[str, Any] | None) -> PowerSettings:
    cfg = dict(section or {})
    unknown = sorted(set(cfg) - {"power_gating", "lifetime_years", "tech_node_nm"})
    if unknown:
        raise ConfigError(f"power: unknown key(s) {unknown}; allowed: ['lifetime_years', 'power_gating', "
                          "'tech_node_nm']")
    node = int(cfg.get("tech_node_nm", 7))
    if node not in NODES_NM:
        raise ConfigError(f"power.tech_node_nm: {node} is not allowed; allowed: {list(NODES_NM)} (the nodes of "
                          "ACT's fab tables)")
    life = cfg.get("lifetime_years")
    if life is not None and float(life) <= 0:
        raise ConfigError(f"power.lifetime_years: {life} is not allowed; allowed: a number > 0")
    return PowerSettings(bool(cfg.get("power_gating", False)), None if life is None else float(life), node)


def compute_chiplet(params: Mapping[str, Any]) -> dict[str, float]:
    spec = ((params.get("workload") or {}).get("rapidchiplet") or {}).get("compute_chiplet") or {}
    return {**COMPUTE_CHIPLET_DEFAULTS, **{k: float(v) for k, v in spec.items() if k in COMPUTE_CHIPLET_DEFAULTS}}


@dataclass(frozen=True)
class StaticPower:
    chiplet_w: float
    hbm_stack_w: float
    ddr_w: float
    ssd_w: float
    powered_chiplets: int
    stacks: int

    def watts(self) -> dict[str, float]:
        return {"static_chiplets": self.chiplet_w * self.powered_chiplets,
                "static_hbm": self.hbm_stack_w * self.stacks, "static_ddr": self.ddr_w, "static_ssd": self.ssd_w}


def static_power(params: Mapping[str, Any], hw, n_stacks: int, chiplets_in_use: int, energy: EnergyModel,
                 settings: PowerSettings) -> StaticPower:
    chip = compute_chiplet(params)
    dram = energy.values["dram_background_w_per_gib"]
    powered = chiplets_in_use if settings.power_gating else hw.n_chiplets
    return StaticPower(chiplet_w=chip["power_w"] + PHYS_PER_CHIPLET * chip["phy_power_w"],
                       hbm_stack_w=dram * hw.hbm.capacity_bytes / GIB, ddr_w=dram * hw.ddr.capacity_bytes / GIB,
                       ssd_w=energy.values["ssd_idle_w"], powered_chiplets=powered, stacks=n_stacks)


def embodied_g(params: Mapping[str, Any], hw, n_stacks: int, energy: EnergyModel,
               settings: PowerSettings) -> dict[str, float]:
    """Embodied carbon of the package and its memories, grams CO2e, by part."""
    v = energy.values
    node = settings.tech_node_nm
    cpa = (v["act_fab_ci_g_per_kwh"] * v[f"act_epa_kwh_per_cm2_{node}nm"] + v[f"act_gpa_g_per_cm2_{node}nm"]
           + v["act_mpa_g_per_cm2"]) / v["act_yield"]
    chip = compute_chiplet(params)
    area_cm2 = (chip["area_mm2"] + PHYS_PER_CHIPLET * chip["phy_area_mm2"]) / 100.0
    gb = 1e9
    return {"chiplets": hw.n_chiplets * area_cm2 * cpa,
            "hbm": n_stacks * hw.hbm.capacity_bytes / gb * v["act_dram_g_per_gb"],
            "ddr": hw.ddr.capacity_bytes / gb * v["act_dram_g_per_gb"],
            "ssd": hw.ssd.capacity_bytes / gb * v["act_ssd_g_per_gb"],
            "packaging": (hw.n_chiplets + n_stacks) * v["act_packaging_g_per_ic"]}


def lifetime_s(energy: EnergyModel, settings: PowerSettings) -> float:
    years = settings.lifetime_years if settings.lifetime_years is not None else energy.values["lifetime_years"]
    return years * SECONDS_PER_YEAR
