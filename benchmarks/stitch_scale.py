"""Scale of the EoE stitcher: 10^5 requests, 16 experts, a 4x4 chiplet grid.

Times the whole stitch of one design point - request generation, routing, lowering to ops, the
discrete-event schedule and the summary (what ``eoesim.stitch.e2e.stitch_point`` does) - and prints
requests/s of stitching, total and per-phase seconds, and peak memory (the process's max RSS;
``--tracemalloc`` adds the Python-allocation peak in a slowed run). Targets: <= 10 s on 2 cores,
<= 2 GiB. The component model is ``TableComponentModel.nominal`` (the hardware config's datasheet
numbers): this measures the stitcher, not any simulator, and the modelled latencies are not results.

    .venv/bin/python benchmarks/stitch_scale.py [--requests 100000] [--rate 40] [--hierarchical] [--timeline]
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from eoesim.stitch.e2e import grid_intensity
from eoesim.stitch.energy import EnergyModel
from eoesim.stitch.lowering import gc_paused, lower
from eoesim.stitch.scheduler import schedule
from eoesim.stitch.summary import summarize
from eoesim.stitch.timeline import write_chrome_trace


def study(n_requests: int, rate: float, policy: str, hierarchical: bool = False) -> dict:
    experts = [f"e{i:02d}" for i in range(16)]
    tree = ({"root": ["t0", "t1", "t2", "t3"], **{f"t{j}": experts[4 * j:4 * j + 4] for j in range(4)}}
            if hierarchical else {"root": experts})
    return {
        "seed": 1,
        "eoe": {
            "experts": [{"name": e, "preset": "tiny-25m"} for e in experts],
            "morphology": {"kind": "tree", "tree": tree},
            "router": {"kind": "topk", "k": 2},
            "composition": {"kind": "representation_average"},
            "requests": {"arrival": "poisson", "rate_per_s": rate, "count": n_requests, "zipf_skew": 1.1,
                         "prompt_tokens": {"dist": "lognormal", "median": 256, "sigma": 0.6, "min": 8, "max": 2048},
                         "output_tokens": {"dist": "lognormal", "median": 64, "sigma": 0.6, "min": 1, "max": 512}},
        },
        "hardware": {"package": {"grid": [4, 4]},
                     "memory": {"hbm": {"capacity_gib": 0.25}, "ddr": {"capacity_gib": 0.5}}},
        "mapping": {"strategy": "one_to_one", "cache_policy": policy, "prefetch": 1},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=40.0, help="Poisson arrival rate, requests/s")
    ap.add_argument("--policy", default="lru", choices=["static", "lru", "lfu"])
    ap.add_argument("--hierarchical", action="store_true",
                    help="a type -> subtype tree (4 x 4) instead of one router over 16 experts; top-2 at both "
                         "levels, so 4 experts per request")
    ap.add_argument("--timeline", action="store_true", help="also time writing timeline.json (capped)")
    ap.add_argument("--tracemalloc", action="store_true",
                    help="also report tracemalloc's peak (slows the stitch about tenfold; times are then not valid)")
    args = ap.parse_args()
    params = study(args.requests, args.rate, args.policy, args.hierarchical)
    if args.tracemalloc:
        tracemalloc.start()
    energy = EnergyModel()
    t0 = time.perf_counter()
    graph = lower(params, energy=energy)
    t1 = time.perf_counter()
    with gc_paused():
        sched = schedule(graph.res, graph.dur, graph.release, graph.dep_src, graph.dep_dst,
                         [r.servers for r in graph.resources], graph.rel if graph.has_rel else None,
                         graph.res2, graph.dur2, graph.rel2)
    t2 = time.perf_counter()
    s = summarize(graph, sched, grid_intensity(params, energy))
    t3 = time.perf_counter()
    peak = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {
        "requests": s["requests"], "experts": 16, "chiplets": 16, "hierarchical": args.hierarchical,
        "ops": s["ops"]["total"],
        "stitch_s": round(t3 - t0, 3), "lower_s": round(t1 - t0, 3), "schedule_s": round(t2 - t1, 3),
        "summary_s": round(t3 - t2, 3), "requests_per_s": round(s["requests"] / (t3 - t0), 1),
        "cpu_s": round(time.process_time(), 3),
        "max_rss_mib": round(rss_kib / 1024, 1),
        "tracemalloc_peak_mib": round(peak / 2**20, 1) if peak is not None else None,
        "model_e2e_p50_s": s["e2e_latency_s"]["p50"], "model_cache_hit_rate": s["cache"]["hit_rate"],
    }
    if args.timeline:
        with tempfile.TemporaryDirectory() as tmp:
            t4 = time.perf_counter()
            path = write_chrome_trace(Path(tmp) / "timeline.json", graph, sched)
            out["timeline_s"] = round(time.perf_counter() - t4, 3)
            out["timeline_mib"] = round(path.stat().st_size / 2**20, 1)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
