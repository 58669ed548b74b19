"""The GEMM shapes the serving engine will ask the chiplet model for most, for SCALE-Sim to run for real.

A decode iteration of ``n`` sequences runs each linear layer at ``M = n`` and the LM head at ``M = n``; its
attention is per sequence (``1 x L`` by ``L x head_dim``). The engine asks for whatever the batch is, so
SCALE-Sim runs the buckets ``DECODE_BATCHES`` (up to ``serving.max_num_seqs``) of every expert shape and
shard count the mapping uses, and decode attention at ``ATTENTION_LENGTHS``; every other shape comes from
the calibrated SCALE-Sim surrogate (exact for ``interface_bandwidth: calc``) and is labelled so.
"""
from __future__ import annotations

from typing import Any, Mapping

from eoesim.eoe.expert import Gemm, lm_head_gemm, resolve_experts
from eoesim.serving.costs import LINEAR, shard_gemm
from eoesim.serving.settings import DEFAULTS as SERVING_DEFAULTS

DECODE_BATCHES = (1, 4, 16, 64)
LM_HEAD_BATCHES = (1, 16)
ATTENTION_LENGTHS = (128, 512)


def shard_counts(params: Mapping[str, Any]) -> list[int]:
    """Chiplets per instance the mapping gives (tensor-parallel degree)."""
    mapping = params.get("mapping") or {}
    if mapping.get("strategy") in ("one_to_many", "replicate") and mapping.get("chiplets_per_expert"):
        return [int(mapping["chiplets_per_expert"])]
    if mapping.get("strategy") == "one_to_many":
        grid = ((params.get("hardware") or {}).get("package") or {}).get("grid") or [4, 4]
        n = len((params.get("eoe") or {}).get("experts") or [1])
        return [max(1, int(grid[0]) * int(grid[1]) // max(n, 1))]
    return [1]


def engine_gemms(params: Mapping[str, Any]) -> list[tuple[str, Gemm]]:
    """(expert name, GEMM) of the serving engine's common shapes (module docstring), one per distinct shape."""
    serving = {**SERVING_DEFAULTS, **(params.get("serving") or {})}
    top = int(serving["max_num_seqs"])
    out: list[tuple[str, Gemm]] = []
    for expert in resolve_experts((params.get("eoe") or {}).get("experts") or []):
        for s in shard_counts(params):
            for m in (b for b in DECODE_BATCHES if b <= top):
                for g in expert.layer_gemms("decode", 1, m):
                    if g.name in LINEAR:
                        out.append((expert.name, shard_gemm(g, s)))
            for m in (b for b in LM_HEAD_BATCHES if b <= top):
                out.append((expert.name, shard_gemm(lm_head_gemm(expert, m), s)))
            for length in ATTENTION_LENGTHS:
                for g in expert.layer_gemms("decode", length, 1):
                    if g.name not in LINEAR:
                        out.append((expert.name, shard_gemm(Gemm(g.name, g.m, g.n, g.k, 1), s)))
    return out
