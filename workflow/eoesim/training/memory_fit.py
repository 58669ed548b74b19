"""Does the training state fit in memory? Checked at planning time, naming what does not fit and by how much.

Every chiplet keeps its training state in the HBM stack that serves it (``hardware.memory.hbm.stacks`` /
``serves``, as in the serving engine; one stack for the whole package by default), each stack holding
``hardware.memory.hbm.capacity_gib``. The state of every device training at the same time must fit in its
stack: all concurrent experts' devices, or one expert at a time when they train one after another. What each
device holds is eoesim.training.accounting.device_memory.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Mapping

from eoesim.eoe.hardware import GIB, Hardware, build_hardware
from eoesim.errors import ConfigError
from eoesim.training.accounting import DeviceMemory, device_memory
from eoesim.training.placement import RankMap
from eoesim.training.spec import ExpertJob, TrainingSpec, training_spec

KINDS = ("weights", "gradients", "optimizer", "activations")


def chiplet_memory(spec: TrainingSpec, job: ExpertJob) -> dict[int, DeviceMemory]:
    """What each chiplet of ``job`` holds while it trains."""
    lay, ranks = job.layout, RankMap(job.chiplets, job.layout)
    out = {}
    for stage in range(lay.pp):
        mem = device_memory(job.expert, lay, stage, job.micro_batches, spec.seq_len, spec.micro_batch,
                            spec.precision, spec.recompute, spec.dropout)
        for replica in range(lay.dp):
            for chip in ranks.tp_group(replica, stage):
                out[chip] = mem
    return out


def _stack_overflows(spec: TrainingSpec, jobs: list[ExpertJob], capacity: float) -> list[str]:
    problems = []
    for s, region in enumerate(spec.hbm_regions):
        per_expert: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(KINDS))
        for job in jobs:
            for chip, mem in chiplet_memory(spec, job).items():
                if chip in region:
                    acc = per_expert[job.expert.name]
                    for i, kind in enumerate(KINDS):
                        acc[i] += getattr(mem, kind)
        need = sum(sum(v) for v in per_expert.values())
        if need > capacity:
            parts = "; ".join(f"expert {name!r} {sum(v) / GIB:.3f} GiB ("
                              + ", ".join(f"{k} {x / GIB:.3f}" for k, x in zip(KINDS, v)) + ")"
                              for name, v in per_expert.items())
            problems.append(f"HBM stack {s} (chiplets {list(region)}) needs {need / GIB:.3f} GiB: {parts}; that is "
                            f"{(need - capacity) / GIB:.3f} GiB more than its {capacity / GIB:g} GiB")
    return problems


def check_memory_fit(spec: TrainingSpec, hw: Hardware) -> None:
    together = [list(spec.jobs)] if spec.schedule == "concurrent" else [[j] for j in spec.jobs]
    problems = [p for jobs in together for p in _stack_overflows(spec, jobs, hw.hbm.capacity_bytes)]
    if problems:
        raise ConfigError(
            "training.layout: the training state does not fit in HBM (hardware.memory.hbm.capacity_gib): "
            + " | ".join(problems) + "; allowed: a layout that fits (raise training.layout.zero, tp or pp, set "
            "training.recompute, lower training.micro_batch) or more HBM")


def checked_training_spec(params: Mapping[str, Any]) -> TrainingSpec:
    """training_spec(params) after checking that its layout fits in memory."""
    hw = build_hardware(params["hardware"])
    spec = training_spec(params, hw)
    check_memory_fit(spec, hw)
    return spec
