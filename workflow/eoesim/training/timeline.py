"""A few optimizer steps of every expert as a Chrome trace (``timeline.json``; Perfetto / chrome://tracing).

One process per expert, one thread per pipeline stage (the stage's chiplets of data-parallel replica 0; the
other replicas run the same schedule) plus an ``SSD`` thread. Per step: the 1F1B forward (F) and backward (B)
passes of every micro-batch, then the data-parallel gradient reduction and the optimizer update on every
stage, the next batch's token read on the SSD; after the last step drawn, one checkpoint write (it happens
every ``training.checkpoint.interval_steps`` steps). Times are in microseconds of wall time at the
training's share of its chiplets.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eoesim.training.placement import RankMap
from eoesim.training.run import TrainingRun

US = 1e6


def _complete(name: str, pid: int, tid: int, start_s: float, dur_s: float, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "cat": "training", "ph": "X", "ts": start_s * US, "dur": dur_s * US, "pid": pid,
            "tid": tid, "args": args}


def chrome_trace(run: TrainingRun) -> dict[str, Any]:
    spec = run.spec
    stretch = 1.0 / spec.share
    events: list[dict[str, Any]] = []
    for pid, r in enumerate(run.experts, start=1):
        step, lay = r.step, r.step.job.layout
        ranks = RankMap(step.job.chiplets, lay)
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                       "args": {"name": f"expert {step.job.expert.name}"}})
        for stage in range(lay.pp):
            chips = ",".join(str(c) for c in ranks.tp_group(0, stage))
            events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": stage,
                           "args": {"name": f"stage {stage} (chiplets {chips})"}})
        ssd_tid = lay.pp
        events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": ssd_tid, "args": {"name": "SSD"}})
        plain = step.step_s - step.breakdown_s["checkpoint_stall"]
        shown = min(spec.timeline_steps, r.steps)
        for k in range(shown):
            t0 = r.start_s + k * plain * stretch
            for p in step.passes:
                events.append(_complete(f"{p.kind}{p.micro_batch}", pid, p.stage, t0 + p.start_s * stretch,
                                        (p.end_s - p.start_s) * stretch, {"step": k, "micro_batch": p.micro_batch}))
            t_sync = t0 + step.pipeline_s * stretch
            for stage in range(lay.pp):
                events.append(_complete("gradient reduction", pid, stage, t_sync, step.dp_sync_s * stretch,
                                        {"step": k, "zero": lay.zero}))
                events.append(_complete("optimizer", pid, stage, t_sync + step.dp_sync_s * stretch,
                                        step.optimizer_s * stretch, {"step": k}))
            events.append(_complete("read next batch", pid, ssd_tid, t0, step.data_read_s * stretch,
                                    {"step": k, "bytes": step.ssd_read_bytes}))
        t_ckpt = r.start_s + shown * plain * stretch
        events.append(_complete("checkpoint write", pid, ssd_tid, t_ckpt, step.checkpoint_write_s * stretch,
                                {"every_steps": spec.checkpoint_interval_steps}))
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"steps_shown": spec.timeline_steps, "share": spec.share}}


def write_chrome_trace(path: str | Path, run: TrainingRun) -> Path:
    path = Path(path)
    path.write_text(json.dumps(chrome_trace(run), separators=(",", ":")))
    return path
