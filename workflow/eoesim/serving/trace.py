"""A serving run as Chrome trace events (``timeline.json``; opens in Perfetto / chrome://tracing).

Process ``instances``: one track per model instance, one complete event (``ph: "X"``) per step - an
iteration, or ``k`` identical decode iterations advanced together - with ``args``: iterations, sequences in
the batch, tokens, prompt tokens, models. Process ``memory``: one track per tier with a complete event per
expert load (SSD -> DDR, DDR -> HBM stack). Times in microseconds. Long runs keep the ``max_events``
earliest-starting events; ``otherData`` says how many there were.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_MAX_EVENTS = 200_000
PROCESSES = ("instances", "memory")


def chrome_trace(engine, max_events: int | None = DEFAULT_MAX_EVENTS) -> dict[str, Any]:
    rec = engine.rec
    events: list[dict[str, Any]] = []
    for pid, name in enumerate(PROCESSES, start=1):
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": name}})
        events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": pid}})
    for inst in engine.instances:
        events.append({"ph": "M", "name": "thread_name", "pid": 1, "tid": inst.iid,
                       "args": {"name": inst.label() + " " + "+".join(sorted(inst.models))}})
        events.append({"ph": "M", "name": "thread_sort_index", "pid": 1, "tid": inst.iid,
                       "args": {"sort_index": inst.iid}})
    tiers = {"ssd": 0, **{f"hbm{s}": s + 1 for s in range(engine.package.n_stacks)}}
    for name, tid in tiers.items():
        events.append({"ph": "M", "name": "thread_name", "pid": 2, "tid": tid,
                       "args": {"name": "SSD -> DDR" if name == "ssd" else f"DDR -> {name}"}})
    st = rec.steps_array()
    loads = rec.loads
    total = int(st["t0"].size) + len(loads)
    order = np.argsort(st["t0"], kind="stable")
    if max_events is not None:
        order = order[:max_events]
    models = {i.iid: "+".join(sorted(i.models)) for i in engine.instances}
    t0, t1, inst, k = st["t0"].tolist(), st["t1"].tolist(), st["inst"].tolist(), st["k"].tolist()
    seqs, tokens, prefill = st["seqs"].tolist(), st["tokens"].tolist(), st["prefill"].tolist()
    for i in order.tolist():
        events.append({"name": "prefill+decode" if prefill[i] else f"decode x{k[i]}", "cat": "step", "ph": "X",
                       "ts": t0[i] * 1e6, "dur": (t1[i] - t0[i]) * 1e6, "pid": 1, "tid": inst[i],
                       "args": {"iterations": k[i], "batch_sequences": seqs[i], "batch_tokens": tokens[i],
                                "prompt_tokens": prefill[i], "models": models[inst[i]]}})
    room = None if max_events is None else max(0, max_events - len(order))
    for tier, expert, a, b, nbytes, stack in sorted(loads, key=lambda x: x[2])[:room]:
        tid = 0 if tier == "ssd" else stack + 1
        events.append({"name": f"load {expert}", "cat": "load", "ph": "X", "ts": a * 1e6, "dur": (b - a) * 1e6,
                       "pid": 2, "tid": tid, "args": {"bytes": nbytes, "tier": tier}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"events_total": total, "events_in_trace": len(events), "truncated":
                          max_events is not None and total > max_events}}


def write_chrome_trace(path: str | Path, engine, max_events: int | None = DEFAULT_MAX_EVENTS) -> Path:
    path = Path(path)
    path.write_text(json.dumps(chrome_trace(engine, max_events), separators=(",", ":")))
    return path
