"""What one stitched design point asks of each component, in the shape its simulator consumes.

From the lowered and scheduled op graph (so the same EoE description drives every backend):

- ``gemm_table``: the distinct GEMMs the chiplet model was queried for (SCALE-Sim topology rows);
- ``traffic_matrix``: bytes sent between every chiplet pair and each source's injection rate over the
  run (Garnet / RapidChiplet synthetic traffic);
- ``ssd_reads``: every expert read from the SSD - when, which expert, its byte range (experts are laid
  out back to back in morphology order, each starting on a 4 KiB boundary) - a block-I/O trace for MQSim;
- ``memory_traffic``: HBM / DDR transfers with their start, duration and size (Ramulator streams);
- ``hbm_segments``: the HBM traffic split into weight reads, KV-cache reads and KV-cache writes, each at
  an address in an HBM layout (the Ramulator trace of ``workload_files``).

Time base: the *stitched schedule* of the design point (the same lowering + discrete-event schedule as
``e2e/<point>/``), not the pre-schedule op graph, so the traces carry contention-delayed start times
and the injection rates are over the run's real span. Times are seconds on the schedule's clock (the
request arrivals' clock, whose origin is the first arrival's clock origin).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from eoesim.eoe.expert import Expert, kv_bytes_per_token, streamed_weight_bytes
from eoesim.stitch.lowering import OP_KINDS, OpGraph
from eoesim.stitch.scheduler import Schedule

SSD_ALIGN_BYTES = 4096


def gemm_table(graph: OpGraph) -> pd.DataFrame:
    """One row per distinct GEMM: name, m, n, k, instances, macs."""
    rows = [(g.name, g.m, g.n, g.k, g.instances, g.macs) for g in graph.gemms]
    return pd.DataFrame(rows, columns=["gemm", "m", "n", "k", "instances", "macs"])


def traffic_matrix(graph: OpGraph, sched: Schedule) -> dict[str, Any]:
    """``bytes[src][dst]`` over the run, ``injection_bytes_per_s[src]`` = bytes sent / span, ``span_s``."""
    n = sum(1 for r in graph.resources if r.group == "chiplet")
    mat = np.zeros((n, n))
    t = graph.transfers
    if t.size:
        np.add.at(mat, (t[:, 1].astype(int), t[:, 2].astype(int)), t[:, 3])
    span = float(sched.makespan_s - graph.requests.arrival_s.min()) if graph.n_ops else 0.0
    inj = mat.sum(axis=1) / span if span > 0 else np.zeros(n)
    return {"bytes": mat, "injection_bytes_per_s": inj, "span_s": span}


def ssd_layout(graph: OpGraph) -> dict[str, tuple[int, int]]:
    """Expert -> (offset_bytes, size_bytes) on the SSD: back to back in morphology order, 4 KiB aligned."""
    out, off = {}, 0
    for name, size in graph.info["expert_param_bytes"].items():
        out[name] = (off, int(size))
        off += -(-int(size) // SSD_ALIGN_BYTES) * SSD_ALIGN_BYTES
    return out


def ssd_reads(graph: OpGraph, sched: Schedule) -> pd.DataFrame:
    """One row per SSD read: start_s, finish_s, expert, offset_bytes, size_bytes, prefetch, request."""
    layout = ssd_layout(graph)
    rows = []
    for op, expert in graph.loads:
        off, size = layout[expert]
        rows.append((float(sched.start[op]), float(sched.finish[op]), expert, off, size,
                     OP_KINDS[graph.kind[op]] == "prefetch_ssd", int(graph.req[op])))
    return pd.DataFrame(rows, columns=["start_s", "finish_s", "expert", "offset_bytes", "size_bytes", "prefetch",
                                       "request"])


def memory_traffic(graph: OpGraph, sched: Schedule) -> pd.DataFrame:
    """One row per HBM / DDR transfer: start_s, duration_s, tier, size_bytes, op kind, request, chiplet.

    ``chiplet``: the chiplet a compute phase runs on, or, for a load, the chiplet of the first compute
    phase waiting for it (-1 when none does)."""
    names = [r.name for r in graph.resources]
    n_chips = sum(1 for r in graph.resources if r.group == "chiplet")
    chip = np.where(graph.res < n_chips, graph.res, -1)
    waiter = np.full(graph.n_ops, -1)
    on_chip = graph.res[graph.dep_dst] < n_chips
    src, dst = graph.dep_src[on_chip][::-1], graph.dep_dst[on_chip][::-1]
    waiter[src] = graph.res[dst]  # reversed, so the first listed waiter wins
    chip = np.where(chip >= 0, chip, waiter)
    parts = []
    for tier in ("hbm", "ddr"):
        idx = names.index(tier)
        prim = np.flatnonzero(graph.res == idx)
        sec = np.flatnonzero(graph.res2 == idx)
        for sel, dur, nbytes in ((prim, graph.dur, graph.nbytes), (sec, graph.dur2, graph.nbytes2)):
            if sel.size:
                parts.append(pd.DataFrame({"start_s": sched.start[sel], "duration_s": dur[sel], "tier": tier,
                                           "size_bytes": nbytes[sel],
                                           "op": [OP_KINDS[k] for k in graph.kind[sel].tolist()],
                                           "request": graph.req[sel], "chiplet": chip[sel]}))
    if not parts:
        return pd.DataFrame(columns=["start_s", "duration_s", "tier", "size_bytes", "op", "request", "chiplet"])
    return pd.concat(parts, ignore_index=True).sort_values(["start_s", "tier"], kind="stable", ignore_index=True)


@dataclass(frozen=True)
class HbmLayout:
    """Byte addresses in HBM: expert weights back to back (placement order, 4 KiB aligned), then one
    KV-cache slot of ``kv_slot_bytes`` per request (slots wrap at ``capacity_bytes``)."""

    weight_base: dict[str, int]
    weight_bytes: dict[str, int]
    kv_base: int
    kv_slot_bytes: int
    capacity_bytes: int

    def kv_address(self, request: int, offset: float) -> int:
        slots = max(1, (self.capacity_bytes - self.kv_base) // self.kv_slot_bytes)
        return self.kv_base + (request % slots) * self.kv_slot_bytes + int(offset) % self.kv_slot_bytes


def _align(x: float, to: int = SSD_ALIGN_BYTES) -> int:
    return -(-math.ceil(x) // to) * to


SEGMENT_COLUMNS = ["start_s", "stream", "write", "address_bytes", "size_bytes", "request", "chiplet", "op"]


def hbm_segments(graph: OpGraph, sched: Schedule, experts: Mapping[str, Expert], capacity_bytes: float
                 ) -> tuple[pd.DataFrame, HbmLayout]:
    """The HBM traffic as contiguous address ranges: one row per (transfer, stream), by start time.

    Streams: ``weights`` (reads of the expert's weight range), ``kv_read`` / ``kv_write`` (the request's
    KV slot; writes append, reads start at the slot's beginning) and ``expert_load`` (DDR -> HBM copies
    written into the expert's weight range). The expert of a compute phase is the first expert placed on
    its chiplet (``info["mapping"]``; with many-to-one mappings the others share its range). Split of a
    phase's bytes (lowering.phase: prefill = w + prompt KV written; decode of n tokens = n*w + KV read +
    n tokens' KV written), weights first: prefill reads min(bytes, w); decode reads floor(bytes / w) * w -
    exact while a step's KV traffic is below one weight stream - writes min(rest, n * kv) and reads the
    remainder as KV. ``w`` and ``kv`` are per shard (divided by the chiplets of the replica). Activations
    stay on chip in the stitch model (prompt and hidden states move over the network), so they add no
    HBM stream.
    """
    chip_expert: dict[int, tuple[str, int, int]] = {}
    for name, replicas in graph.info["mapping"].items():
        for chips in replicas:
            for shard, c in enumerate(chips):
                chip_expert.setdefault(int(c), (name, shard, len(chips)))
    bases, sizes, off = {}, {}, 0
    for name, size in graph.info["expert_param_bytes"].items():
        bases[name], sizes[name] = off, int(size)
        off += _align(size)
    traffic = memory_traffic(graph, sched)
    traffic = traffic[(traffic["tier"] == "hbm") | traffic["op"].isin(["load_ddr", "prefetch_ddr"])]
    rows: list[tuple] = []
    kv_written: dict[int, float] = {}
    for t in traffic.itertuples(index=False):
        if t.chiplet not in chip_expert:
            continue
        name, shard, shards = chip_expert[int(t.chiplet)]
        e = experts[name]
        w = streamed_weight_bytes(e) / shards
        kv = kv_bytes_per_token(e) / shards
        wbase = bases[name] + int(shard * w)
        size = float(t.size_bytes)
        common = (int(t.request), int(t.chiplet), t.op)
        if t.op in ("load_ddr", "prefetch_ddr"):
            rows.append((t.start_s, "expert_load", True, bases[name], size) + common)
            continue
        if t.op == "prefill":
            w_read, kv_w, kv_r = min(size, w), max(size - w, 0.0), 0.0
        elif t.op == "decode":
            steps = math.floor(size / w) if w > 0 else 0
            w_read = steps * w
            kv_w = min(size - w_read, steps * kv)
            kv_r = size - w_read - kv_w
        else:  # merge: reads the weights it merges
            w_read, kv_w, kv_r = size, 0.0, 0.0
        if w_read > 0:
            rows.append((t.start_s, "weights", False, wbase, w_read) + common)
        if kv_r > 0:
            rows.append((t.start_s, "kv_read", False, -1, kv_r) + common)
        if kv_w > 0:
            start = kv_written.get(int(t.request), 0.0)
            kv_written[int(t.request)] = start + kv_w
            rows.append((t.start_s, "kv_write", True, -1 - int(start), kv_w) + common)
    seg = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    slot = _align(max(kv_written.values(), default=SSD_ALIGN_BYTES))
    layout = HbmLayout(bases, sizes, _align(off), slot, int(capacity_bytes))
    kv_rows = seg["address_bytes"] < 0
    if kv_rows.any():  # KV rows carry -1 - (offset in the slot) until the slot size is known
        seg.loc[kv_rows, "address_bytes"] = [layout.kv_address(r, -1 - a) for r, a in
                                             zip(seg.loc[kv_rows, "request"], seg.loc[kv_rows, "address_bytes"])]
    return seg.astype({"address_bytes": np.int64}), layout
