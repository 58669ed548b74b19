"""Cross-check of the training accounting (eoesim.training.accounting) against an independent peer package.

Peer: ``llm-analysis`` 0.2.2 (PyPI; Cheng Li, https://github.com/cli99/llm-analysis), its built-in ``gpt2`` and
``gpt2-medium`` configs, which have exactly the shapes of the EoE presets ``small-125m`` and ``small-350m``.
Also: the training FLOPs formula of Megatron-LM (Narayanan et al., "Efficient Large-Scale Language Model
Training on GPU Clusters Using Megatron-LM", SC 2021, eq. 3: 72 B s l h^2 (1 + s/(6h) + V/(12 l h)) per
iteration, 96 instead of 72 with full recomputation). Install the peer into the venv only for this check:

    .venv/bin/pip install llm-analysis==0.2.2
    .venv/bin/python benchmarks/training_crosscheck.py

Prints, for two models and two layouts, the parameter count, the FLOPs of one step and the memory of one
device by kind, ours against the peer's, and the ratio; exits 1 when a checked term differs by more than 5 %.

Terms that differ by construction, each adjusted or reported:
- llm-analysis ties the LM head to the embedding (``shared_embedding``); EoE experts are untied (eoe.expert's
  counting convention). Its parameters, weights, gradients and optimizer state are compared with the untied
  head's V x h parameters added ("+head" columns).
- llm-analysis counts one byte-mask less per layer (no MLP dropout mask) and the final layer norm's input;
  both are ~1 % of the activations here.
- With full recomputation llm-analysis re-runs the LM head's forward too (its FLOPs = 4 x forward); Megatron-LM
  recomputes only the transformer layers, as the EoE lowering does, so recomputation FLOPs are checked against
  the Megatron formula and the llm-analysis difference is printed, not checked. (llm-analysis also divides the
  kept layer inputs by the tensor-parallel degree under full recomputation, i.e. assumes sequence
  parallelism; the recomputation layout here is tp = 1, where both agree.)
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from eoesim.eoe.expert import EXPERT_PRESETS, Expert, param_count
from eoesim.training.accounting import Layout, Precision, device_memory, training_flops_per_token

TOLERANCE = 0.05
MODELS = (("gpt2", "small-125m"), ("gpt2-medium", "small-350m"))


@dataclass(frozen=True)
class Case:
    name: str
    seq_len: int
    micro_batch: int
    global_sequences: int
    layout: Layout
    recompute: bool


CASES = (
    Case("tp2 dp8 ZeRO-1, dropout, no recompute", 1024, 4, 256, Layout(tp=2, pp=1, dp=8, zero=1), False),
    Case("tp1 dp16 ZeRO-3, dropout, full recompute", 1024, 4, 256, Layout(tp=1, pp=1, dp=16, zero=3), True),
)


def peer(model_name: str, case: Case) -> dict:
    from llm_analysis.analysis import ActivationRecomputation, DSZeRO, LLMAnalysis
    from llm_analysis.config import (
        ParallelismConfig,
        get_dtype_config_by_name,
        get_gpu_config_by_name,
        get_model_config_by_name,
    )

    lay = case.layout
    analysis = LLMAnalysis(get_model_config_by_name(model_name), get_gpu_config_by_name("a100-sxm-80gb"),
                           get_dtype_config_by_name("w16a16e16"),
                           ParallelismConfig(tp_size=lay.tp, pp_size=lay.pp, dp_size=lay.dp, sp_size=1))
    out = analysis.training(
        batch_size_per_gpu=case.micro_batch, global_batch_size=case.global_sequences, seq_len=case.seq_len,
        activation_recomputation=ActivationRecomputation.FULL if case.recompute else ActivationRecomputation.NONE,
        ds_zero=DSZeRO(lay.zero), layernorm_dtype_bytes=2, flash_attn=False, softmax_dropout=True)
    steps = out["gradient_accumulation_steps"] * lay.dp
    return {"params": out["num_params_total"], "flops": out["num_flops_total_per_micro_batch"] * steps,
            "weights": out["weight_memory_per_gpu"], "gradients": out["gradient_memory_per_gpu"],
            "optimizer": out["optimizer_state_memory_per_gpu"], "activations": out["activation_memory_per_gpu"]}


def untied_head(e: Expert, lay: Layout, prec: Precision) -> dict:
    """What the untied LM head adds to a tied-embedding model on one device."""
    head = e.vocab * e.d_model / lay.tp
    return {"params": e.vocab * e.d_model,
            "weights": prec.weight_bytes * head / (lay.dp if lay.zero >= 3 else 1),
            "gradients": prec.grad_bytes * head / (lay.dp if lay.zero >= 2 else 1),
            "optimizer": (prec.master_bytes + prec.optimizer_state_bytes) * head / (lay.dp if lay.zero >= 1 else 1)}


def megatron_flops(e: Expert, tokens: int, seq_len: int, recompute: bool) -> float:
    h, layers, v = e.d_model, e.layers, e.vocab
    coefficient = 96 if recompute else 72
    # eq. 3 of Narayanan et al. with the logit term written for a non-recomputed LM head: 6 B s h V
    return coefficient * tokens * layers * h * h * (1 + seq_len / (6 * h)) + 6 * tokens * h * v


def ours(e: Expert, case: Case) -> dict:
    prec = Precision()
    micro_batches = case.global_sequences // (case.micro_batch * case.layout.dp)
    mem = device_memory(e, case.layout, 0, micro_batches, case.seq_len, case.micro_batch, prec, case.recompute,
                        dropout=True)
    tokens = case.global_sequences * case.seq_len
    return {"params": param_count(e), "flops": training_flops_per_token(e, case.seq_len, case.recompute) * tokens,
            "weights": mem.weights, "gradients": mem.gradients, "optimizer": mem.optimizer,
            "activations": mem.activations, "total": mem.total}


def main() -> int:
    logging.getLogger("llm_analysis").setLevel(logging.ERROR)
    failures = []
    print(f"{'model':12} {'case':42} {'term':17} {'ours':>14} {'peer(+head)':>14} {'ratio':>7}")
    for peer_name, preset in MODELS:
        e = Expert(preset, **EXPERT_PRESETS[preset])
        for case in CASES:
            mine, theirs = ours(e, case), peer(peer_name, case)
            head = untied_head(e, case.layout, Precision())
            ref = {k: theirs[k] + head.get(k, 0.0) for k in theirs}
            ref["total"] = sum(ref[k] for k in ("weights", "gradients", "optimizer", "activations"))
            tokens = case.global_sequences * case.seq_len
            if case.recompute:
                checked = {"flops (Megatron)": (mine["flops"], megatron_flops(e, tokens, case.seq_len, True))}
                print(f"{peer_name:12} {case.name:42} {'flops (peer)':17} {mine['flops']:14.6g} "
                      f"{ref['flops']:14.6g} {mine['flops'] / ref['flops']:7.4f}  (not checked: LM head re-run)")
            else:
                checked = {"flops": (mine["flops"], ref["flops"]),
                           "flops (Megatron)": (mine["flops"], megatron_flops(e, tokens, case.seq_len, False))}
            checked.update({k: (mine[k], ref[k]) for k in ("params", "weights", "gradients", "optimizer",
                                                              "activations", "total")})
            for term, (a, b) in checked.items():
                ratio = a / b
                flag = "" if abs(ratio - 1) <= TOLERANCE else "  <-- more than 5 % apart"
                print(f"{peer_name:12} {case.name:42} {term:17} {a:14.6g} {b:14.6g} {ratio:7.4f}{flag}")
                if flag:
                    failures.append((peer_name, case.name, term, ratio))
    print(f"\n{len(failures)} checked term(s) more than {TOLERANCE:.0%} apart")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
