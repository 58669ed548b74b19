"""Composition of the experts a router picked: what each kind computes and moves.

- ``representation_average``: the picked experts run in lock step; per generated token their final
  hidden states (``d_model`` values each) go to the composing chiplet (the chiplet of the first pick),
  which forms their gate-weighted average - a ``(1 x k) @ (k x d_model)`` product per token - and the
  sampled token is fed back to all of them. Needs one ``d_model`` across the picks.
- ``weight_summation``: the picks' weights are summed into one merged expert (``k`` multiply-adds per
  parameter, reading ``k`` experts and writing one from/to HBM), which then runs alone. The merged
  expert is cached like an expert under the key ``merged(a+b)``. Needs one shape across the picks.
- ``sequential_aggregation``: the picks run one after another; each reads the prompt plus the previous
  pick's output (token ids) and writes its own; the last pick's output is the answer.
"""
from __future__ import annotations

from typing import Sequence

from eoesim.eoe.expert import Expert, Gemm, param_count, shape_key
from eoesim.errors import ConfigError

KINDS = ("representation_average", "weight_summation", "sequential_aggregation")


def check_composable(kind: str, experts: Sequence[Expert], path: str = "eoe.composition") -> None:
    """Raise ConfigError if experts that may be composed together cannot be under ``kind``."""
    if kind not in KINDS:
        raise ConfigError(f"{path}.kind: {kind!r} is not allowed; allowed: {list(KINDS)}")
    if len(experts) < 2:
        return
    if kind == "representation_average" and len({e.d_model for e in experts}) > 1:
        raise ConfigError(f"{path}.kind: representation_average needs one d_model across composed experts, got "
                          f"{ {e.name: e.d_model for e in experts} }; allowed: experts of equal d_model")
    if kind == "weight_summation" and len({shape_key(e) for e in experts}) > 1:
        raise ConfigError(f"{path}.kind: weight_summation needs one shape across composed experts "
                          f"{[e.name for e in experts]}; allowed: experts of identical shape")


def average_gemm(k: int, tokens: int, d_model: int) -> Gemm:
    """Gate-weighted average of ``k`` hidden states for ``tokens`` tokens."""
    return Gemm("compose_average", 1, d_model, k, instances=max(1, int(tokens)))


def hidden_bytes(expert: Expert, tokens: int) -> float:
    """Bytes of the final hidden states of ``tokens`` tokens (sent to the composing chiplet)."""
    return float(tokens) * expert.d_model * expert.bytes_per_weight


def merge_gemm(expert: Expert, k: int) -> Gemm:
    """Weight summation of ``k`` experts of ``expert``'s shape: k multiply-adds per parameter."""
    return Gemm("merge_weights", 1, param_count(expert), k)


def merge_memory_bytes(expert_bytes: float, k: int) -> float:
    """HBM traffic of a weight summation: read k experts, write the merged one."""
    return (k + 1) * expert_bytes


def merged_name(names: Sequence[str]) -> str:
    return "merged(" + "+".join(sorted(names)) + ")"


def merged_picks(name: str) -> tuple[str, ...]:
    """The experts a merged expert (``merged_name``) sums, sorted; none for any other expert."""
    return tuple(name[len("merged("):-1].split("+")) if name.startswith("merged(") else ()
