"""Energy of a training run, from the same constants and static-power model as serving.

Dynamic energy per step (eoesim.stitch.energy constants): every GEMM's MACs at the weight precision's MAC
energy and its SRAM traffic (the ComponentModel's word counts, as in serving), HBM bytes, bytes x package
links crossed, SSD bytes read (token ids) and written (checkpoints, ``ssd_write_pj_per_byte``); an estimate
that carries ``energy_j`` replaces its MAC and SRAM energy. Static power (eoesim.serving.power, drawn for the
whole run whether busy or not): every training chiplet, every HBM stack, the DDR and the SSD.
"""
from __future__ import annotations

from typing import Iterable

from eoesim.eoe.expert import Gemm
from eoesim.eoe.hardware import ChipletSpec
from eoesim.serving.power import StaticPower
from eoesim.stitch.components import ComponentModel
from eoesim.stitch.energy import PJ, EnergyModel
from eoesim.training.step import StepResult

DYNAMIC = ("compute", "sram", "hbm", "network", "ssd")


def gemm_j(gemm_counts: Iterable[tuple[Gemm, float]], model: ComponentModel, chip: ChipletSpec, em: EnergyModel,
           weight_bytes: float) -> tuple[float, float]:
    """(MAC joules, SRAM joules) of GEMMs each run ``count`` times."""
    mac_j = em.mac_j(weight_bytes)
    jpb = em.buffer_sram_j_per_byte(dict(chip.sram_kib))
    compute = sram = 0.0
    for g, count in gemm_counts:
        est = model.gemm_cycles(g, chip)
        if est.energy_j is not None:
            compute += est.energy_j * count
            continue
        compute += g.macs * mac_j * count
        words = model.gemm_sram_words(g, chip)
        if words is not None:
            sram += g.instances * weight_bytes * sum(w * e for w, e in zip(words, jpb)) * count
    return compute, sram


def step_dynamic_j(step: StepResult, model: ComponentModel, chip: ChipletSpec, em: EnergyModel,
                   weight_bytes: float) -> dict[str, float]:
    """Dynamic joules of one optimizer step of ``step.job``, by component."""
    compute, sram = gemm_j(step.gemm_counts, model, chip, em, weight_bytes)
    ssd = step.ssd_read_bytes * em.ssd_j_per_byte + step.ssd_write_bytes * em.values["ssd_write_pj_per_byte"] * PJ
    return {"compute": compute, "sram": sram, "hbm": em.memory_j(step.hbm_bytes, "hbm"),
            "network": step.link_bytes * em.link_j_per_byte_hop, "ssd": ssd}


def static_w(power: StaticPower, training_chiplets: int) -> float:
    """Static watts charged to training: its chiplets, every HBM stack, the DDR and the SSD."""
    return power.chiplet_w * training_chiplets + power.hbm_stack_w * power.stacks + power.ddr_w + power.ssd_w


def total(parts: Iterable[dict[str, float]]) -> dict[str, float]:
    out = {k: 0.0 for k in DYNAMIC}
    for p in parts:
        for k, v in p.items():
            out[k] = out.get(k, 0.0) + v
    return out
