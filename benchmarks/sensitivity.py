"""Does each simulated component move the end-to-end numbers in the physical direction? One run, ratios printed.

Every case serves one configuration twice - baseline and changed - with every component from its calibrated
surrogate (eoesim.stitch.surrogate_model: what a ``fidelity: surrogate`` study sees), and prints the metric
the change should move, the ratio changed / baseline, whether it moved the expected way, and how much of the
mean request latency the breakdown attributes to the network and to memory in both runs:

- package link bandwidth / 4 and link latency x 4: TPOT and prefill TTFT of a tensor-parallel expert (4
  chiplets per expert: its all-reduces cross the links) and TTFT of cold expert loads (static cache, nothing
  resident: every request copies its expert DDR -> HBM across the links from the DDR's chiplet);
- HBM2 -> HBM3 (one stack of 8 HBM2 channels vs 16 HBM3 channels, as Ramulator models them): TPOT of decode
  when four busy instances share each stack (one alone cannot use a stack's bandwidth: a systolic array
  consumes weights at about 64 per cycle in a GEMV, the fill and drain of every fold);
- SSD TLC -> SLC (MQSim): TTFT of cold starts read from the SSD (DDR too small to hold an expert);
- chiplet array 32x32 -> 128x128 (SCALE-Sim): TTFT of compute-bound prefills.

    .venv/bin/python benchmarks/sensitivity.py [--requests 300] [--figure results/benchmarks/sensitivity]
"""
from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import pandas as pd

from eoesim.config import build_study, set_path
from eoesim.figures.style import new_figure, save_figure, series_style
from eoesim.stitch.e2e import stitch_point
from eoesim.stitch.surrogate_model import surrogate_model


def base_study(requests: int) -> dict:
    return {
        "study": "sensitivity", "seed": 1,
        "fidelity": {s: "surrogate" for s in ("scalesim", "garnet", "ramulator", "mqsim", "rapidchiplet")},
        "eoe": {"experts": [{"name": n, "preset": "tiny-25m"} for n in ("a", "b", "c", "d")],
                "morphology": {"kind": "tree"}, "router": {"kind": "topk", "k": 1},
                "requests": {"arrival": "poisson", "rate_per_s": 200, "count": requests,
                             "prompt_tokens": {"dist": "fixed", "value": 512},
                             "output_tokens": {"dist": "fixed", "value": 32}}},
        "hardware": {"chiplet": {"array": [64, 64]}, "package": {"grid": [4, 4]},
                     "memory": {"hbm": {"stacks": 4, "capacity_gib": 1.0}}},
        "workload": {"mqsim": {"ssd": {"flash": {"technology": "TLC"}}}},
        "mapping": {"strategy": "one_to_one"},
    }


#: (case, metric, expected direction of changed / baseline, baseline overrides, changed overrides)
CASES = (
    ("link bw /4, latency x4: tensor-parallel TPOT", "tpot_s/mean", "up",
     {"mapping.strategy": "one_to_many", "mapping.chiplets_per_expert": 4},
     {"hardware.package.link_bandwidth_gb_per_s": 32.0, "hardware.package.link_latency_cycles": 8}),
    ("link bw /4, latency x4: tensor-parallel prefill TTFT", "ttft_s/p50", "up",
     {"mapping.strategy": "one_to_many", "mapping.chiplets_per_expert": 4},
     {"hardware.package.link_bandwidth_gb_per_s": 32.0, "hardware.package.link_latency_cycles": 8}),
    ("link bw /4, latency x4: cold expert-load TTFT", "ttft_s/mean", "up",
     {"mapping.cache_policy": "static", "mapping.hot_set": [], "hardware.memory.ddr.attach_chiplet": 15},
     {"hardware.package.link_bandwidth_gb_per_s": 32.0, "hardware.package.link_latency_cycles": 8}),
    ("HBM2 (8 ch) -> HBM3 (16 ch): decode TPOT, 4 instances per stack", "tpot_s/mean", "down",
     {"eoe.requests.output_tokens": {"dist": "fixed", "value": 256}, "eoe.requests.prompt_tokens":
      {"dist": "fixed", "value": 32}, "eoe.requests.rate_per_s": 4000, "mapping.strategy": "replicate",
      "hardware.chiplet.array": [128, 128]},
     {"workload.ramulator.standard": "HBM3", "workload.ramulator.channels": 16}),
    ("SSD TLC -> SLC: cold-start TTFT", "ttft_s/mean", "down",
     {"mapping.cache_policy": "static", "mapping.hot_set": [], "hardware.memory.ddr.capacity_gib": 0.01},
     {"workload.mqsim.ssd.flash.technology": "SLC"}),
    ("chiplet array 32x32 -> 128x128: prefill TTFT", "ttft_s/p50", "down",
     {"hardware.chiplet.array": [32, 32]}, {"hardware.chiplet.array": [128, 128]}),
)


def serve(study: dict) -> dict:
    params = build_study(study, "sensitivity").points[0].params
    return stitch_point(params, surrogate_model(params)).summary


def value(summary: dict, path: str) -> float:
    node = summary
    for key in path.split("/"):
        node = node[key]
    return float(node)


def shares(summary: dict) -> tuple[float, float]:
    b = summary["latency_breakdown_s"]
    total = sum(b.values()) or 1.0
    return b["network"] / total, b["memory"] / total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--figure", default="results/benchmarks/sensitivity", help="figure stem (pdf, png, csv)")
    args = ap.parse_args()
    rows = []
    for case, metric, expect, base_over, change_over in CASES:
        base = base_study(args.requests)
        for k, v in base_over.items():
            set_path(base, k, v)
        changed = copy.deepcopy(base)
        for k, v in change_over.items():
            set_path(changed, k, v)
        b, c = serve(base), serve(changed)
        vb, vc = value(b, metric), value(c, metric)
        ratio = vc / vb if vb else float("nan")
        ok = ratio > 1.0 if expect == "up" else ratio < 1.0
        nb, mb = shares(b)
        nc, mc = shares(c)
        rows.append({"case": case, "metric": metric, "baseline": vb, "changed": vc, "ratio": ratio,
                     "expected": expect, "physical": bool(ok), "network_share_baseline": nb,
                     "network_share_changed": nc, "memory_share_baseline": mb, "memory_share_changed": mc})
        print(json.dumps(rows[-1]))
    frame = pd.DataFrame(rows)
    print(frame[["case", "ratio", "expected", "physical", "network_share_baseline", "memory_share_baseline"]]
          .to_string(index=False))
    stem = Path(args.figure)
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = new_figure("single", height_in=2.6)
    for i, r in frame.iterrows():
        ax.barh(i, r["ratio"], **{k: v for k, v in series_style(0 if r["physical"] else 1).items()
                                  if k == "color"})
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(frame)))
    ax.set_yticklabels([c.split(":")[0] for c in frame["case"]], fontsize=6)
    ax.set_xscale("log")
    ax.set_xlabel("changed / baseline")
    save_figure(fig, frame, stem)


if __name__ == "__main__":
    main()
