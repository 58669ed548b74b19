"""Per-design-point end-to-end metrics from a scheduled op graph (the content of ``summary.json``).

Definitions (seconds unless the key says otherwise):

- ``ttft_s``: arrival -> first output token (the prefill, or its composition, of the stage that answers);
- ``e2e_latency_s``: arrival -> the request's last op; ``tpot_s``: ``(e2e - ttft) / (output_tokens - 1)``
  over requests with more than one output token;
- each as ``{mean, p50, p95, p99, max}`` (numpy linear-interpolated percentiles);
- throughput over the span first arrival -> last finish: ``requests_per_s`` and ``tokens_per_s`` (output
  tokens of the answering stage, one ``output_tokens`` per request);
- ``utilization``: busy time / span per chiplet (mean, max, list), per memory tier, SSD, network (busy
  time / (span x channels));
- ``cache``: accesses by tier (hit = the expert was in HBM), prefetches;
- ``energy``: joules by component (compute, sram, hbm, ddr, ssd, network), total, per output token;
  ``carbon_g_per_1k_tokens`` = energy of 1000 output tokens at ``grid_intensity_gco2_per_kwh``;
- ``latency_rel_error``: when component models gave relative errors, the propagated relative standard
  error of each request's e2e latency (``sqrt(var(finish)) / latency``), as mean / p95 / max; else null;
- ``component_sources``: op counts per (op kind, provenance label); a label is the ``+``-joined set of
  the ``fidelity:source`` of every component answer the op used (e.g. its GEMMs and its HBM traffic);
  ``fidelity_ops``: how many ops used each fidelity (an op using two counts for both);
- ``ops``: op counts per kind;
- ``latency_breakdown_s``: where the mean request's e2e latency goes, by category (mean over requests of
  seconds; the categories of a request sum to its e2e latency, so their means sum to ``e2e_latency_s.mean``).
  See :func:`latency_breakdown` for the attribution.

Nothing here depends on wall-clock time, so the same inputs give the same summary.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from eoesim.stitch.energy import carbon_g
from eoesim.stitch.lowering import OP_KINDS, OpGraph, kind_counts
from eoesim.stitch.scheduler import Schedule

PERCENTILES = (50, 95, 99)
#: categories of the latency breakdown, in stacking order
BREAKDOWN_CATEGORIES = ("routing", "expert_load", "compute", "memory", "network", "composition", "queueing")
#: breakdown category of each op kind's service time (see latency_breakdown)
KIND_CATEGORY = {"route": "routing", "load_ssd": "expert_load", "load_ddr": "expert_load",
                 "prefetch_ssd": "expert_load", "prefetch_ddr": "expert_load", "prefill": "compute",
                 "decode": "compute", "merge": "compute", "transfer": "network", "allreduce": "network",
                 "compose": "composition"}


def _stats(x: np.ndarray) -> dict[str, float | None]:
    if x.size == 0:
        return {"mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    out: dict[str, float | None] = {"mean": float(x.mean())}
    for q, v in zip(PERCENTILES, np.percentile(x, PERCENTILES)):
        out[f"p{q}"] = float(v)
    out["max"] = float(x.max())
    return out


def request_times(graph: OpGraph, sched: Schedule) -> tuple[np.ndarray, np.ndarray]:
    """(first-token time, completion time) of every request, absolute seconds."""
    n = len(graph.requests)
    first = np.zeros(n)
    end = np.zeros(n)
    np.maximum.at(first, graph.first_req, sched.finish[graph.first_op])
    np.maximum.at(end, graph.end_req, sched.finish[graph.end_op])
    return first, end


def latency_breakdown(graph: OpGraph, sched: Schedule) -> np.ndarray:
    """Seconds of each request's e2e latency per category (rows: requests, columns: BREAKDOWN_CATEGORIES).

    Attribution along the request's critical path, walked back from its completing op (the end op that
    finishes last) to its arrival. An op's ready time is the later of its release and its dependencies'
    finishes; the op covers ``[ready, finish]`` of the path:

    - ``[ready, start]``: waiting for a busy resource (or, for a compute phase, for HBM) -> ``queueing``;
    - ``[start, finish]``: its service, in the category of its kind (KIND_CATEGORY); a compute phase
      (prefill, decode, merge) that holds HBM longer than it computes (memory-bound) splits it into
      ``compute`` for the first ``dur`` seconds and ``memory`` for the rest (its HBM transfer time beyond
      its compute time).

    The walk continues at the dependency that finished last (it set the ready time) and stops where the
    ready time is at or before the request's arrival. A dependency on another request's op (an expert
    load still in flight) is followed too - waiting for it is expert load - and clipped at this request's
    arrival. The segments tile ``[arrival, completion]`` without gaps, so a request's categories sum to
    its e2e latency; a single request on an idle system has no queueing.
    """
    n_req = len(graph.requests)
    rows = [[0.0] * len(BREAKDOWN_CATEGORIES) for _ in range(n_req)]
    col = {c: j for j, c in enumerate(BREAKDOWN_CATEGORIES)}
    kind_col = [col[KIND_CATEGORY[k]] for k in OP_KINDS]
    c_compute, c_memory, c_queue = col["compute"], col["memory"], col["queueing"]
    order = np.argsort(graph.dep_dst, kind="stable")
    preds = graph.dep_src[order].tolist()
    ptr = np.searchsorted(graph.dep_dst[order], np.arange(graph.n_ops + 1)).tolist()
    last = np.lexsort((sched.finish[graph.end_op], graph.end_req))
    is_last = np.r_[graph.end_req[last][1:] != graph.end_req[last][:-1], True]
    end_of = dict(zip(graph.end_req[last][is_last].tolist(), graph.end_op[last][is_last].tolist()))
    start, finish = sched.start.tolist(), sched.finish.tolist()
    release, dur, kind = graph.release.tolist(), graph.dur.tolist(), graph.kind.tolist()
    split = ((graph.res2 >= 0) & (graph.dur2 > graph.dur)).tolist()
    arrival = graph.requests.arrival_s.tolist()
    for r, i in end_of.items():
        t0 = arrival[r]
        row = rows[r]
        while True:
            s, f = start[i], finish[i]
            if split[i]:
                c_end = s + dur[i]
                row[c_compute] += max(0.0, c_end - max(s, t0))
                row[c_memory] += max(0.0, f - max(c_end, t0))
            else:
                row[kind_col[kind[i]]] += max(0.0, f - max(s, t0))
            ready, pred = release[i], -1
            for k in range(ptr[i], ptr[i + 1]):
                j = preds[k]
                if finish[j] > ready:
                    ready, pred = finish[j], j
            row[c_queue] += max(0.0, s - max(ready, t0))
            if pred < 0 or ready <= t0:
                break
            i = pred
    return np.array(rows).reshape(n_req, len(BREAKDOWN_CATEGORIES))


def summarize(graph: OpGraph, sched: Schedule, grid_intensity_gco2_per_kwh: float) -> dict[str, Any]:
    rq = graph.requests
    first, end = request_times(graph, sched)
    arrival = rq.arrival_s
    ttft = first - arrival
    e2e = end - arrival
    out_tok = rq.output_tokens.astype(float)
    multi = out_tok > 1
    tpot = (e2e[multi] - ttft[multi]) / (out_tok[multi] - 1)
    t0 = float(arrival.min())
    t1 = float(max(end.max(), sched.makespan_s))
    span = max(t1 - t0, 1e-30)
    tokens = float(out_tok.sum())
    busy = sched.busy_s
    res = graph.resources
    chip_idx = [i for i, r in enumerate(res) if r.group == "chiplet"]
    chip_util = busy[chip_idx] / span
    util = {"chiplets_mean": float(chip_util.mean()), "chiplets_max": float(chip_util.max()),
            "per_chiplet": [float(u) for u in chip_util]}
    for i, r in enumerate(res):
        if r.group != "chiplet":
            util[r.name] = float(busy[i] / (span * r.servers))
    energy = {k: float(v) for k, v in graph.energy_j.items()}
    total_j = float(sum(energy.values()))
    per_token = total_j / tokens if tokens else math.nan
    rel_err = None
    if graph.has_rel and sched.var is not None:
        var_end = np.zeros(len(rq))
        np.maximum.at(var_end, graph.end_req, sched.var[graph.end_op])
        sd = np.sqrt(var_end)
        r = sd / np.maximum(e2e, 1e-30)
        rel_err = {"e2e_mean": float(r.mean()), "e2e_p95": float(np.percentile(r, 95)), "e2e_max": float(r.max())}
    labels = graph.label_names
    pair = graph.kind * max(1, len(labels)) + graph.label
    uniq, counts = np.unique(pair, return_counts=True)
    sources = []
    fidelity_ops: dict[str, int] = {}
    for p, c in zip(uniq.tolist(), counts.tolist()):
        kind, lab = divmod(p, max(1, len(labels)))
        parts = labels[lab].split("+")
        fids = sorted({x.partition(":")[0] for x in parts})
        sources.append({"op": OP_KINDS[kind], "label": labels[lab], "fidelities": fids, "ops": int(c)})
        for f in fids:
            fidelity_ops[f] = fidelity_ops.get(f, 0) + int(c)
    return {
        "requests": len(rq),
        "prompt_tokens": int(rq.prompt_tokens.sum()),
        "output_tokens": int(tokens),
        "span_s": span,
        "throughput": {"requests_per_s": len(rq) / span, "tokens_per_s": tokens / span},
        "ttft_s": _stats(ttft),
        "tpot_s": _stats(tpot),
        "e2e_latency_s": _stats(e2e),
        "utilization": util,
        "cache": graph.cache,
        "energy": {"total_j": total_j, "per_token_j": per_token, "by_component_j": energy},
        "grid_intensity_gco2_per_kwh": float(grid_intensity_gco2_per_kwh),
        "carbon_g_per_1k_tokens": carbon_g(per_token * 1000, grid_intensity_gco2_per_kwh) if tokens else None,
        "latency_rel_error": rel_err,
        "component_sources": sources,
        "fidelity_ops": dict(sorted(fidelity_ops.items())),
        "ops": {"total": graph.n_ops, **kind_counts(graph)},
        "latency_breakdown_s": dict(zip(BREAKDOWN_CATEGORIES, latency_breakdown(graph, sched).mean(axis=0).tolist())),
        "model": graph.info,
    }


def summary_row(point_id: str, summary: dict[str, Any]) -> dict[str, Any]:
    """One flat row of ``e2e/summary.csv`` (units in the column names)."""
    row: dict[str, Any] = {"point": point_id, "requests": summary["requests"],
                           "output_tokens": summary["output_tokens"]}
    for key in ("ttft_s", "tpot_s", "e2e_latency_s"):
        base = key[:-2]
        for stat, v in summary[key].items():
            row[f"{base}_{stat}_s"] = v
    row["throughput_requests_per_s"] = summary["throughput"]["requests_per_s"]
    row["throughput_tokens_per_s"] = summary["throughput"]["tokens_per_s"]
    u = summary["utilization"]
    row["chiplet_utilization_mean"] = u["chiplets_mean"]
    row["chiplet_utilization_max"] = u["chiplets_max"]
    for k in ("hbm", "ddr", "ssd", "network"):
        row[f"{k}_utilization"] = u.get(k)
    row["cache_hit_rate"] = summary["cache"]["hit_rate"]
    row["energy_per_token_j"] = summary["energy"]["per_token_j"]
    for k, v in summary["energy"]["by_component_j"].items():
        row[f"energy_{k}_j"] = v
    row["carbon_g_per_1k_tokens"] = summary["carbon_g_per_1k_tokens"]
    err = summary["latency_rel_error"]
    row["e2e_latency_rel_error_mean"] = err["e2e_mean"] if err else None
    for k, v in summary["latency_breakdown_s"].items():
        row[f"breakdown_{k}_s"] = v
    return row
