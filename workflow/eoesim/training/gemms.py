"""A training step lowered to GEMM shapes: forward, input-gradient and weight-gradient GEMMs.

For every forward GEMM ``C = A @ B`` (``A``: m x k, ``B``: k x n) the backward pass runs two GEMMs of the
same MACs: ``dA = dC @ B^T`` (m x n) @ (n x k) -> ``Gemm(m, k, n)`` and ``dB = A^T @ dC`` (k x m) @ (m x n) ->
``Gemm(k, n, m)``. For a linear layer ``B`` is the weight, so ``dA`` is the input gradient and ``dB`` the
weight gradient (accumulated into the gradient buffer); for the attention GEMMs both are activation
gradients (of Q and K, of the probabilities and V). The layer GEMMs are those of ``Expert.layer_gemms``
(prefill, ``micro_batch`` sequences of ``seq_len`` tokens) split Megatron-style over ``tp`` ranks: QKV and
FFN-up by output columns, output projection and FFN-down by input rows, heads per rank; the LM head runs on
every token of the last pipeline stage (vocabulary split over ``tp``). Full recomputation re-runs the
forward GEMMs before the backward ones.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from eoesim.analysis.packs import load_pack
from eoesim.eoe.expert import Expert, Gemm
from eoesim.eoe.hardware import build_hardware
from eoesim.training.accounting import stage_layers
from eoesim.training.memory_fit import checked_training_spec

PHASES = ("forward", "recompute", "input_grad", "weight_grad")
#: forward GEMMs whose B operand is a weight (their dB is a weight gradient)
WEIGHT_GEMMS = ("qkv_proj", "out_proj", "ffn_up", "ffn_down", "lm_head")
#: names of the two backward GEMMs of each forward GEMM (dA, dB)
BACKWARD_NAMES = {"attn_score": ("grad_q", "grad_k"), "attn_value": ("grad_p", "grad_v")}


@dataclass(frozen=True)
class StepGemm:
    """One GEMM of a micro-batch on one device, run ``repeats`` times (once per layer of the stage)."""

    gemm: Gemm
    phase: str
    repeats: int

    @property
    def macs(self) -> int:
        return self.gemm.macs * self.repeats

    @property
    def of_weight_layer(self) -> bool:
        return self.gemm.name.split(".")[0] in WEIGHT_GEMMS

    @property
    def writes_gradient(self) -> bool:
        """Its output accumulates into the weight-gradient buffer."""
        return self.phase == "weight_grad" and self.of_weight_layer

    @property
    def reads_weight(self) -> bool:
        """Its B operand is a weight (forward and input-gradient GEMMs of a linear layer)."""
        return self.phase != "weight_grad" and self.of_weight_layer


def forward_layer_gemms(e: Expert, seq_len: int, micro_batch: int, tp: int) -> list[Gemm]:
    """One layer's forward GEMMs on one tensor-parallel rank."""
    out = []
    for g in e.layer_gemms("prefill", seq_len, micro_batch):
        if g.name in ("qkv_proj", "ffn_up"):
            out.append(Gemm(g.name, g.m, g.n // tp, g.k))
        elif g.name in ("out_proj", "ffn_down"):
            out.append(Gemm(g.name, g.m, g.n, g.k // tp))
        else:
            out.append(Gemm(g.name, g.m, g.n, g.k, g.instances // tp))
    return out


def lm_head_training_gemm(e: Expert, seq_len: int, micro_batch: int, tp: int) -> Gemm:
    return Gemm("lm_head", seq_len * micro_batch, math.ceil(e.vocab / tp), e.d_model)


def backward_gemms(g: Gemm) -> tuple[Gemm, Gemm]:
    """(dA, dB) of ``g`` (see the module docstring)."""
    name_a, name_b = BACKWARD_NAMES.get(g.name, ("input_grad", "weight_grad"))
    return (Gemm(f"{g.name}.{name_a}", g.m, g.k, g.n, g.instances),
            Gemm(f"{g.name}.{name_b}", g.k, g.n, g.m, g.instances))


def micro_batch_gemms(e: Expert, seq_len: int, micro_batch: int, tp: int, layers: int, lm_head: bool,
                      recompute: bool) -> list[StepGemm]:
    """Every GEMM one device of a pipeline stage with ``layers`` layers runs for one micro-batch."""
    forward = [(g, layers) for g in forward_layer_gemms(e, seq_len, micro_batch, tp) if layers]
    if lm_head:
        forward.append((lm_head_training_gemm(e, seq_len, micro_batch, tp), 1))
    out = [StepGemm(g, "forward", r) for g, r in forward]
    if recompute:
        out += [StepGemm(g, "recompute", r) for g, r in forward if g.name != "lm_head"]
    for g, r in forward:
        grad_a, grad_b = backward_gemms(g)
        out.append(StepGemm(grad_a, "input_grad", r))
        out.append(StepGemm(grad_b, "weight_grad", r))
    return out


def router_gemms(hidden: int, children: int, tokens: int) -> list[StepGemm]:
    """A router gate's training GEMMs for ``tokens`` tokens: forward and weight gradient (its input features
    come from the frozen embedding, so there is no input gradient)."""
    fwd = Gemm("router_gate", tokens, children, hidden)
    return [StepGemm(fwd, "forward", 1), StepGemm(backward_gemms(fwd)[1], "weight_grad", 1)]


def training_gemms(study: Mapping[str, Any]) -> list[Gemm]:
    """The distinct GEMM shapes (one instance each) of the study's training steps that SCALE-Sim should
    simulate: those whose run simulates at most ``training.scalesim_max_cycles`` cycles (SCALE-Sim's exact
    folding count); empty without a ``training`` section. Resolving the section checks it, so a bad one
    fails at planning time. Names are ``<expert or router>.<gemm>.<phase or gradient>``."""
    if study.get("training") is None:
        return []
    spec = checked_training_spec(study)
    chip = build_hardware(study["hardware"]).chiplet
    folding = load_pack("scalesim")
    candidates: list[tuple[str, StepGemm]] = []
    for job in spec.jobs:
        stages = {(n, i == job.layout.pp - 1) for i, n in enumerate(stage_layers(job.expert.layers, job.layout.pp))}
        for layers, last in sorted(stages):
            candidates += [(job.expert.name, sg) for sg in micro_batch_gemms(
                job.expert, spec.seq_len, spec.micro_batch, job.layout.tp, layers, last, spec.recompute)]
    for router in spec.routers:
        tokens = spec.seq_len * spec.micro_batch
        candidates += [(router.name, sg) for sg in router_gemms(router.hidden, router.children, tokens)]
    seen: dict[tuple[int, int, int], Gemm] = {}
    for owner, sg in candidates:
        g = sg.gemm
        key = (g.m, g.n, g.k)
        if key not in seen and folding.cycles(*key, chip.rows, chip.cols, chip.dataflow) <= spec.scalesim_max_cycles:
            name = g.name if "." in g.name else f"{g.name}.{sg.phase}"
            seen[key] = Gemm(f"{owner}.{name}", *key)
    return list(seen.values())
