"""One optimizer step of one expert, priced through a ComponentModel.

Per micro-batch, every device of pipeline stage i runs ``gemms.micro_batch_gemms``. Each GEMM takes
``max(compute, memory)``: compute = the component's GEMM cycles (SCALE-Sim table or its exact surrogate) x
the chiplet's cycle time; memory = ``memory_transfer`` of its compulsory HBM traffic (read A and B, write C
at activation precision; a weight gradient is read and written at gradient precision) times the number of
chiplets training at once from the same HBM stack, because they all stream from it at the same time (so each
gets its share of the bandwidth: training.spec.TrainingSpec.hbm_sharers). Added to the passes: the tensor-parallel
all-reduces (two per layer forward, two backward, of the micro-batch's activations), the pipeline send of the
activations (forward) and of their gradient (backward), split over the tensor-parallel ranks (Megatron's
scatter/gather), and with ZeRO-3 the all-gather of the stage's weights before each pass. The passes are scheduled 1F1B
(training.pipeline). After the pipeline drains: the data-parallel gradient reduction (ZeRO 0: ring all-reduce of the
gradients; 1-2: reduce-scatter of the gradients + all-gather of the updated weights; 3: reduce-scatter) over the rings
of every stage and tensor-parallel rank at once, and the optimizer update
(``Precision.optimizer_update_bytes_per_param`` of HBM traffic per parameter of each device's shard). The checkpoint
write (training.checkpoint) is amortised over its interval; the next batch's token ids are read from the SSD during the
step and only a read longer than the step stalls it. Nothing else overlaps: gradient reduction does not overlap the
backward pass.

Step-time breakdown (adds up to ``step_s``): compute (the GEMMs of the slowest stage's passes), memory (the
part of its passes the memory time exceeds compute, plus the optimizer update), network (collectives and
pipeline sends), pipeline bubble (the 1F1B step minus the slowest stage's busy time), checkpoint stall and
data stall.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from eoesim.eoe.expert import TOKEN_ID_BYTES, Gemm
from eoesim.eoe.hardware import Hardware
from eoesim.stitch.components import ComponentModel
from eoesim.training.accounting import Precision, stage_layers, stage_params, training_flops_per_token
from eoesim.training.checkpoint import checkpoint_bytes, checkpoint_write
from eoesim.training.collectives import NetworkCost, all_gather, all_reduce, concurrent_transfers, reduce_scatter
from eoesim.training.gemms import StepGemm, micro_batch_gemms
from eoesim.training.pipeline import Pass, makespan, one_f_one_b
from eoesim.training.placement import RankMap
from eoesim.training.spec import ExpertJob, TrainingSpec

BACKWARD_PHASES = ("recompute", "input_grad", "weight_grad")


@dataclass
class StagePass:
    """One micro-batch pass (forward or backward) on one device of a stage."""

    compute_s: float = 0.0
    memory_exposed_s: float = 0.0
    network: NetworkCost = field(default_factory=NetworkCost)
    hbm_bytes: float = 0.0

    @property
    def seconds(self) -> float:
        return self.compute_s + self.memory_exposed_s + self.network.seconds


@dataclass
class StepResult:
    """One optimizer step of one expert: its time, breakdown, and the activity the energy model prices."""

    job: ExpertJob
    step_s: float
    breakdown_s: dict[str, float]
    pipeline_s: float
    passes: list[Pass]
    dp_sync_s: float
    optimizer_s: float
    checkpoint_write_s: float
    data_read_s: float
    tokens_per_step: int
    model_flops_per_step: float
    peak_flops_per_s: float
    gemm_counts: list[tuple[Gemm, float]]  # (GEMM, times run per step over all devices)
    hbm_bytes: float
    link_load: Counter  # (src, dst) link -> bytes per step
    ssd_read_bytes: float
    ssd_write_bytes: float

    @property
    def link_bytes(self) -> float:
        return float(sum(self.link_load.values()))

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_per_step / self.step_s

    @property
    def mfu(self) -> float:
        """Model FLOPs (6N + attention per token, recomputation not counted) over the chiplets' peak."""
        return self.model_flops_per_step / self.step_s / self.peak_flops_per_s


def gemm_hbm_bytes(sg: StepGemm, prec: Precision) -> float:
    """Compulsory HBM traffic of one run of ``sg`` (all its instances): read A (activations or their
    gradients) and B (a weight, or activations), write C (activations), or read and write it (a weight
    gradient accumulated in the gradient buffer)."""
    g = sg.gemm
    b_bytes = prec.weight_bytes if sg.reads_weight else prec.activation_bytes
    out = 2 * prec.grad_bytes * g.m * g.n if sg.writes_gradient else prec.activation_bytes * g.m * g.n
    return g.instances * (prec.activation_bytes * g.m * g.k + b_bytes * g.k * g.n + out)


class StepModel:
    """Prices steps of one training spec on one package through ``model``."""

    def __init__(self, spec: TrainingSpec, hw: Hardware, model: ComponentModel):
        self.spec, self.hw, self.model = spec, hw, model
        self.labels: dict[str, Counter] = {"gemm": Counter(), "memory": Counter(), "network": Counter(),
                                           "ssd": Counter()}

    def _memory_s(self, nbytes: float, sharers: int) -> float:
        """Seconds to move ``nbytes`` while ``sharers`` chiplets move as much through the same HBM stack."""
        est = self.model.memory_transfer(nbytes * sharers, "hbm")
        self.labels["memory"][est.label] += 1
        return est.value

    def gemm_pass(self, gemms: list[StepGemm], sharers: int) -> StagePass:
        """GEMMs run back to back on one device, each ``max(compute, memory)``."""
        prec, chip = self.spec.precision, self.hw.chiplet
        out = StagePass()
        for sg in gemms:
            est = self.model.gemm_cycles(sg.gemm, chip)
            self.labels["gemm"][est.label] += sg.repeats
            compute = est.value * chip.cycle_s
            nbytes = gemm_hbm_bytes(sg, prec)
            memory = self._memory_s(nbytes, sharers)
            out.compute_s += compute * sg.repeats
            out.memory_exposed_s += max(0.0, memory - compute) * sg.repeats
            out.hbm_bytes += nbytes * sg.repeats
        return out

    def _stage_passes(self, job: ExpertJob, ranks: RankMap, stage: int) -> tuple[StagePass, StagePass, list]:
        spec, lay, e = self.spec, job.layout, job.expert
        layers = stage_layers(e.layers, lay.pp)[stage]
        last = stage == lay.pp - 1
        gemms = micro_batch_gemms(e, spec.seq_len, spec.micro_batch, lay.tp, layers, last, spec.recompute)
        sharers = spec.hbm_sharers(job)
        fwd = self.gemm_pass([g for g in gemms if g.phase == "forward"], sharers)
        bwd = self.gemm_pass([g for g in gemms if g.phase in BACKWARD_PHASES], sharers)
        act = spec.seq_len * spec.micro_batch * e.d_model * spec.precision.activation_bytes
        tp_reduce = all_reduce(self.model, self.hw, ranks.tp_groups(stage), act).times(2 * layers)
        fwd.network = fwd.network + tp_reduce
        bwd.network = bwd.network + tp_reduce
        if not last:
            fwd.network = fwd.network + concurrent_transfers(self.model, self.hw, ranks.stage_sends(stage),
                                                             act / lay.tp)
        if stage > 0:
            back = [(d, s) for s, d in ranks.stage_sends(stage - 1)]
            bwd.network = bwd.network + concurrent_transfers(self.model, self.hw, back, act / lay.tp)
        if lay.zero >= 3:
            weights = spec.precision.weight_bytes * stage_params(e, lay.pp, stage) / lay.tp
            gather = all_gather(self.model, self.hw, ranks.dp_groups(stage), weights)
            fwd.network = fwd.network + gather
            bwd.network = bwd.network + gather
        return fwd, bwd, gemms

    def _dp_sync(self, job: ExpertJob, ranks: RankMap) -> NetworkCost:
        """The data-parallel reduction of every stage at once: the slowest stage's time, every stage's bytes."""
        lay, prec = job.layout, self.spec.precision
        worst = NetworkCost()
        load: Counter = Counter()
        for stage in range(lay.pp):
            params = stage_params(job.expert, lay.pp, stage) / lay.tp
            rings = ranks.dp_groups(stage)
            if lay.zero == 0:
                cost = all_reduce(self.model, self.hw, rings, prec.grad_bytes * params)
            else:
                cost = reduce_scatter(self.model, self.hw, rings, prec.grad_bytes * params)
                if lay.zero < 3:
                    cost = cost + all_gather(self.model, self.hw, rings, prec.weight_bytes * params)
            load += cost.link_load
            if cost.seconds >= worst.seconds:
                worst = cost
        return NetworkCost(worst.seconds, load, worst.labels)

    def step(self, job: ExpertJob) -> StepResult:
        spec, lay, prec = self.spec, job.layout, self.spec.precision
        ranks = RankMap(job.chiplets, lay)
        m = job.micro_batches
        per_stage = [self._stage_passes(job, ranks, i) for i in range(lay.pp)]
        passes = one_f_one_b([f.seconds for f, _, _ in per_stage], [b.seconds for _, b, _ in per_stage], m)
        pipeline_s = makespan(passes)
        slow_f, slow_b, _ = max(per_stage, key=lambda s: s[0].seconds + s[1].seconds)
        busy = m * (slow_f.seconds + slow_b.seconds)
        dp = self._dp_sync(job, ranks)
        shard = max(stage_params(job.expert, lay.pp, i) for i in range(lay.pp)) / lay.tp
        shard /= lay.dp if lay.zero >= 1 else 1
        optimizer_s = self._memory_s(prec.optimizer_update_bytes_per_param * shard, spec.hbm_sharers(job))
        ckpt_bytes = checkpoint_bytes(spec, job)
        ckpt = checkpoint_write(spec, self.hw, ckpt_bytes)
        self.labels["ssd"][ckpt.label] += 1
        ckpt_stall = ckpt.value / spec.checkpoint_interval_steps
        data_bytes = spec.global_batch_tokens * TOKEN_ID_BYTES
        read = self.model.ssd_read(data_bytes)
        self.labels["ssd"][read.label] += 1
        without_data = pipeline_s + dp.seconds + optimizer_s + ckpt_stall
        data_stall = max(0.0, read.value - without_data)
        breakdown = {
            "compute": m * (slow_f.compute_s + slow_b.compute_s),
            "memory": m * (slow_f.memory_exposed_s + slow_b.memory_exposed_s) + optimizer_s,
            "network": m * (slow_f.network.seconds + slow_b.network.seconds) + dp.seconds,
            "pipeline_bubble": max(0.0, pipeline_s - busy),  # 0 up to rounding without a pipeline
            "checkpoint_stall": ckpt_stall,
            "data_stall": data_stall,
        }
        devices_per_stage = lay.tp * lay.dp
        gemm_counts = [(sg.gemm, float(sg.repeats * m * devices_per_stage)) for _, _, gs in per_stage for sg in gs]
        hbm = sum((f.hbm_bytes + b.hbm_bytes) * m * devices_per_stage for f, b, _ in per_stage)
        replicas = lay.dp if lay.zero == 0 else 1  # without ZeRO every replica updates its own copy
        hbm += prec.optimizer_update_bytes_per_param * replicas * sum(stage_params(job.expert, lay.pp, i)
                                                                      for i in range(lay.pp))
        hbm += ckpt_bytes / spec.checkpoint_interval_steps  # the checkpoint is read out of HBM
        link_load = Counter(dp.link_load)
        for f, b, _ in per_stage:
            link_load += (f.network + b.network).times(m).link_load
        for f, b, _ in per_stage:
            self.labels["network"].update(f.network.labels + b.network.labels)
        self.labels["network"].update(dp.labels)
        chip = self.hw.chiplet
        return StepResult(
            job=job, step_s=sum(breakdown.values()), breakdown_s=breakdown, pipeline_s=pipeline_s, passes=passes,
            dp_sync_s=dp.seconds, optimizer_s=optimizer_s, checkpoint_write_s=ckpt.value, data_read_s=read.value,
            tokens_per_step=spec.global_batch_tokens,
            model_flops_per_step=training_flops_per_token(job.expert, spec.seq_len) * spec.global_batch_tokens,
            peak_flops_per_s=lay.devices * chip.rows * chip.cols * 2 / chip.cycle_s,
            gemm_counts=gemm_counts, hbm_bytes=hbm, link_load=link_load, ssd_read_bytes=data_bytes,
            ssd_write_bytes=ckpt_bytes / spec.checkpoint_interval_steps)
