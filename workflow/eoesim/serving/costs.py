"""What one forward pass of a batch costs on one shard of a model instance, from the component model.

An iteration of a model processes, for every sequence of its batch, ``q`` new tokens (1 for a decode
step, a prompt chunk for a prefill) on top of ``ctx`` tokens already in its KV cache. Per shard of an
instance with ``s`` shards (tensor parallel, see ``shard_gemm``):

- linear layers (QKV, output projection, FFN up/down) at ``M = T``, the batch's token count, once per
  layer: the weights are read once for the whole batch;
- attention per sequence at its own length: ``(q x (ctx+q)) @ ((ctx+q) x head_dim)`` per head, per layer;
- the LM head for every sequence that emits a token this iteration (a decode, or the last prompt chunk);
- memory: the shard's streamed weights once, the KV of each sequence's context read, its new tokens' KV
  written (``kv_bytes_per_token / s`` each).

GEMM cycles come from ``ComponentModel.gemm_cycles`` (SCALE-Sim rows where it ran the shape, else its
calibrated surrogate), memoized per shape. Decode attention is tabulated per context length with prefix
sums, so a run of ``k`` decode steps of a batch costs a few array lookups. Each cost carries the MAC and
SRAM joules of its GEMMs (eoesim.stitch.energy) and the provenance labels it used.
"""
from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np

from eoesim.eoe.expert import (
    Expert,
    Gemm,
    kv_bytes_per_token,
    lm_head_gemm,
    shape_key,
    streamed_weight_bytes,
)
from eoesim.eoe.hardware import ChipletSpec
from eoesim.stitch.components import ComponentModel
from eoesim.stitch.energy import EnergyModel

ROW_SPLIT = ("out_proj", "ffn_down")
COL_SPLIT = ("qkv_proj", "ffn_up", "lm_head")
LINEAR = ("qkv_proj", "out_proj", "ffn_up", "ffn_down")


def shard_gemm(g: Gemm, s: int) -> Gemm:
    """One shard's part of ``g`` under ``s``-way tensor parallelism (Megatron split): column-parallel
    QKV/FFN-up/LM-head split N, row-parallel output/FFN-down split K, attention splits its heads."""
    if s <= 1:
        return g
    if g.name in COL_SPLIT:
        return Gemm(g.name, g.m, math.ceil(g.n / s), g.k, g.instances)
    if g.name in ROW_SPLIT:
        return Gemm(g.name, g.m, g.n, math.ceil(g.k / s), g.instances)
    return Gemm(g.name, g.m, g.n, g.k, math.ceil(g.instances / s))


@dataclass(frozen=True)
class Cost:
    """Seconds of compute on one shard, with its MAC and SRAM joules and the labels it used."""

    seconds: float
    mac_j: float
    sram_j: float
    rel_s: float  # sum of rel_error x seconds of its parts (0 where unknown)
    labels: frozenset

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.seconds + other.seconds, self.mac_j + other.mac_j, self.sram_j + other.sram_j,
                    self.rel_s + other.rel_s, self.labels | other.labels)

    def times(self, n: float) -> "Cost":
        return Cost(self.seconds * n, self.mac_j * n, self.sram_j * n, self.rel_s * n, self.labels)


ZERO = Cost(0.0, 0.0, 0.0, 0.0, frozenset())


class GemmPricer:
    """GEMM costs on one chiplet type from a ComponentModel, memoized per shape."""

    def __init__(self, model: ComponentModel, chiplet: ChipletSpec, energy: EnergyModel) -> None:
        self.model, self.chiplet, self.energy = model, chiplet, energy
        self._memo: dict[tuple, Cost] = {}
        self._sram_jpb = energy.buffer_sram_j_per_byte(dict(chiplet.sram_kib))
        self.queried: dict[Gemm, None] = {}
        self.recording = True  # off while a cost table is precomputed for lengths a run may never reach
        self._models: dict[tuple, ModelCosts] = {}

    def gemm(self, g: Gemm, bytes_per_weight: float) -> Cost:
        key = (g.name, g.m, g.n, g.k, g.instances, bytes_per_weight)
        c = self._memo.get(key)
        if c is None:
            est = self.model.gemm_cycles(g, self.chiplet)
            if self.recording:
                self.queried[Gemm(g.name, g.m, g.n, g.k)] = None
            seconds = est.value * self.chiplet.cycle_s
            if est.energy_j is None:
                mac_j = g.macs * self.energy.mac_j(bytes_per_weight)
                words = self.model.gemm_sram_words(g, self.chiplet)
                sram_j = 0.0 if words is None else g.instances * bytes_per_weight * sum(
                    w * e for w, e in zip(words, self._sram_jpb))
            else:
                mac_j, sram_j = float(est.energy_j), 0.0
            rel = 0.0 if est.rel_error is None else est.rel_error * seconds
            c = self._memo[key] = Cost(seconds, mac_j, sram_j, rel, frozenset([est.label]))
        return c

    def gemms_queried(self) -> list[Gemm]:
        """Every distinct GEMM a run used: those priced on demand plus the decode attention of every context
        length the run's decode steps attended (its tables are precomputed beyond them)."""
        out = dict(self.queried)
        for costs in self._models.values():
            for g in costs.attended_gemms():
                out.setdefault(g, None)
        return list(out)

    def model_costs(self, expert: Expert, shards: int) -> "ModelCosts":
        """The (memoized) iteration costs of an expert shape on ``shards`` chiplets."""
        key = shape_key(expert) + (int(shards),)
        c = self._models.get(key)
        if c is None:
            c = self._models[key] = ModelCosts(expert, shards, self)
        return c


_PRICERS: "weakref.WeakKeyDictionary[ComponentModel, dict]" = weakref.WeakKeyDictionary()


def shared_pricer(model: ComponentModel, chiplet: ChipletSpec, energy: EnergyModel) -> GemmPricer:
    """One GemmPricer per (component model, chiplet, energy constants): runs of the same design point at other
    rates or capacities (load curves, cache figures) reuse its cost tables."""
    per_model = _PRICERS.setdefault(model, {})
    key = (chiplet, tuple(sorted(energy.values.items())))
    pricer = per_model.get(key)
    if pricer is None:
        pricer = per_model[key] = GemmPricer(model, chiplet, energy)
    return pricer


class ModelCosts:
    """Iteration costs of one expert shape on one shard of an ``shards``-way instance."""

    def __init__(self, expert: Expert, shards: int, pricer: GemmPricer) -> None:
        self.expert, self.shards, self.pricer = expert, int(shards), pricer
        self.bpw = expert.bytes_per_weight
        self.weight_bytes = streamed_weight_bytes(expert) / self.shards
        self.kv_bytes_per_token = kv_bytes_per_token(expert) / self.shards
        self._linear: dict[int, Cost] = {}
        self._lm_head: dict[int, Cost] = {}
        self._prefill_attn: dict[tuple[int, int], Cost] = {}
        self._dec_n = 0
        self._dec = np.zeros((1, 4))  # prefix sums over attended length: seconds, MAC J, SRAM J, rel x s
        self._dec_rows: list = [(0.0, 0.0, 0.0, 0.0)]
        self._dec_labels: frozenset = frozenset()
        self._attended = (0, 0)  # lowest and highest length a decode step attended (0, 0: none)

    @property
    def key(self) -> tuple:
        return shape_key(self.expert) + (self.shards,)

    def linear(self, tokens: int) -> Cost:
        """All linear layers of all layers at ``M = tokens``."""
        c = self._linear.get(tokens)
        if c is None:
            e = self.expert
            parts = ZERO
            for g in e.layer_gemms("prefill", tokens, 1):
                if g.name in LINEAR:
                    parts = parts + self.pricer.gemm(shard_gemm(g, self.shards), self.bpw)
            c = self._linear[tokens] = parts.times(e.layers)
        return c

    def lm_head(self, rows: int) -> Cost:
        if rows <= 0:
            return ZERO
        c = self._lm_head.get(rows)
        if c is None:
            c = self._lm_head[rows] = self.pricer.gemm(shard_gemm(lm_head_gemm(self.expert, rows), self.shards),
                                                       self.bpw)
        return c

    def attention(self, q: int, total: int) -> Cost:
        """Attention of ``q`` new tokens over ``total`` = context + q tokens, all layers, one shard."""
        key = (q, total)
        c = self._prefill_attn.get(key)
        if c is None:
            e, hd = self.expert, self.expert.head_dim
            inst = math.ceil(e.heads / self.shards)
            score = self.pricer.gemm(Gemm("attn_score", q, total, hd, inst), self.bpw)
            value = self.pricer.gemm(Gemm("attn_value", q, hd, total, inst), self.bpw)
            c = self._prefill_attn[key] = (score + value).times(e.layers)
        return c

    def _grow_decode(self, upto: int) -> None:
        """Prefix sums of decode attention over attended lengths 1..n (index L = sum over 1..L)."""
        n = max(upto, 2 * self._dec_n, 256)
        rows = [(0.0, 0.0, 0.0, 0.0)]
        labels = set(self._dec_labels)
        self.pricer.recording = False
        for length in range(1, n + 1):
            c = self.attention(1, length)
            rows.append((c.seconds, c.mac_j, c.sram_j, c.rel_s))
            labels |= c.labels
        self.pricer.recording = True
        self._dec = np.cumsum(np.array(rows), axis=0)
        self._dec_rows = self._dec.tolist()
        self._dec_labels = frozenset(labels)
        self._dec_n = n

    def decode_attention(self, ctx: np.ndarray, steps: int) -> Cost:
        """Attention of ``steps`` decode steps of sequences whose context is ``ctx`` tokens before the first
        (``Seq.context``: the prompt and every generated token, the last of which is the step's input, as
        vLLM's context length), so step j of a sequence attends ``ctx + j`` tokens (``ctx >= 1``): after a
        4-token prefill the first decode attends the 4 prompt tokens and its own input token, 5 in all."""
        if not len(ctx):
            return ZERO
        top = max(ctx) + steps - 1
        if top > self._dec_n:
            self._grow_decode(top)
        lo, hi = self._attended
        low = min(ctx)
        if not hi or low < lo or top > hi:
            self._attended = (min(lo, low) if hi else low, max(hi, top))
        if len(ctx) <= 8:  # small batches: list lookups beat numpy's call overhead
            rows = self._dec_rows
            t = m = r = q = 0.0
            for c in ctx:
                a, b = rows[c + steps - 1], rows[c - 1]
                t += a[0] - b[0]
                m += a[1] - b[1]
                r += a[2] - b[2]
                q += a[3] - b[3]
            return Cost(t, m, r, q, self._dec_labels)
        arr = np.asarray(ctx, dtype=np.int64) - 1
        d = (self._dec[arr + steps] - self._dec[arr]).sum(axis=0)
        return Cost(float(d[0]), float(d[1]), float(d[2]), float(d[3]), self._dec_labels)

    def attended_gemms(self) -> list[Gemm]:
        """The decode attention GEMMs (one instance) of every length the run's decode steps attended."""
        lo, hi = self._attended
        if not hi:
            return []
        hd = self.expert.head_dim
        return [g for length in range(lo, hi + 1)
                for g in (Gemm("attn_score", 1, length, hd), Gemm("attn_value", 1, hd, length))]

    def decode_steps(self, ctx: list, steps: int, rows: int = 0) -> tuple[Cost, float]:
        """(compute, HBM bytes) of ``steps`` decode steps of a batch with ``ctx`` cached tokens each;
        ``rows`` > len(ctx) adds padding rows to the linear layers (static batching)."""
        n = len(ctx)
        m = max(rows, n)
        per_step = self.linear(m) + self.lm_head(m)
        cost = per_step.times(steps) + self.decode_attention(ctx, steps)
        kv = self.kv_bytes_per_token
        nbytes = steps * self.weight_bytes + kv * (steps * float(sum(ctx)) + n * steps * (steps - 1) / 2) \
            + kv * n * steps
        return cost, nbytes

    def mixed_step(self, items: list[tuple[int, int]], emitting: int) -> tuple[Cost, float]:
        """(compute, HBM bytes) of one iteration over ``items`` = (new tokens q, cached tokens ctx) per
        sequence, ``emitting`` of which emit a token."""
        tokens = sum(q for q, _ in items)
        cost = self.linear(tokens) + self.lm_head(emitting)
        decode_ctx = [c for q, c in items if q == 1]
        if decode_ctx:
            cost = cost + self.decode_attention(decode_ctx, 1)
        for q, c in items:
            if q != 1:
                cost = cost + self.attention(q, c + q)
        kv = self.kv_bytes_per_token
        nbytes = self.weight_bytes + kv * sum(c for _, c in items) + kv * tokens
        return cost, nbytes
