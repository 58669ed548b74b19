"""What a serving run observes while it runs: request times, steps, tokens, KV use, loads, traffic, energy.

The recorder only collects; eoesim.serving.metrics turns it into the summary. Steps are kept as parallel
columns (one entry per step: instance, start, end, iterations, sequences, tokens, prompt tokens), KV in use as
changes per stack, inter-token gaps as (gap, count) pairs, the HBM traffic as columns per model batch of a step,
expert loads as (tier, expert, start, end, bytes) rows, and package traffic as (source chiplet, destination
chiplet, kind) -> bytes. The series that grow with every step are ``array.array`` columns: 8 bytes a value,
where a list of Python floats takes 32 (a 10^6-request run records ~5 x 10^6 steps).
"""
from __future__ import annotations

import math
from array import array
from collections import defaultdict
from typing import Any, Iterator

import numpy as np

from eoesim.serving.costs import Cost


class Recorder:
    def __init__(self, engine) -> None:
        self.engine = engine
        n = len(engine.requests)
        self._first = [math.nan] * n  # lists while running (cheap scalar writes), arrays after finish()
        self._done = [math.nan] * n
        self.completed = 0
        self.first = np.full(n, np.nan)
        self.done = np.full(n, np.nan)
        self.queue_s = np.zeros(n)  # admission wait of the request's sequences (summed)
        self.step_inst = array("q")
        self.step_t0 = array("d")
        self.step_t1 = array("d")
        self.step_k = array("q")
        self.step_seqs = array("q")
        self.step_tokens = array("q")
        self.step_prefill = array("q")
        self.step_compute_s = array("d")
        self.labels: dict[tuple[str, frozenset], int] = defaultdict(int)
        self._step_labels: dict[tuple, int] = {}  # (compute labels, stack, tensor parallel) -> iterations
        self.mac_j = 0.0
        self.sram_j = 0.0
        self.chiplet_busy_s: dict[int, float] = defaultdict(float)
        # KV in use per stack, as changes in recording order (a multi-iteration step's later blocks are
        # recorded when it ends, at the times their iterations began): time, expert, bytes
        self.kv_t = [array("d") for _ in engine.stacks]
        self.kv_expert: list[list[str]] = [[] for _ in engine.stacks]
        self.kv_delta = [array("d") for _ in engine.stacks]
        self.itl_gap = array("d")  # inter-token gaps, each standing for itl_count tokens
        self.itl_count = array("q")
        self.last_token: dict[int, float] = {}
        self.loads: list[tuple[str, str, float, float, float, int]] = []  # tier, expert, t0, t1, bytes, stack
        self.expert_loads: list[dict[str, Any]] = []  # one per load into an HBM stack
        # HBM traffic per model batch of a step, as columns (hbm_stream_rows)
        self.hbm_t0 = array("d")
        self.hbm_chip = array("q")
        self.hbm_expert: list[str] = []
        self.hbm_weights = array("d")
        self.hbm_kv_read = array("d")
        self.hbm_kv_write = array("d")
        self.hbm_request = array("q")
        self.ssd_reads: list[tuple[str, float, float]] = []
        self.traffic_bytes: dict[tuple[int, int, str], float] = defaultdict(float)
        self.cache = {"accesses": 0, "hbm_hits": 0, "prefetches": 0}
        self.preemptions: dict[str, int] = defaultdict(int)
        self.preemptions_by_mode: dict[str, int] = {"recompute": 0, "swap": 0}
        self.preempt_mode = engine.cfg["preemption"]
        self.kv_moved_bytes = 0.0  # KV handed from a prefill to a decode instance (disaggregation)
        self.kv_swap_bytes = {"out": 0.0, "in": 0.0}  # KV swapped to DDR and back (swap preemption)
        self.compositions = 0
        self.rel_s = np.zeros(n)
        self.t_end = 0.0

    # --- requests and sequences ----------------------------------------------------------------------------
    def request_first(self, r: int, t: float) -> None:
        if self._first[r] != self._first[r]:  # NaN: not set yet
            self._first[r] = t

    def request_done(self, r: int, t: float) -> None:
        if self._done[r] != self._done[r]:
            self.completed += 1
        self._done[r] = t

    def seq_step(self, seq, step, t_end: float) -> None:
        """Error propagation: the step's absolute error (its compute parts' rel x seconds, plus the memory
        curve's relative error over the time the step spent beyond its compute) accumulates per sequence,
        fully correlated along the sequence."""
        seq.rel_s += step.rel_abs_s

    def seq_done(self, seq, t: float) -> None:
        self.queue_s[seq.req] += seq.wait_s
        self.rel_s[seq.req] = max(self.rel_s[seq.req], seq.rel_s)
        self.last_token.pop(seq.sid, None)

    def tokens(self, seq, k: int, t0: float, t1: float) -> None:
        """``k`` tokens of ``seq`` emitted evenly over ``(t0, t1]`` (one at t1 when k = 1 and t0 = t1)."""
        prev = self.last_token.get(seq.sid)
        gap = (t1 - t0) / k
        if prev is not None:
            self.itl_gap.append(t0 + gap - prev)
            self.itl_count.append(1)
        if k > 1:
            self.itl_gap.append(gap)
            self.itl_count.append(k - 1)
        self.last_token[seq.sid] = t1

    def compose(self, group, tokens: int) -> None:
        self.compositions += 1

    # --- steps, energy, sources -------------------------------------------------------------------------------
    def step(self, inst, step, t_end: float) -> None:
        self.step_inst.append(inst.iid)
        self.step_t0.append(step.t0)
        self.step_t1.append(t_end)
        self.step_k.append(step.k)
        self.step_seqs.append(step.sequences)
        self.step_tokens.append(step.tokens)
        self.step_prefill.append(step.prefill_tokens)
        self.step_compute_s.append(step.compute.seconds)
        c = step.compute
        self.mac_j += c.mac_j * inst.shards
        self.sram_j += c.sram_j * inst.shards
        own = (step.t_coll_end if step.t_coll_end > 0 else t_end) - step.t0  # not the gang's or a load's wait
        for chip in inst.chips:
            self.chiplet_busy_s[chip] += own
        key = (c.labels, inst.stacks[0], inst.shards > 1)
        self._step_labels[key] = self._step_labels.get(key, 0) + step.k  # iterations, not events

    def hbm_stream(self, t0: float, inst, batch, k: int) -> None:
        """The HBM traffic of one model's part of a step, split into weight reads and KV reads / writes."""
        costs = batch.model.costs
        kv = costs.kv_bytes_per_token
        tokens = batch.tokens * k if not batch.prefills else batch.tokens
        written = kv * tokens
        # a decode's context grows by one each of the k steps (as ModelCosts.decode_steps reads it)
        read_tokens = (sum(s.context for s in batch.decodes) * k + len(batch.decodes) * k * (k - 1) // 2
                       + sum(s.context for s, _ in batch.prefills))
        seqs = batch.decodes or [s for s, _ in batch.prefills]
        self.hbm_t0.append(t0)
        self.hbm_chip.append(inst.chips[0])
        self.hbm_expert.append(batch.model.name)
        self.hbm_weights.append(costs.weight_bytes * k)
        self.hbm_kv_read.append(kv * read_tokens)
        self.hbm_kv_write.append(written)
        self.hbm_request.append(seqs[0].req if seqs else -1)

    def gemm_energy(self, cost: Cost, kind: str) -> None:
        self.mac_j += cost.mac_j
        self.sram_j += cost.sram_j
        self.labels[(kind, cost.labels)] += 1

    def chiplet_busy(self, chip: int, seconds: float) -> None:
        self.chiplet_busy_s[chip] += seconds

    # --- memory --------------------------------------------------------------------------------------------
    def kv_change(self, stack: int, t: float, expert: str, delta_bytes: float) -> None:
        self.kv_t[stack].append(t)
        self.kv_expert[stack].append(expert)
        self.kv_delta[stack].append(delta_bytes)

    def cache_access(self, expert: str, hit: bool) -> None:
        self.cache["accesses"] += 1
        self.cache["hbm_hits"] += int(hit)

    def cache_event(self, kind: str) -> None:
        self.cache["prefetches"] += 1

    def ssd_read(self, expert: str, nbytes: float, t: float) -> None:
        self.ssd_reads.append((expert, t, nbytes))

    def load_done(self, tier: str, expert: str, t0: float, t1: float, nbytes: float, stack: int = -1,
                  prefetch: bool = False) -> None:
        self.loads.append((tier, expert, t0, t1, nbytes, stack))
        e = self.engine
        label = e.curves[e.package.SSD if tier == "ssd" else e.package.DDR].label
        self.labels[("load_" + tier, frozenset([label]))] += 1

    def preemption(self, seq, mode: str, t: float) -> None:
        self.preemptions[seq.expert] += 1
        self.preemptions_by_mode[mode] += 1

    def kv_move(self, seq, nbytes: float) -> None:
        self.kv_moved_bytes += nbytes

    def kv_swap(self, direction: str, nbytes: float) -> None:
        self.kv_swap_bytes[direction] += nbytes

    def traffic(self, src: int, dst: int, nbytes: float, kind: str) -> None:
        self.traffic_bytes[(src, dst, kind)] += nbytes

    def finish(self, t: float) -> None:
        self.t_end = t
        e = self.engine
        link = e.package.link_devices()
        for (labels, stack, parallel), n in self._step_labels.items():
            names = set(labels) | {e.curves[stack].label}
            if parallel and link:
                names.add(e.curves[link[0]].label)
            self.labels[("iteration", frozenset(names))] += n
        self.first = np.array(self._first, dtype=float)
        self.done = np.array(self._done, dtype=float)

    # --- views ---------------------------------------------------------------------------------------------
    def hbm_stream_rows(self) -> Iterator[tuple[float, int, str, float, float, float, int]]:
        """(start, chiplet, expert, weight bytes, KV bytes read, KV bytes written, request) per model batch of a
        step (the request of its first sequence), in recording order."""
        return zip(self.hbm_t0, self.hbm_chip, self.hbm_expert, self.hbm_weights, self.hbm_kv_read,
                   self.hbm_kv_write, self.hbm_request)

    def steps_array(self) -> dict[str, Any]:
        return {"inst": np.array(self.step_inst, dtype=np.int64), "t0": np.array(self.step_t0),
                "t1": np.array(self.step_t1), "k": np.array(self.step_k, dtype=np.int64),
                "seqs": np.array(self.step_seqs, dtype=np.int64), "tokens": np.array(self.step_tokens, dtype=np.int64),
                "prefill": np.array(self.step_prefill, dtype=np.int64), "compute_s": np.array(self.step_compute_s)}
