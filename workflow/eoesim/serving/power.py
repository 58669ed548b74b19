"""Static power over a run, and the carbon of a run: operational plus amortized embodied (ACT model).

Static power (watts while the run lasts, whether busy or not):
- each powered chiplet: its leakage - the PE array's (its area x the logic leakage density of its node and
  devices) and its SRAMs' (CACTI, every bank) - plus its PHYs, from the chiplet's budget
  (eoesim.eoe.chiplet_budget, the same figures RapidChiplet's compute chiplet gets), so a larger array or
  SRAM leaks more; its switching energy is the dynamic energy of the MACs and SRAM accesses it makes. With
  ``power.power_gating`` true, chiplets that host no instance and are not the router are gated off;
- each HBM stack and the DDR: DRAM background power per GiB of capacity (``dram_background_w_per_gib``);
- the SSD: its idle power (``ssd_idle_w``); its reads add their dynamic energy.

Embodied carbon (Gupta et al., ACT, ISCA 2022): a die's ``area x (CI_fab x EPA + GPA + MPA) / yield`` at its
technology node (a compute chiplet's area: ``workload.rapidchiplet.chiplets.compute.area_mm2`` when set, else
its budget's PE array + SRAMs, plus its PHYs), DRAM and flash per GB, and a packaging footprint per IC (each chiplet and
HBM stack), amortized over the hardware's lifetime: a run of ``T`` seconds carries ``T / lifetime`` of it.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Mapping

from eoesim.eoe.chiplet_budget import ChipletBudget, ChipletTech, chiplet_budget
from eoesim.eoe.expert import resolve_experts
from eoesim.eoe.hardware import GIB
from eoesim.errors import ConfigError
from eoesim.provenance import canonical_json
from eoesim.schema import load_schema, validate_against
from eoesim.stitch.energy import EnergyModel

SECONDS_PER_YEAR = 365.25 * 24 * 3600
NODES_NM = (3, 5, 7, 10, 14, 28)


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


@dataclass(frozen=True)
class ChipletFigures:
    """What a compute chiplet draws while powered and the die area it takes (PHYs included)."""

    static_w: float
    area_mm2: float


def compute_chiplet(params: Mapping[str, Any]) -> ChipletFigures:
    """The design point's compute chiplet from its budget (module docstring); parameters a hand-built point
    leaves out take the study defaults."""
    defaults = default_params()
    chiplet = {**defaults["hardware"]["chiplet"], **((params.get("hardware") or {}).get("chiplet") or {})}
    workload = {**defaults["workload"], **(params.get("workload") or {})}
    compute = {**defaults["workload"]["rapidchiplet"]["chiplets"]["compute"],
               **((workload["rapidchiplet"].get("chiplets") or {}).get("compute") or {})}
    widest = max(e.bytes_per_weight for e in resolve_experts(params["eoe"]["experts"]))
    budget = cached_budget(canonical_json({"chiplet": chiplet, "cacti": workload["cacti"], "bytes": widest,
                                           "phy_area": compute["phy_area_mm2"], "phy_w": compute["phy_power_w"]}))
    core = budget.core_area_mm2 if compute["area_mm2"] is None else float(compute["area_mm2"])
    return ChipletFigures(static_w=budget.leakage_w + budget.phy_power_w, area_mm2=core + budget.phy_area_mm2)


@functools.lru_cache(maxsize=64)
def cached_budget(key: str) -> ChipletBudget:
    spec = json.loads(key)
    tech = ChipletTech(cacti=spec["cacti"], bytes_per_word=float(spec["bytes"]), phy_area_mm2=spec["phy_area"],
                       phy_power_w=spec["phy_w"])
    return chiplet_budget(spec["chiplet"], tech)


@functools.lru_cache(maxsize=1)
def default_params() -> dict[str, Any]:
    return validate_against({}, load_schema(), "defaults", "study config")


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
    return StaticPower(chiplet_w=chip.static_w,
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
    area_cm2 = chip.area_mm2 / 100.0
    gb = 1e9
    return {"chiplets": hw.n_chiplets * area_cm2 * cpa,
            "hbm": n_stacks * hw.hbm.capacity_bytes / gb * v["act_dram_g_per_gb"],
            "ddr": hw.ddr.capacity_bytes / gb * v["act_dram_g_per_gb"],
            "ssd": hw.ssd.capacity_bytes / gb * v["act_ssd_g_per_gb"],
            "packaging": (hw.n_chiplets + n_stacks) * v["act_packaging_g_per_ic"]}


def lifetime_s(energy: EnergyModel, settings: PowerSettings) -> float:
    years = settings.lifetime_years if settings.lifetime_years is not None else energy.values["lifetime_years"]
    return years * SECONDS_PER_YEAR
