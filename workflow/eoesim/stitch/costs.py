"""Op costs (seconds, joules, relative error, provenance label) from a ComponentModel, memoized.

An op's joules are split in two: its primary component's (MACs for compute phases, bytes for transfers)
and the SRAM joules of its GEMMs (energy.py: the model's SRAM word counts x bytes per weight x the
chiplet's per-buffer SRAM energy per byte; 0 when the model knows no counts or gives ``energy_j``).

One op often aggregates many component answers - a prefill is every GEMM of every layer, a decode op
is every GEMM of many tokens at growing context - so an op's provenance label is the set of the
``fidelity:source`` labels it used, and its relative error is the cost-weighted mean of its parts'
(``sum(r_i * t_i) / sum(t_i)``: errors of one op's parts are treated as fully correlated; across ops the
scheduler treats them as independent). Parts without a ``rel_error`` count as 0 but mark nothing; an
op has an error estimate only if some part had one.

Decode cost is tabulated per (expert shape, shards) and context length L (tokens attended, incl. the new
one), with prefix sums, so a decode op over contexts ``[L0, L1)`` costs two lookups.

Tensor-parallel shards (mapping one_to_many): QKV, FFN-up and LM-head GEMMs are split along N, the
output and FFN-down projections along K, attention along its (sequence x head) instances; each forward
pass then all-reduces its activations twice per layer (ring all-reduce: each shard sends
``2 (s-1)/s`` of them over one hop).
"""
from __future__ import annotations

import math

import numpy as np

from eoesim.eoe.expert import Expert, Gemm, forward_gemms, kv_bytes_per_token, shape_key, streamed_weight_bytes
from eoesim.eoe.hardware import ChipletSpec
from eoesim.stitch.components import ComponentModel, Estimate
from eoesim.stitch.energy import EnergyModel

ROW_SPLIT = ("out_proj", "ffn_down")
COL_SPLIT = ("qkv_proj", "ffn_up", "lm_head")


def shard_gemm(g: Gemm, s: int) -> Gemm:
    if s <= 1:
        return g
    if g.name in COL_SPLIT:
        return Gemm(g.name, g.m, math.ceil(g.n / s), g.k, g.instances)
    if g.name in ROW_SPLIT:
        return Gemm(g.name, g.m, g.n, math.ceil(g.k / s), g.instances)
    return Gemm(g.name, g.m, g.n, g.k, math.ceil(g.instances / s))


class CostBook:
    """Interned op costs: every distinct cost gets an integer id; ``columns()`` returns, per id, seconds,
    joules, relative error (0 when unknown), whether an error was known, the provenance label id, bytes
    moved and SRAM joules."""

    def __init__(self, model: ComponentModel, chiplet: ChipletSpec, energy: EnergyModel) -> None:
        self.model, self.chiplet, self.energy = model, chiplet, energy
        self.label_names: list[str] = []
        self._label_ids: dict[frozenset[str], int] = {}
        self._gemm: dict[Gemm, Estimate] = {}
        self._sram_jpb = energy.buffer_sram_j_per_byte(dict(chiplet.sram_kib))
        self._gemm_sram: dict[Gemm, float] = {}  # SRAM joules of all instances at one byte per word
        self._memo: dict[tuple, int] = {}
        self._prefill: dict[tuple, dict[int, int]] = {}
        self._mem: dict[str, dict[float, int]] = {"hbm": {}, "ddr": {}}
        self._net: dict[tuple, int] = {}
        self._decode: dict[tuple, dict] = {}
        self._shape: dict[str, int] = {}
        self._shape_ids: dict[tuple, int] = {}
        self._single: dict[tuple[str, str], int] = {}
        self.c_dur: list[float] = []
        self.c_en: list[float] = []
        self.c_rel: list[float] = []
        self.c_has: list[bool] = []
        self.c_lab: list[int] = []
        self.c_bytes: list[float] = []
        self.c_sram: list[float] = []

    def new(self, dur: float, energy_j: float, rel: float, has: bool, label: int, nbytes: float = 0.0,
            sram_j: float = 0.0) -> int:
        self.c_sram.append(sram_j)
        self.c_bytes.append(nbytes)
        self.c_dur.append(dur)
        self.c_en.append(energy_j)
        self.c_rel.append(rel)
        self.c_has.append(has)
        self.c_lab.append(label)
        return len(self.c_dur) - 1

    def columns(self) -> tuple[np.ndarray, ...]:
        """Per cost id: seconds, joules (primary component), relative error, error known, label id, bytes moved
        (0 for compute), SRAM joules (0 but for GEMMs)."""
        return (np.array(self.c_dur, dtype=float), np.array(self.c_en, dtype=float),
                np.array(self.c_rel, dtype=float), np.array(self.c_has, dtype=bool),
                np.array(self.c_lab, dtype=np.int64), np.array(self.c_bytes, dtype=float),
                np.array(self.c_sram, dtype=float))

    # --- labels --------------------------------------------------------------------------------
    def label_id(self, labels: frozenset[str]) -> int:
        lid = self._label_ids.get(labels)
        if lid is None:
            lid = self._label_ids[labels] = len(self.label_names)
            self.label_names.append("+".join(sorted(labels)))
        return lid

    def _one(self, est: Estimate, energy: float, nbytes: float) -> int:
        key = (est.fidelity, est.source)
        lid = self._single.get(key)
        if lid is None:
            lid = self._single[key] = self.label_id(frozenset([est.label]))
        rel = est.rel_error
        return self.new(est.value, energy if est.energy_j is None else est.energy_j,
                        0.0 if rel is None else float(rel), rel is not None, lid, nbytes)

    # --- GEMMs ---------------------------------------------------------------------------------
    def gemm_estimate(self, g: Gemm) -> Estimate:
        est = self._gemm.get(g)
        if est is None:
            est = self._gemm[g] = self.model.gemm_cycles(g, self.chiplet)
        return est

    def sram_j(self, g: Gemm) -> float:
        """SRAM joules of all instances of ``g`` at one byte per word (0 when the model knows no counts)."""
        j = self._gemm_sram.get(g)
        if j is None:
            words = self.model.gemm_sram_words(g, self.chiplet)
            j = 0.0 if words is None else g.instances * sum(w * e for w, e in zip(words, self._sram_jpb))
            self._gemm_sram[g] = j
        return j

    def _gemms(self, items: list[tuple[Gemm, int]], bytes_per_weight: float):
        """(seconds, MAC joules, SRAM joules, sum r_i t_i, has_rel, labels) of GEMMs run back to back on one
        chiplet."""
        cyc_s = self.chiplet.cycle_s
        mac_j = self.energy.mac_j(bytes_per_weight)
        t = e = sj = rw = 0.0
        has = False
        labels = set()
        for g, rep in items:
            est = self.gemm_estimate(g)
            dt = est.value * cyc_s * rep
            t += dt
            if est.energy_j is None:
                e += g.macs * mac_j * rep
                sj += self.sram_j(g) * rep
            else:
                e += est.energy_j * rep
            if est.rel_error is not None:
                has = True
                rw += est.rel_error * dt
            labels.add(est.label)
        return t, e, sj * bytes_per_weight, rw, has, labels

    def gemms_queried(self) -> list[Gemm]:
        """Every distinct GEMM the component model was asked about (what a simulator must cover)."""
        return list(self._gemm)

    def gemm_op(self, g: Gemm, bytes_per_weight: float, extra_cycles: int = 0) -> int:
        key = ("gemm", g, bytes_per_weight, extra_cycles)
        c = self._memo.get(key)
        if c is None:
            t, e, sj, rw, has, labels = self._gemms([(g, 1)], bytes_per_weight)
            t += extra_cycles * self.chiplet.cycle_s
            c = self._memo[key] = self.new(t, e, rw / t if t > 0 else 0.0, has, self.label_id(frozenset(labels)),
                                           sram_j=sj)
        return c

    def fixed_cycles_op(self, cycles: int) -> int:
        key = ("cycles", cycles)
        c = self._memo.get(key)
        if c is None:
            c = self._memo[key] = self.new(cycles * self.chiplet.cycle_s, 0.0, 0.0, False,
                                           self.label_id(frozenset(["config:router.cost.fixed_cycles"])))
        return c

    def _key(self, e: Expert) -> int:
        """A small id per distinct expert shape (experts of one shape share their cost tables)."""
        k = self._shape.get(e.name)
        if k is None:
            k = self._shape[e.name] = self._shape_ids.setdefault(shape_key(e), len(self._shape_ids))
        return k

    def prefill(self, e: Expert, shards: int, prompt_tokens: int) -> int:
        """Compute of one shard's prefill of ``prompt_tokens`` tokens."""
        key = (self._key(e), shards)
        memo = self._prefill.get(key)
        if memo is None:
            memo = self._prefill[key] = {}
        c = memo.get(prompt_tokens)
        if c is None:
            items = [(shard_gemm(g, shards), r) for g, r in forward_gemms(e, "prefill", prompt_tokens, 1)]
            t, en, sj, rw, has, labels = self._gemms(items, e.bytes_per_weight)
            c = memo[prompt_tokens] = self.new(t, en, rw / t if t > 0 else 0.0, has, self.label_id(frozenset(labels)),
                                               sram_j=sj)
        return c

    def decode_table(self, e: Expert, shards: int, upto: int) -> dict:
        """Per-context decode costs of one shard of ``e`` for contexts 1..upto (at least), with prefix sums
        ``P`` (seconds), ``PE`` (MAC joules), ``PS`` (SRAM joules), ``PR`` (sum r_i t_i) indexed by context."""
        key = (self._key(e), shards)
        tab = self._decode.get(key)
        if tab is None or tab["n"] < upto:
            n = max(upto, 2 * tab["n"] if tab else 256)
            start = tab["n"] + 1 if tab else 1
            t = list(tab["t"]) if tab else [0.0]
            en = list(tab["e"]) if tab else [0.0]
            sr = list(tab["s"]) if tab else [0.0]
            rw = list(tab["rw"]) if tab else [0.0]
            lab = list(tab["lab"]) if tab else [-1]
            has = tab["has"] if tab else False
            for L in range(start, n + 1):
                items = [(shard_gemm(g, shards), r) for g, r in forward_gemms(e, "decode", L, 1)]
                ti, ei, si, rwi, hi, labels = self._gemms(items, e.bytes_per_weight)
                t.append(ti)
                en.append(ei)
                sr.append(si)
                rw.append(rwi)
                lab.append(self.label_id(frozenset(labels)))
                has = has or hi
            lab_arr = np.array(lab)
            tab = {"n": n, "t": t, "e": en, "s": sr, "rw": rw, "lab": lab, "has": has,
                   "P": np.concatenate([[0.0], np.cumsum(t)]).tolist(),
                   "PE": np.concatenate([[0.0], np.cumsum(en)]).tolist(),
                   "PS": np.concatenate([[0.0], np.cumsum(sr)]).tolist(),
                   "PR": np.concatenate([[0.0], np.cumsum(rw)]).tolist(),
                   "uniform": bool((lab_arr[1:] == lab_arr[1]).all())}
            self._decode[key] = tab
        return tab

    def decode(self, e: Expert, shards: int, ctx_from: int, ctx_to: int) -> int:
        """Compute of one shard's decode steps at context lengths ``ctx_from .. ctx_to - 1``."""
        tab = self._decode.get((self._key(e), shards))
        if tab is None or tab["n"] < ctx_to:
            tab = self.decode_table(e, shards, ctx_to)
        P, PE, PS, PR = tab["P"], tab["PE"], tab["PS"], tab["PR"]
        t = P[ctx_to] - P[ctx_from]
        rw = PR[ctx_to] - PR[ctx_from]
        if tab["uniform"]:
            lid = tab["lab"][1]
        else:
            labs: set[str] = set()
            for i in set(tab["lab"][ctx_from:ctx_to]):
                labs.update(self.label_names[i].split("+"))
            lid = self.label_id(frozenset(labs))
        return self.new(t, PE[ctx_to] - PE[ctx_from], rw / t if t > 0 else 0.0, tab["has"], lid,
                        sram_j=PS[ctx_to] - PS[ctx_from])

    # --- memory, SSD, network --------------------------------------------------------------------
    def memory(self, nbytes: float, tier: str) -> int:
        memo = self._mem[tier]
        c = memo.get(nbytes)
        if c is None:
            c = memo[nbytes] = self._one(self.model.memory_transfer(nbytes, tier), self.energy.memory_j(nbytes, tier),
                                         nbytes)
        return c

    def ssd(self, nbytes: float) -> int:
        key = ("ssd", nbytes)
        c = self._memo.get(key)
        if c is None:
            c = self._memo[key] = self._one(self.model.ssd_read(nbytes), self.energy.ssd_j(nbytes), nbytes)
        return c

    def network(self, nbytes: float, hops: int, energy_bytes: float | None = None) -> int:
        key = (nbytes, hops, energy_bytes)
        c = self._net.get(key)
        if c is None:
            moved = nbytes if energy_bytes is None else energy_bytes
            c = self._net[key] = self._one(self.model.network_transfer(nbytes, hops),
                                           self.energy.network_j(moved, hops), moved)
        return c


def prefill_memory_bytes(e: Expert, prompt_tokens: int) -> float:
    """HBM bytes of a prefill: the streamed weights once, plus the prompt's KV written."""
    return streamed_weight_bytes(e) + prompt_tokens * kv_bytes_per_token(e)


def decode_memory_bytes(e: Expert, ctx_from: int, ctx_to: int) -> float:
    """HBM bytes of decode steps at contexts ``ctx_from..ctx_to-1``: weights per step, the KV of the
    attended context read, one token's KV written."""
    steps = ctx_to - ctx_from
    kv = kv_bytes_per_token(e)
    attended = (ctx_from + ctx_to - 1) * steps / 2  # sum of L over the steps
    return steps * streamed_weight_bytes(e) + kv * (attended + steps)


def allreduce_bytes(e: Expert, tokens: int, shards: int, steps: int = 1) -> tuple[float, float]:
    """(bytes one shard sends, bytes all shards send) for ``steps`` forward passes of ``tokens`` tokens:
    two ring all-reduces of ``tokens x d_model`` activations per layer."""
    size = tokens * e.d_model * e.bytes_per_weight
    per_shard = 2 * e.layers * steps * 2 * (shards - 1) / shards * size
    return per_shard, per_shard * shards
