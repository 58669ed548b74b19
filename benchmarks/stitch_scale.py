"""Scale of the serving engine: 10^5 (or 10^6) requests, 16 experts, a 4x4 chiplet grid, continuous batching.

Times one design point end to end - request generation and routing, the event-driven serving run, the
summary (and optionally writing timeline.json) - and prints requests simulated per second of wall time,
the ratio of simulated to wall time, per-phase seconds and peak memory (the process's max RSS). Targets:
10^5 requests <= 10 s and <= 2 GiB on 2 cores; 10^6 requests <= 100 s. The component model is
``TableComponentModel.nominal`` (the hardware config's datasheet numbers): this measures the engine, not
any simulator, and the modelled latencies are not results.

    .venv/bin/python benchmarks/stitch_scale.py [--requests 100000] [--rate 40] [--hierarchical] [--timeline]
"""
from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from eoesim.serving.engine import Engine
from eoesim.serving.metrics import summarize
from eoesim.serving.trace import write_chrome_trace
from eoesim.stitch.e2e import grid_intensity
from eoesim.stitch.energy import EnergyModel


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
                     # a stack holds 3 of the 16 experts (37 MiB each) beside KV; 6 in the hierarchical case,
                     # whose 4-expert groups can need 3 experts of one stack at once
                     "memory": {"hbm": {"stacks": 4, "capacity_gib": 0.25 if hierarchical else 0.125},
                                "ddr": {"capacity_gib": 0.5}}},
        "mapping": {"strategy": "one_to_one", "cache_policy": policy, "prefetch": 1},
        "serving": {"scheduler": "continuous"},
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
    args = ap.parse_args()
    params = study(args.requests, args.rate, args.policy, args.hierarchical)
    energy = EnergyModel()
    t0 = time.perf_counter()
    engine = Engine(params, energy=energy)
    t1 = time.perf_counter()
    engine.run()
    t2 = time.perf_counter()
    summary = summarize(engine, grid_intensity(params, energy))
    t3 = time.perf_counter()
    phases = {"setup_s": t1 - t0, "serve_s": t2 - t1, "summary_s": t3 - t2}
    if args.timeline:
        with tempfile.TemporaryDirectory() as tmp:
            write_chrome_trace(Path(tmp) / "timeline.json", engine)
        phases["timeline_s"] = time.perf_counter() - t3
    wall = sum(phases.values())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    steps = engine.rec.steps_array()
    print(json.dumps({
        "requests": args.requests, "rate_per_s": args.rate, "wall_s": round(wall, 3),
        **{k: round(v, 3) for k, v in phases.items()},
        "requests_simulated_per_s": round(args.requests / wall, 1),
        "simulated_s": round(summary["span_s"], 3),
        "simulated_to_wall_ratio": round(summary["span_s"] / wall, 3),
        "events": engine.events_scheduled, "steps": int(steps["k"].size), "iterations": int(steps["k"].sum()),
        "peak_rss_mib": round(peak_mib, 1),
        "targets": {"wall_s": 10.0 if args.requests <= 100_000 else 100.0, "peak_rss_mib": 2048},
        "ttft_p50_s": summary["ttft_s"]["p50"], "tpot_p50_s": summary["tpot_s"]["p50"],
        "mean_batch": summary["batch"]["size"]["mean"], "cache_hit_rate": summary["cache"]["hit_rate"],
    }, indent=1))


if __name__ == "__main__":
    main()
