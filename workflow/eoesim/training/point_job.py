"""The train_eoe job of one design point: its component rows -> results/<study>/training/<point>/.

Writes ``summary.json`` (the EoE: time to train, tokens/s, energy, carbon - operational, plus the run's share
of the hardware's embodied carbon amortised over its lifetime (eoesim.serving.power) - the training side of a
shared / split package, which fidelity/source each component answer used), ``experts.csv`` (one row per
expert: step time and its breakdown, tokens/s, MFU, memory per device, time to train, energy),
``gemms.csv`` (one row per distinct GEMM of a step: cycles, fidelity, source), ``timeline.json`` (a Chrome
trace of a few steps) and ``checkpoint_trace.txt`` (the checkpoint writes as an MQSim block-I/O trace).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from eoesim.eoe.expert import param_count
from eoesim.eoe.hardware import GIB, Hardware, build_hardware
from eoesim.serving.power import embodied_g, lifetime_s, power_settings, static_power
from eoesim.stitch.components import ComponentModel
from eoesim.stitch.e2e import grid_intensity
from eoesim.stitch.energy import EnergyModel, carbon_g
from eoesim.stitch.point_job import point_tables
from eoesim.stitch.study_model import StudyComponentModel
from eoesim.training.accounting import matmul_params, peak_device_memory, training_flops_per_token
from eoesim.training.checkpoint import checkpoint_bytes, write_checkpoint_trace
from eoesim.training.colocation import colocation_summary
from eoesim.training.memory_fit import checked_training_spec
from eoesim.training.run import ExpertRun, TrainingRun, train
from eoesim.training.timeline import write_chrome_trace

OUTPUTS = ("summary.json", "experts.csv", "gemms.csv", "timeline.json", "checkpoint_trace.txt")


def expert_row(run: TrainingRun, r: ExpertRun, intensity: float) -> dict[str, Any]:
    spec, step, job = run.spec, r.step, r.step.job
    e, lay = job.expert, job.layout
    mem = peak_device_memory(e, lay, job.micro_batches, spec.seq_len, spec.micro_batch, spec.precision,
                             spec.recompute, spec.dropout)
    stretch = 1.0 / spec.share
    row: dict[str, Any] = {
        "expert": e.name, "params": param_count(e), "matmul_params": matmul_params(e),
        "chiplets": len(job.chiplets), "tp": lay.tp, "pp": lay.pp, "dp": lay.dp, "zero": lay.zero,
        "micro_batches": job.micro_batches, "dataset_tokens": job.dataset_tokens, "steps": r.steps,
        "checkpoints": r.checkpoints, "step_s": step.step_s * stretch,
    }
    row.update({f"{k}_s": v * stretch for k, v in step.breakdown_s.items()})
    dyn = sum(r.dynamic_j.values())
    row.update({
        "bubble_fraction": step.breakdown_s["pipeline_bubble"] / step.pipeline_s,
        "tokens_per_s": step.tokens_per_s / stretch,
        "mfu": step.mfu / stretch,
        "training_flops_per_token": training_flops_per_token(e, spec.seq_len, spec.recompute),
        "model_flops_per_token": training_flops_per_token(e, spec.seq_len),
        "memory_per_device_bytes": mem.total, "weights_per_device_bytes": mem.weights,
        "gradients_per_device_bytes": mem.gradients, "optimizer_per_device_bytes": mem.optimizer,
        "activations_per_device_bytes": mem.activations, "checkpoint_bytes": checkpoint_bytes(spec, job),
        "start_s": r.start_s, "time_to_train_s": r.time_s,
        "dynamic_energy_j": dyn, "carbon_dynamic_g": carbon_g(dyn, intensity),
    })
    row.update({f"energy_{k}_j": v for k, v in r.dynamic_j.items()})
    return row


def gemm_rows(run: TrainingRun, model: ComponentModel, hw: Hardware) -> list[dict[str, Any]]:
    rows, seen = [], set()
    for r in run.experts:
        for g, count in r.step.gemm_counts:
            key = (r.step.job.expert.name, g)
            if key in seen:
                continue
            seen.add(key)
            est = model.gemm_cycles(g, hw.chiplet)
            rows.append({"expert": key[0], "gemm": g.name, "m": g.m, "n": g.n, "k": g.k, "instances": g.instances,
                         "runs_per_step": count, "cycles": est.value, "fidelity": est.fidelity, "source": est.source})
    return rows


def summary(run: TrainingRun, hw: Hardware, intensity: float, embodied: float) -> dict[str, Any]:
    """The EoE's totals; ``embodied``: the run's share of the hardware's embodied carbon, grams."""
    spec = run.spec
    energy = run.energy_j
    operational = carbon_g(energy, intensity)
    return {
        "schedule": spec.schedule, "experts": [r.step.job.expert.name for r in run.experts],
        "time_to_train_s": run.time_s, "experts_time_s": run.time_s - run.routers_time_s,
        "routers_time_s": run.routers_time_s, "tokens": run.tokens, "tokens_per_s": run.tokens / run.time_s,
        "energy_j": energy, "dynamic_energy_j": dict(run.dynamic_j), "static_energy_j": run.static_j,
        "carbon_g": operational + embodied, "carbon_operational_g": operational, "carbon_embodied_g": embodied,
        "grid_intensity_gco2_per_kwh": intensity,
        "hbm_capacity_gib": hw.hbm.capacity_bytes / GIB, "package_grid": [hw.grid_rows, hw.grid_cols],
        "chiplet_array": [hw.chiplet.rows, hw.chiplet.cols],
        "package_chiplets": hw.n_chiplets,
        "colocation": colocation_summary(run, hw),
        "sources": {k: dict(v) for k, v in run.labels.items()},
        "routers": [{"router": r.job.name, "tokens": r.job.tokens, "micro_batches": r.micro_batches,
                     "chiplet": r.job.chiplet, "time_s": r.time_s} for r in run.routers],
    }


def run_training_point(params: Mapping[str, Any], model: ComponentModel, outdir: Path,
                       energy: EnergyModel | None = None) -> TrainingRun:
    """Train the design point's EoE through ``model`` and write its outputs into ``outdir``."""
    energy = energy or EnergyModel()
    hw = build_hardware(params["hardware"])
    spec = checked_training_spec(params)
    settings = power_settings(params.get("power"))
    stacks = len(spec.hbm_regions)
    run = train(spec, hw, model, static_power(params, hw, stacks, len(spec.chiplets), energy, settings), energy)
    intensity = grid_intensity(params, energy)
    # the training's share of the hardware's embodied carbon, amortised over its lifetime
    embodied = sum(embodied_g(params, hw, stacks, energy, settings).values()) * run.time_s * spec.share \
        / lifetime_s(energy, settings)
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "summary.json").write_text(json.dumps(summary(run, hw, intensity, embodied), indent=1, sort_keys=True))
    pd.DataFrame([expert_row(run, r, intensity) for r in run.experts]).to_csv(outdir / "experts.csv", index=False)
    pd.DataFrame(gemm_rows(run, model, hw)).to_csv(outdir / "gemms.csv", index=False)
    write_chrome_trace(outdir / "timeline.json", run)
    write_checkpoint_trace(outdir / "checkpoint_trace.txt", spec, hw)
    return run


def train_design_point(params: Mapping[str, Any], runs: Mapping[str, Mapping[str, Any]], outdir: Path) -> TrainingRun:
    """The rule's entry: the point's component tables -> its training outputs."""
    hw = build_hardware(params["hardware"])
    model = StudyComponentModel(hw, point_tables(runs), {sim: info["point"] for sim, info in runs.items()})
    return run_training_point(params, model, outdir)
