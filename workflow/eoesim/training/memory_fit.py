"""Does the training state fit in memory? Checked at planning time, naming what does not fit and by how much.

The package's HBM (``hardware.memory.hbm``) is one pool that every chiplet reads and writes, as in the
serving model, so the state of every device training at the same time must fit in it together: all
concurrent experts' devices, or the largest expert when they train one after another. What each device holds
is eoesim.training.accounting.device_memory.
"""
from __future__ import annotations

from typing import Any, Mapping

from eoesim.eoe.hardware import GIB, Hardware, build_hardware
from eoesim.errors import ConfigError
from eoesim.training.accounting import DeviceMemory, expert_memory
from eoesim.training.spec import ExpertJob, TrainingSpec, training_spec


def job_memory(spec: TrainingSpec, job: ExpertJob) -> DeviceMemory:
    """What all devices of one expert hold while it trains."""
    return expert_memory(job.expert, job.layout, job.micro_batches, spec.seq_len, spec.micro_batch,
                         spec.precision, spec.recompute, spec.dropout)


def _describe(job: ExpertJob, mem: DeviceMemory) -> str:
    return (f"expert {job.expert.name!r} needs {mem.total / GIB:.3f} GiB on its {job.layout.devices} chiplet(s) "
            f"(weights {mem.weights / GIB:.3f}, gradients {mem.gradients / GIB:.3f}, optimizer "
            f"{mem.optimizer / GIB:.3f}, activations {mem.activations / GIB:.3f} GiB)")


def check_memory_fit(spec: TrainingSpec, hw: Hardware) -> None:
    mems = [(job, job_memory(spec, job)) for job in spec.jobs]
    if spec.schedule == "sequential":
        resident = [max(mems, key=lambda jm: jm[1].total)]
    else:
        resident = mems
    need = sum(m.total for _, m in resident)
    capacity = hw.hbm.capacity_bytes
    if need > capacity:
        together = "" if len(resident) == 1 else f"; together {need / GIB:.3f} GiB"
        raise ConfigError(
            "training.layout: the training state does not fit in HBM: "
            + "; ".join(_describe(j, m) for j, m in resident)
            + f"{together} > hardware.memory.hbm.capacity_gib {capacity / GIB:g} GiB by {(need - capacity) / GIB:.3f} "
            "GiB; allowed: a layout that fits (raise training.layout.zero, tp or pp, set training.recompute, lower "
            "training.micro_batch) or more HBM")


def checked_training_spec(params: Mapping[str, Any]) -> TrainingSpec:
    """training_spec(params) after checking that its layout fits in memory."""
    hw = build_hardware(params["hardware"])
    spec = training_spec(params, hw)
    check_memory_fit(spec, hw)
    return spec
