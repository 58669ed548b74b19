"""What one stitched design point asks of each component, in the shape its simulator consumes.

From the lowered and scheduled op graph (so the same EoE description drives every backend):

- ``gemm_table``: the distinct GEMMs the chiplet model was queried for (SCALE-Sim topology rows);
- ``traffic_matrix``: bytes sent between every chiplet pair and each source's injection rate over the
  run (Garnet / RapidChiplet synthetic traffic);
- ``ssd_reads``: every expert read from the SSD - when, which expert, its byte range (experts are laid
  out back to back in morphology order, each starting on a 4 KiB boundary) - a block-I/O trace for MQSim;
- ``memory_traffic``: HBM / DDR transfers with their start, duration and size (Ramulator streams).

Columns carry their units; times are the schedule's (seconds from the first arrival's clock origin).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

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
    """One row per HBM / DDR transfer: start_s, duration_s, tier, size_bytes, op kind, request."""
    names = [r.name for r in graph.resources]
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
                                           "request": graph.req[sel]}))
    if not parts:
        return pd.DataFrame(columns=["start_s", "duration_s", "tier", "size_bytes", "op", "request"])
    return pd.concat(parts, ignore_index=True).sort_values(["start_s", "tier"], kind="stable", ignore_index=True)
