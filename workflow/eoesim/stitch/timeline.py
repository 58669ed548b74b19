"""The schedule as Chrome trace events (``timeline.json``; opens in Perfetto / chrome://tracing).

One process per resource group (chiplets, memory, SSD, network) and one thread (track) per resource -
each chiplet, HBM, DDR, the SSD, and each network channel. Every op is a complete event
(``ph: "X"``) with ``ts``/``dur`` in microseconds and ``args`` = request, op index, provenance label; a
compute phase also shows its HBM traffic (``<kind> traffic``) on the HBM track. ``dur`` is the service
time (compute, or transfer), so a memory-bound phase's chiplet event is shorter than its HBM event.
Large runs are capped at ``max_events`` ops (the earliest-starting ones); ``otherData`` says so.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from eoesim.stitch.lowering import OP_KINDS, OpGraph
from eoesim.stitch.scheduler import Schedule

GROUPS = ("chiplet", "memory", "ssd", "network")
DEFAULT_MAX_EVENTS = 200_000


def chrome_trace(graph: OpGraph, sched: Schedule, max_events: int | None = DEFAULT_MAX_EVENTS) -> dict[str, Any]:
    pid_of = {g: i + 1 for i, g in enumerate(GROUPS)}
    events: list[dict[str, Any]] = []
    for g, pid in pid_of.items():
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": g}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": pid}})
    tid_base: list[int] = []
    per_group: dict[str, int] = {g: 0 for g in GROUPS}
    for r in graph.resources:
        tid_base.append(per_group[r.group])
        for s in range(r.servers):
            tid = per_group[r.group] + s
            name = r.name if r.servers == 1 else f"{r.name} channel {s}"
            events.append({"ph": "M", "name": "thread_name", "pid": pid_of[r.group], "tid": tid,
                           "args": {"name": name}})
            events.append({"ph": "M", "name": "thread_sort_index", "pid": pid_of[r.group], "tid": tid,
                           "args": {"sort_index": tid}})
        per_group[r.group] += r.servers
    n = graph.n_ops
    order = np.lexsort((np.arange(n), sched.start))
    truncated = max_events is not None and n > max_events
    if truncated:
        order = order[:max_events]
    res, kind, req, lab = graph.res.tolist(), graph.kind.tolist(), graph.req.tolist(), graph.label.tolist()
    start, dur, lane = (sched.start * 1e6).tolist(), (graph.dur * 1e6).tolist(), sched.lane.tolist()
    groups = [r.group for r in graph.resources]
    labels = graph.label_names
    res2, dur2 = graph.res2.tolist(), (graph.dur2 * 1e6).tolist()
    for i in order.tolist():
        r = res[i]
        args = {"request": req[i], "op": i, "source": labels[lab[i]]}
        events.append({"name": OP_KINDS[kind[i]], "cat": groups[r], "ph": "X", "ts": start[i], "dur": dur[i],
                       "pid": pid_of[groups[r]], "tid": tid_base[r] + lane[i], "args": args})
        r2 = res2[i]
        if r2 >= 0:  # the HBM traffic of a compute phase, on the memory track
            events.append({"name": OP_KINDS[kind[i]] + " traffic", "cat": groups[r2], "ph": "X", "ts": start[i],
                           "dur": dur2[i], "pid": pid_of[groups[r2]], "tid": tid_base[r2], "args": args})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"ops_total": n, "ops_in_trace": len(order), "truncated": bool(truncated)}}


def write_chrome_trace(path: str | Path, graph: OpGraph, sched: Schedule,
                       max_events: int | None = DEFAULT_MAX_EVENTS) -> Path:
    path = Path(path)
    path.write_text(json.dumps(chrome_trace(graph, sched, max_events), separators=(",", ":")))
    return path
