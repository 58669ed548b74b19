"""The ``serving`` section of a study: how each model instance schedules its iterations, and its checks.

Keys (defaults in ``DEFAULTS``; the schema documents each):

- ``scheduler``: ``continuous`` (Orca-style iteration-level FCFS: every iteration runs all decodes and
  admits whole prompts while the token budget lasts), ``chunked_prefill`` (Sarathi-Serve: decodes first,
  then prompt chunks filling ``chunk_tokens`` per iteration), ``prefill_priority`` (vLLM's default: an
  iteration of new prompts whenever one can be admitted, else a decode iteration), ``static`` (the
  request-level baseline: a batch is formed when the instance is idle and runs, padded, until its
  longest sequence ends; a batch whose members all wait for composition partners takes in the waiting parts
  whose partners run elsewhere, else batches on two instances could wait for each other forever);
- ``max_num_seqs``, ``max_batched_tokens``, ``chunk_tokens``: per model and iteration;
- ``kv_block_tokens``, ``kv_watermark`` (share of KV space kept free when admitting, as vLLM), ``kv_partition``;
- ``preemption``: ``recompute`` or ``swap`` (to DDR) when KV blocks run out (a sequence in prefill or a
  composition group's part is recomputed under ``swap`` too: kvcache);
- ``load_balance``: ``round_robin`` or ``least_outstanding_tokens`` over an expert's replicas;
- ``disaggregation``: null, or ``{prefill_replicas: N}`` - the first N replicas of every expert run
  prefills only, the others decodes, the KV cache moving between them over the package network;
- ``expert_load``: ``streamed`` (a cold expert's first iteration starts with its load and overlaps it
  layer by layer) or ``whole`` (waits for the whole expert);
- ``slo``: ``{ttft_s, tpot_s}`` for goodput (null = no bound);
- ``max_steps_per_event``: a simulation knob - up to this many decode iterations of an unchanged batch are
  advanced as one event (any change to the batch - an arrival, a finished sequence, a block boundary
  without room - ends it at that iteration); 1 = one event per iteration.
"""
from __future__ import annotations

from typing import Any, Mapping

from eoesim.errors import ConfigError

SCHEDULERS = ("continuous", "chunked_prefill", "prefill_priority", "static")
PREEMPTION = ("recompute", "swap")
LOAD_BALANCE = ("round_robin", "least_outstanding_tokens")
EXPERT_LOAD = ("streamed", "whole")

DEFAULTS: dict[str, Any] = {
    "scheduler": "continuous",
    "max_num_seqs": 64,
    "max_batched_tokens": 4096,
    "chunk_tokens": 512,
    "kv_block_tokens": 16,
    "kv_watermark": 0.01,
    "kv_partition": "shared",
    "preemption": "recompute",
    "load_balance": "least_outstanding_tokens",
    "disaggregation": None,
    "expert_load": "streamed",
    "slo": {"ttft_s": None, "tpot_s": None},
    "max_steps_per_event": 512,
}


def _int(cfg: Mapping[str, Any], key: str, lo: int) -> int:
    value = cfg[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ConfigError(f"serving.{key}: {value!r} is not allowed; allowed: an integer >= {lo}")
    return value


def _choice(cfg: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    if cfg[key] not in allowed:
        raise ConfigError(f"serving.{key}: {cfg[key]!r} is not allowed; allowed: {list(allowed)}")
    return cfg[key]


def serving_settings(section: Mapping[str, Any] | None) -> dict[str, Any]:
    """The section with defaults filled, checked (ConfigError naming key, value and what is allowed)."""
    cfg = {**DEFAULTS, **(section or {})}
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"serving: unknown key(s) {unknown}; allowed: {sorted(DEFAULTS)}")
    _choice(cfg, "scheduler", SCHEDULERS)
    _choice(cfg, "preemption", PREEMPTION)
    _choice(cfg, "load_balance", LOAD_BALANCE)
    _choice(cfg, "expert_load", EXPERT_LOAD)
    for key in ("max_num_seqs", "max_batched_tokens", "chunk_tokens", "kv_block_tokens", "max_steps_per_event"):
        _int(cfg, key, 1)
    wm = cfg["kv_watermark"]
    if isinstance(wm, bool) or not isinstance(wm, (int, float)) or not 0 <= wm < 1:
        raise ConfigError(f"serving.kv_watermark: {wm!r} is not allowed; allowed: a number in [0, 1)")
    slo = {**DEFAULTS["slo"], **(cfg["slo"] or {})}
    for key in ("ttft_s", "tpot_s"):
        v = slo.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
            raise ConfigError(f"serving.slo.{key}: {v!r} is not allowed; allowed: a number > 0 (seconds) or null")
    cfg["slo"] = slo
    dis = cfg["disaggregation"]
    if dis is not None:
        n = dis.get("prefill_replicas") if isinstance(dis, Mapping) else None
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"serving.disaggregation.prefill_replicas: {n!r} is not allowed; allowed: an integer "
                              ">= 1 (and below each expert's replica count)")
        if cfg["scheduler"] == "static":  # a static batch runs its requests to the end on one instance
            raise ConfigError("serving.scheduler: 'static' is not allowed with serving.disaggregation; allowed: "
                              f"{[x for x in SCHEDULERS if x != 'static']} (or disaggregation: null)")
    return cfg


def check_block_size(cfg: Mapping[str, Any]) -> None:
    """The token budgets must be whole KV blocks (a chunk that ends mid-block would strand the block's tail)."""
    bs = cfg["kv_block_tokens"]
    for key in ("chunk_tokens", "max_batched_tokens"):
        if cfg[key] % bs:
            raise ConfigError(f"serving.kv_block_tokens: {bs} does not divide serving.{key} = {cfg[key]}; allowed: "
                              f"a divisor of {key} (e.g. {[d for d in (8, 16, 32, 64) if cfg[key] % d == 0]})")
