"""The whole training of an EoE: every expert's optimizer steps, then its routers; time to train and energy.

Expert time to train = steps x (step time without the amortised checkpoint stall) + checkpoints x checkpoint
write time. Concurrent experts start together on their own chiplets; sequential ones one after another on
all training chiplets. The routers train after the experts (each on one training chiplet; routers on the
same chiplet one after another), ``ceil(tokens / (seq_len x micro_batch))`` micro-batches of their gate's
forward and weight-gradient GEMMs. With ``training.share`` f < 1 the training holds f of its chiplets' time,
so every training time is stretched by 1/f; the training is charged f of the static power over that time
(the rest is the serving job's).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from eoesim.eoe.hardware import Hardware
from eoesim.serving.power import StaticPower
from eoesim.stitch.components import ComponentModel
from eoesim.stitch.energy import EnergyModel
from eoesim.training.checkpoint import checkpoints
from eoesim.training.energy import gemm_j, static_w, step_dynamic_j, total
from eoesim.training.gemms import router_gemms
from eoesim.training.spec import RouterJob, TrainingSpec
from eoesim.training.step import StepModel, StepResult


@dataclass
class ExpertRun:
    step: StepResult
    steps: int
    checkpoints: int
    start_s: float
    time_s: float  # wall time to train it, at the training share
    dynamic_j: dict[str, float]


@dataclass
class RouterRun:
    job: RouterJob
    micro_batches: int
    time_s: float
    dynamic_j: dict[str, float]


@dataclass
class TrainingRun:
    spec: TrainingSpec
    experts: list[ExpertRun]
    routers: list[RouterRun]
    routers_time_s: float
    time_s: float
    dynamic_j: dict[str, float]
    static_j: float
    labels: dict[str, Counter]

    @property
    def energy_j(self) -> float:
        return sum(self.dynamic_j.values()) + self.static_j

    @property
    def tokens(self) -> float:
        return sum(r.steps * r.step.tokens_per_step for r in self.experts)


def _merge(labels: list[dict[str, Counter]]) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for lab in labels:
        for k, c in lab.items():
            out.setdefault(k, Counter()).update(c)
    return out


def _routers(spec: TrainingSpec, hw: Hardware, model: ComponentModel, em: EnergyModel
             ) -> tuple[list[RouterRun], float, dict[str, Counter]]:
    if not spec.routers:
        return [], 0.0, {}
    tokens_per_mb = spec.seq_len * spec.micro_batch
    sm = StepModel(spec, hw, model)
    sharers = len({r.chiplet for r in spec.routers})
    runs, busy = [], Counter()
    for job in spec.routers:
        gemms = router_gemms(job.hidden, job.children, tokens_per_mb)
        n = math.ceil(job.tokens / tokens_per_mb)
        one = sm.gemm_pass(gemms, sharers)
        time_s = n * one.seconds / spec.share
        compute, sram = gemm_j([(sg.gemm, float(n * sg.repeats)) for sg in gemms], model, hw.chiplet, em,
                               spec.precision.weight_bytes)
        runs.append(RouterRun(job, n, time_s, {"compute": compute, "sram": sram,
                                                "hbm": em.memory_j(n * one.hbm_bytes, "hbm")}))
        busy[job.chiplet] += time_s
    return runs, max(busy.values()), sm.labels


def train(spec: TrainingSpec, hw: Hardware, model: ComponentModel, power: StaticPower,
          em: EnergyModel | None = None) -> TrainingRun:
    """The training of ``spec``; ``power``: the package's static power (eoesim.serving.power.static_power)."""
    em = em or EnergyModel()
    concurrent = spec.schedule == "concurrent"
    labels = []
    experts, clock = [], 0.0
    for job in spec.jobs:
        sm = StepModel(spec, hw, model)
        step = sm.step(job)
        labels.append(sm.labels)
        n_steps, n_ckpt = spec.steps(job), checkpoints(spec, job)
        plain = step.step_s - step.breakdown_s["checkpoint_stall"]
        time_s = (n_steps * plain + n_ckpt * step.checkpoint_write_s) / spec.share
        dyn = step_dynamic_j(step, model, hw.chiplet, em, spec.precision.weight_bytes)
        experts.append(ExpertRun(step, n_steps, n_ckpt, 0.0 if concurrent else clock, time_s,
                                 {k: v * n_steps for k, v in dyn.items()}))
        clock += time_s
    experts_end = max((r.start_s + r.time_s for r in experts), default=0.0)
    routers, routers_time, router_labels = _routers(spec, hw, model, em)
    time_s = experts_end + routers_time
    dynamic = total([r.dynamic_j for r in experts] + [r.dynamic_j for r in routers])
    return TrainingRun(spec, experts, routers, routers_time, time_s, dynamic,
                       static_w(power, len(spec.chiplets)) * time_s * spec.share, _merge(labels + [router_labels]))
