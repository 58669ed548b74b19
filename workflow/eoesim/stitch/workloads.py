"""What one served design point asks of each component, in the shape its simulator consumes.

From the serving run itself (eoesim.serving.engine, after ``run``), so the same EoE description drives
every backend and the traces carry the times the engine produced:

- ``gemm_table``: the distinct GEMMs the chiplet model was queried for (SCALE-Sim topology rows);
- ``traffic_matrix``: bytes sent between every chiplet pair over the package network (token ids, hidden
  states, tensor-parallel collectives, KV moves, expert copies from the DDR's chiplet) and each source's
  injection rate over the run (Garnet / RapidChiplet synthetic traffic);
- ``ssd_reads``: every expert read from the SSD - when, which expert, its byte range (experts laid out back
  to back, each starting on a 4 KiB boundary) - a block-I/O trace for MQSim;
- ``hbm_segments``: the HBM traffic as address ranges: weight reads of each step, KV-cache reads and writes,
  expert copies into HBM (the Ramulator trace of ``workload_files``).

Times are seconds on the request-arrival clock.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

SSD_ALIGN_BYTES = 4096


def gemm_table(engine) -> pd.DataFrame:
    """One row per distinct GEMM: name, m, n, k, instances, macs."""
    rows = [(g.name, g.m, g.n, g.k, g.instances, g.macs) for g in engine.pricer.gemms_queried()]
    return pd.DataFrame(rows, columns=["gemm", "m", "n", "k", "instances", "macs"])


def traffic_matrix(engine) -> dict[str, Any]:
    """``bytes[src][dst]`` over the run, ``injection_bytes_per_s[src]`` = bytes sent / span, ``span_s``."""
    n = engine.hw.n_chiplets
    mat = np.zeros((n, n))
    for (src, dst, _kind), nbytes in engine.rec.traffic_bytes.items():
        mat[src, dst] += nbytes
    done = engine.rec.done
    span = float(np.nanmax(done) - engine.requests.arrival_s.min()) if np.isfinite(done).any() else 0.0
    inj = mat.sum(axis=1) / span if span > 0 else np.zeros(n)
    return {"bytes": mat, "injection_bytes_per_s": inj, "span_s": span}


def ssd_layout(engine) -> dict[str, tuple[int, int]]:
    """Expert -> (offset_bytes, size_bytes) on the SSD: back to back in placement order, 4 KiB aligned."""
    out, off = {}, 0
    for name in engine.morph.placement_order():
        size = int(engine.sizes[name])
        out[name] = (off, size)
        off += -(-size // SSD_ALIGN_BYTES) * SSD_ALIGN_BYTES
    return out


LOAD_COLUMNS = ["start_s", "finish_s", "expert", "offset_bytes", "size_bytes", "prefetch", "issue_s", "hbm_ready_s",
                "stack", "provenance"]


def ssd_reads(engine) -> pd.DataFrame:
    """One row per expert load that read the SSD: the SSD read's start/finish, the expert and its byte range,
    whether it was a prefetch, when the load was issued and when the expert was in HBM (the DDR -> HBM copy
    after the read), and the SSD's provenance label."""
    layout = ssd_layout(engine)
    label = engine.curves[engine.package.SSD].label
    rows = []
    for x in engine.rec.expert_loads:
        if x["ssd_start_s"] is None or x["expert"] not in layout:
            continue
        off, size = layout[x["expert"]]
        rows.append((x["ssd_start_s"], x["ssd_end_s"], x["expert"], off, size, x["prefetch"], x["issue_s"],
                     x["hbm_ready_s"], x["stack"], label))
    return pd.DataFrame(rows, columns=LOAD_COLUMNS)


@dataclass(frozen=True)
class HbmLayout:
    """Byte addresses in one HBM stack: expert weights back to back (4 KiB aligned), then one KV-cache slot
    of ``kv_slot_bytes`` per request (slots wrap at ``capacity_bytes``)."""

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


def hbm_segments(engine, capacity_bytes: float) -> tuple[pd.DataFrame, HbmLayout]:
    """The HBM traffic as contiguous address ranges: one row per (step, stream) and per expert copy, by
    start time. Streams: ``weights`` (reads of the expert's weight range), ``kv_read`` / ``kv_write`` (the
    first sequence's request KV slot; writes append) and ``expert_load`` (DDR -> HBM copies written into the
    expert's weight range)."""
    bases, sizes, off = {}, {}, 0
    for name in engine.morph.placement_order():
        size = engine.sizes[name]
        bases[name], sizes[name] = off, int(size)
        off += _align(size)
    rows: list[tuple] = []
    kv_written: dict[int, float] = {}
    for t0, chip, expert, w, kv_r, kv_w, req in engine.rec.hbm_stream_rows():
        base = bases.get(expert, 0)
        common = (req, chip, "step")  # ints: the recorder keeps them in integer columns
        if w > 0:
            rows.append((t0, "weights", False, base, w) + common)
        if kv_r > 0:
            rows.append((t0, "kv_read", False, -1, kv_r) + common)
        if kv_w > 0:
            start = kv_written.get(req, 0.0)
            kv_written[req] = start + kv_w
            rows.append((t0, "kv_write", True, -1 - int(start), kv_w) + common)
    pk = engine.package
    for x in engine.rec.expert_loads:
        rows.append((x["copy_start_s"] if x["copy_start_s"] is not None else x["issue_s"], "expert_load", True,
                     bases.get(x["expert"], 0), x["size_bytes"], -1, pk.nearest_served(x["stack"], pk.ddr_chiplet),
                     "load"))
    seg = pd.DataFrame(rows, columns=SEGMENT_COLUMNS).sort_values("start_s", kind="stable", ignore_index=True)
    slot = _align(max(kv_written.values(), default=SSD_ALIGN_BYTES))
    layout = HbmLayout(bases, sizes, _align(off), slot, int(capacity_bytes))
    kv_rows = seg["address_bytes"] < 0
    if kv_rows.any():  # KV rows carry -1 - (offset in the slot) until the slot size is known
        seg.loc[kv_rows, "address_bytes"] = [layout.kv_address(r, -1 - a) for r, a in
                                             zip(seg.loc[kv_rows, "request"], seg.loc[kv_rows, "address_bytes"])]
    return seg.astype({"address_bytes": np.int64}), layout
