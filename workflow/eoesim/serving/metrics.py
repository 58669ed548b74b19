"""The summary of a serving run (the content of ``summary.json``).

Seconds unless a key says otherwise; distributions as ``{mean, p50, p90, p95, p99, max}``:

- ``ttft_s`` arrival -> first output token of the answering stage; ``e2e_latency_s`` arrival -> last token;
  ``tpot_s`` ``(e2e - ttft) / (output_tokens - 1)`` over requests with more than one output token;
  ``itl_s`` the gaps between consecutive tokens of every sequence; ``queueing_s`` the time a request's
  sequences waited to be admitted (summed over its sequences);
- ``throughput``: requests and output tokens per second over first arrival -> last completion;
  ``goodput``: the share of requests meeting ``serving.slo`` (TTFT and TPOT) and those per second;
- ``batch``: iterations, their sequences and tokens (duration-weighted distribution over busy time), per
  instance; ``kv``: KV-cache bytes in use per stack (time-weighted mean, peak, share of the stack);
  ``preemptions`` per expert; ``utilization``: busy share of every chiplet (steps it ran, routing), of
  every device (bytes moved / (capacity x span)), mean of the HBM stacks and of the links;
- ``energy``: joules by component - dynamic (``compute`` MACs, ``sram``, ``hbm``/``ddr`` bytes,
  ``ssd`` bytes read, ``network`` bytes x links) and static (``static_chiplets``, ``static_hbm``,
  ``static_ddr``, ``static_ssd``: power x span) - total, per output token; ``carbon``: operational (energy
  x grid intensity) and embodied (ACT, amortized over the lifetime) grams, per 1k output tokens;
- ``cache``: demand ``accesses`` (a sequence needing its expert on a stack) and ``hbm_hits``, ``hit_rate``;
  ``ssd_loads`` (SSD reads), ``hbm_loads`` (copies into HBM, merges included), ``ddr_hits`` (demand copies
  into HBM that read no SSD), ``prefetch_loads`` (copies into HBM a prefetch issued), ``evictions``;
- ``latency_breakdown_s``: where the mean request's latency goes (routing, expert_load, compute,
  memory, network, composition, queueing); parts of a composition group count 1/k each and what is not
  attributed is waiting (queueing), so the categories sum to the mean e2e latency;
- ``component_sources``: counts of operations (iterations, loads, routing, merges) per provenance label
  (the ``fidelity:source`` of every component answer used); ``fidelity_ops`` per fidelity.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from eoesim.serving.power import embodied_g, lifetime_s, static_power
from eoesim.stitch.energy import COMPONENTS, carbon_g

PERCENTILES = (50, 90, 95, 99)
BREAKDOWN_CATEGORIES = ("routing", "expert_load", "compute", "memory", "network", "composition", "queueing")
STATIC_COMPONENTS = ("static_chiplets", "static_hbm", "static_ddr", "static_ssd")


def stats(x: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float | None]:
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return {"mean": None, **{f"p{q}": None for q in PERCENTILES}, "max": None}
    if weights is None:
        out: dict[str, float | None] = {"mean": float(x.mean())}
        for q, v in zip(PERCENTILES, np.percentile(x, PERCENTILES)):
            out[f"p{q}"] = float(v)
        out["max"] = float(x.max())
        return out
    order = np.argsort(x)
    xs, ws = x[order], np.asarray(weights, dtype=float)[order]
    cum = np.cumsum(ws)
    total = cum[-1]
    out = {"mean": float((xs * ws).sum() / total)}
    for q in PERCENTILES:
        out[f"p{q}"] = float(xs[min(np.searchsorted(cum, q / 100 * total), xs.size - 1)])
    out["max"] = float(xs[-1])
    return out


def summarize(engine, grid_intensity: float) -> dict[str, Any]:
    rec = engine.rec
    rq = engine.requests
    arrival = rq.arrival_s
    done, first = rec.done, rec.first
    unfinished = int(np.isnan(done).sum())
    ttft = first - arrival
    e2e = done - arrival
    out_tok = rq.output_tokens.astype(float)
    multi = out_tok > 1
    tpot = (e2e[multi] - ttft[multi]) / (out_tok[multi] - 1)
    t0 = float(arrival.min())
    t1 = float(np.nanmax(done)) if unfinished < len(rq) else t0
    span = max(t1 - t0, 1e-30)
    tokens = float(out_tok.sum())
    slo = engine.cfg["slo"]
    ok = np.ones(len(rq), dtype=bool)
    if slo["ttft_s"] is not None:
        ok &= ttft <= slo["ttft_s"]
    if slo["tpot_s"] is not None:
        ok &= np.where(multi, (e2e - ttft) / np.maximum(out_tok - 1, 1) <= slo["tpot_s"], True)
    energy, static_w = energy_breakdown(engine, span)
    total_j = float(sum(energy.values()))
    per_token = total_j / tokens if tokens else math.nan
    carbon = carbon_summary(engine, total_j, span, tokens, grid_intensity)
    steps = rec.steps_array()
    summary = {
        "requests": len(rq),
        "unfinished_requests": unfinished,
        "prompt_tokens": int(rq.prompt_tokens.sum()),
        "output_tokens": int(tokens),
        "span_s": span,
        "throughput": {"requests_per_s": len(rq) / span, "tokens_per_s": tokens / span},
        "ttft_s": stats(ttft),
        "tpot_s": stats(tpot),
        "e2e_latency_s": stats(e2e),
        "itl_s": stats(np.array(rec.itl_gap), np.array(rec.itl_count, dtype=float)),
        "queueing_s": stats(rec.queue_s),
        "goodput": {"slo": dict(slo), "fraction": float(ok.mean()), "requests_per_s": float(ok.sum()) / span},
        "batch": batch_summary(engine, steps),
        "kv": kv_summary(engine, t0, t1),
        "preemptions": {"total": int(sum(rec.preemptions.values())), "mode": engine.cfg["preemption"],
                        "per_expert": dict(sorted(rec.preemptions.items())),
                        "by_mode": dict(rec.preemptions_by_mode), "kv_moved_bytes": rec.kv_moved_bytes,
                        "swap_out_bytes": rec.kv_swap_bytes["out"], "swap_in_bytes": rec.kv_swap_bytes["in"]},
        "utilization": utilization(engine, span),
        "cache": cache_summary(engine),
        "energy": {"total_j": total_j, "per_token_j": per_token,
                   "dynamic_j": float(sum(energy[c] for c in COMPONENTS)),
                   "static_j": float(sum(energy[c] for c in STATIC_COMPONENTS)),
                   "static_power_w": static_w, "by_component_j": energy},
        "grid_intensity_gco2_per_kwh": float(grid_intensity),
        "carbon": carbon,
        "carbon_g_per_1k_tokens": carbon["total_g_per_1k_tokens"],
        "latency_rel_error": rel_error(rec, e2e),
        **sources(rec),
        "ops": {"iterations": int(steps["k"].sum()), "steps": int(steps["k"].size),
                "loads": len(rec.loads), "compositions": rec.compositions},
        "latency_breakdown_s": breakdown(engine, e2e),
        "model": engine_info(engine),
    }
    return summary


def energy_breakdown(engine, span: float) -> tuple[dict[str, float], dict[str, float]]:
    rec, em, pk, fl = engine.rec, engine.energy, engine.package, engine.fluid
    moved = fl.bytes_moved
    hbm_bytes = sum(moved[s] for s in range(pk.n_stacks))
    link_bytes = sum(moved[d] for d in pk.link_devices())
    energy = {"compute": rec.mac_j, "sram": rec.sram_j, "hbm": em.memory_j(hbm_bytes, "hbm"),
              "ddr": em.memory_j(moved[pk.DDR], "ddr"), "ssd": em.ssd_j(moved[pk.SSD]),
              "network": link_bytes * em.link_j_per_byte_hop}
    sp = static_power(engine.params, engine.hw, pk.n_stacks, len(engine.chiplets_used), em, engine.power)
    watts = sp.watts()
    for k, w in watts.items():
        energy[k] = w * span
    return {k: float(v) for k, v in energy.items()}, {**watts, "per_chiplet_w": sp.chiplet_w,
                                                     "powered_chiplets": sp.powered_chiplets}


def carbon_summary(engine, total_j: float, span: float, tokens: float, grid: float) -> dict[str, Any]:
    emb = embodied_g(engine.params, engine.hw, engine.package.n_stacks, engine.energy, engine.power)
    life = lifetime_s(engine.energy, engine.power)
    amortized = sum(emb.values()) * span / life
    operational = carbon_g(total_j, grid)

    def per_1k(grams):
        return grams / tokens * 1000 if tokens else None

    return {"operational_g": operational, "embodied_total_g": emb, "lifetime_s": life,
            "embodied_amortized_g": amortized, "operational_g_per_1k_tokens": per_1k(operational),
            "embodied_g_per_1k_tokens": per_1k(amortized), "total_g_per_1k_tokens": per_1k(operational + amortized)}


def batch_summary(engine, steps: dict[str, np.ndarray]) -> dict[str, Any]:
    dur = steps["t1"] - steps["t0"]
    if dur.size == 0:
        return {"iterations": 0}
    per_iter = dur / np.maximum(steps["k"], 1)
    sizes = steps["seqs"].astype(float)
    t0, t1 = float(steps["t0"].min()), float(steps["t1"].max())
    order = np.argsort(steps["t0"], kind="stable")
    out = {"iterations": int(steps["k"].sum()),
           "size": stats(sizes, dur),
           "size_over_time": busy_weighted_bins(steps["t0"][order], steps["t1"][order], sizes[order], t0, t1),
           "tokens": stats(steps["tokens"] / np.where(steps["prefill"] > 0, 1, 1), dur),
           "iteration_s": stats(per_iter, steps["k"].astype(float)),
           "per_instance": {}}
    for inst in engine.instances:
        sel = steps["inst"] == inst.iid
        if sel.any():
            out["per_instance"][str(inst.iid)] = {
                "chiplets": list(inst.chips), "models": sorted(inst.models), "role": inst.role,
                "iterations": int(steps["k"][sel].sum()), "busy_s": float(dur[sel].sum()),
                "mean_batch_size": float((sizes[sel] * dur[sel]).sum() / dur[sel].sum()) if dur[sel].sum() else 0.0}
    return out


def busy_weighted_bins(a: np.ndarray, b: np.ndarray, value: np.ndarray, t0: float, t1: float) -> dict[str, list]:
    """Mean ``value`` of the steps running in each of ``OVER_TIME_BINS`` bins, weighted by their time there
    (all instances together: the package's mean batch size over time)."""
    edges = np.linspace(t0, t1, OVER_TIME_BINS + 1)
    num = np.zeros(OVER_TIME_BINS)
    den = np.zeros(OVER_TIME_BINS)
    for k in range(OVER_TIME_BINS):
        lo, hi = edges[k], edges[k + 1]
        overlap = np.clip(np.minimum(b, hi) - np.maximum(a, lo), 0.0, None)
        num[k] = (overlap * value).sum()
        den[k] = overlap.sum()
    return {"bin_start_s": edges[:-1].tolist(), "mean": np.where(den > 0, num / np.maximum(den, 1e-300), 0.0).tolist()}


def kv_summary(engine, t0: float, t1: float) -> dict[str, Any]:
    """KV in use per stack: blocks of the iterations begun (not those a multi-iteration step allocated ahead for
    its later iterations), from the recorded changes."""
    rec = engine.rec
    out = {}
    for s, mem in enumerate(engine.stacks):
        times = np.array(rec.kv_t[s], dtype=float)
        order = np.argsort(times, kind="stable")
        times = times[order]
        delta = np.array(rec.kv_delta[s], dtype=float)[order]
        experts = np.array(rec.kv_expert[s], dtype=object)[order]
        level = np.maximum(np.cumsum(delta), 0.0)
        t = np.clip(np.concatenate([[0.0], times, [t1]]), t0, t1)
        u = np.concatenate([[0.0], level])
        mean = float((u * np.diff(t)).sum() / max(t1 - t0, 1e-30))
        peak = float(level.max()) if level.size else 0.0
        per_expert = {e: float(np.cumsum(delta[experts == e]).max()) for e in sorted(set(experts.tolist()))}
        out[f"hbm{s}"] = {"mean_bytes": mean, "peak_bytes": peak, "capacity_bytes": mem.capacity,
                          "peak_share": peak / mem.capacity if mem.capacity else None,
                          "peak_bytes_per_expert": per_expert, "over_time": binned_level(t, u, t0, t1)}
    return out


OVER_TIME_BINS = 60


def binned_level(t: np.ndarray, level: np.ndarray, t0: float, t1: float) -> dict[str, list[float]]:
    """A step function (``level[i]`` from ``t[i]`` to ``t[i+1]``) averaged over ``OVER_TIME_BINS`` equal bins."""
    edges = np.linspace(t0, t1, OVER_TIME_BINS + 1)
    if t1 <= t0 or level.size == 0:
        return {"bin_start_s": edges[:-1].tolist(), "mean": [0.0] * OVER_TIME_BINS}
    area = np.concatenate([[0.0], np.cumsum(level * np.diff(t))])  # integral up to each change point
    at = np.interp(edges, t, area)
    return {"bin_start_s": edges[:-1].tolist(), "mean": (np.diff(at) / np.diff(edges)).tolist()}


def utilization(engine, span: float) -> dict[str, Any]:
    rec, pk, fl = engine.rec, engine.package, engine.fluid
    n = engine.hw.n_chiplets
    chip = np.array([rec.chiplet_busy_s.get(c, 0.0) for c in range(n)]) / span
    out: dict[str, Any] = {"chiplets_mean": float(chip.mean()), "chiplets_max": float(chip.max()),
                           "per_chiplet": chip.tolist(),
                           "chiplets_used": len(engine.chiplets_used)}
    dev = [fl.bytes_moved[d] / (fl.capacity[d] * span) if fl.capacity[d] > 0 else 0.0 for d in range(len(fl.capacity))]
    out["hbm"] = float(np.mean([dev[s] for s in range(pk.n_stacks)]))
    out["hbm_per_stack"] = [float(dev[s]) for s in range(pk.n_stacks)]
    out["ddr"] = float(dev[pk.DDR])
    out["ssd"] = float(dev[pk.SSD])
    links = [dev[d] for d in pk.link_devices()]
    out["network"] = float(np.mean(links)) if links else 0.0
    out["network_max_link"] = float(np.max(links)) if links else 0.0
    return out


def cache_summary(engine) -> dict[str, Any]:
    c = dict(engine.rec.cache)
    c["policy"] = engine.policy
    c["hit_rate"] = c["hbm_hits"] / c["accesses"] if c["accesses"] else float("nan")
    c["ssd_loads"] = sum(1 for x in engine.rec.loads if x[0] == "ssd")
    c["hbm_loads"] = sum(1 for x in engine.rec.loads if x[0] == "hbm")
    loads = engine.rec.expert_loads  # the figure cache_sensitivity plots these two
    c["ddr_hits"] = sum(1 for x in loads if not x["prefetch"] and x["copy_start_s"] is not None
                        and x["ssd_start_s"] is None)
    c["prefetch_loads"] = sum(1 for x in loads if x["prefetch"])
    c["evictions"] = sum(m.evictions for m in engine.stacks)
    return c


def rel_error(rec, e2e: np.ndarray) -> dict[str, float] | None:
    if not rec.rel_s.any():
        return None
    r = rec.rel_s / np.maximum(e2e, 1e-30)
    r = r[np.isfinite(r)]
    return {"e2e_mean": float(r.mean()), "e2e_p95": float(np.percentile(r, 95)), "e2e_max": float(r.max())}


def sources(rec) -> dict[str, Any]:
    rows, fid = [], {}
    for (kind, labels), count in sorted(rec.labels.items(), key=lambda kv: (kv[0][0], sorted(kv[0][1]))):
        names = sorted(labels)
        fids = sorted({x.partition(":")[0] for x in names})
        rows.append({"op": kind, "label": "+".join(names), "fidelities": fids, "ops": int(count)})
        for f in fids:
            fid[f] = fid.get(f, 0) + int(count)
    return {"component_sources": rows, "fidelity_ops": dict(sorted(fid.items()))}


def breakdown(engine, e2e: np.ndarray) -> dict[str, float]:
    acc = engine.rec_breakdown  # (n_requests, categories) seconds attributed
    ok = np.isfinite(e2e)
    if not ok.any():
        return dict.fromkeys(BREAKDOWN_CATEGORIES, 0.0)
    rows = acc[ok].copy()
    lat = e2e[ok]
    q = BREAKDOWN_CATEGORIES.index("queueing")
    attributed = rows.sum(axis=1)
    over = attributed > lat
    rows[over] *= (lat[over] / np.maximum(attributed[over], 1e-30))[:, None]
    rows[:, q] += np.maximum(lat - rows.sum(axis=1), 0.0)
    return dict(zip(BREAKDOWN_CATEGORIES, rows.mean(axis=0).tolist()))


def engine_info(engine) -> dict[str, Any]:
    return {"morphology": engine.morph.dag(), "composition": engine.composition, "router": engine.router_model.kind,
            "mapping": {e: [list(i.chips) for i in insts] for e, insts in engine.replicas.items()},
            "mapping_strategy": engine.mapping.strategy, "router_chiplet": engine.router_chiplet,
            "instances": len(engine.instances), "hbm_stacks": engine.package.n_stacks,
            "stack_regions": [list(r) for r in engine.package.regions],
            "expert_param_bytes": dict(engine.sizes), "expert_popularity": dict(engine.popularity),
            "serving": {k: v for k, v in engine.cfg.items()}, "prefetch": engine.prefetch_n,
            "distinct_gemms": len(engine.pricer.gemms_queried()),
            "devices": {d.name: {"capacity_bytes_per_s": d.curve.capacity_bytes_per_s, "source": d.curve.label}
                        for d in engine.package.devices if d.kind != "link"},
            "link": {"capacity_bytes_per_s": engine.curves[engine.package.link_devices()[0]].capacity_bytes_per_s
                     if engine.package.link_devices() else None,
                     "source": engine.curves[engine.package.link_devices()[0]].label
                     if engine.package.link_devices() else None}}
