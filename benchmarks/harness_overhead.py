"""Harness overhead on one SCALE-Sim design point: full harness path vs a bare scalesim call.

Harness path = render + run (subprocess) + check + parse + provenance + atomic publish (execute_run).
Bare call = a fresh interpreter calling scalesim's Python API on the same rendered files, with the
same save_disk_space=True setting (the CLI ``python -m scalesim.scale`` always writes ~45 MB of traces
per layer, which would flatter the harness). The two alternate (the first of each pair alternating too), PAIRS times;
prints the median ratio.
Target: <= 1.05.

    .venv/bin/python benchmarks/harness_overhead.py [--pairs 5] [--config config/config.yaml] [--point ID]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eoesim.config import load_study
from eoesim.execute import execute_run
from eoesim.plan import plan_study
from eoesim.simulators.scalesim import CONFIG_FILE, LAYOUT_FILE, TOPOLOGY_FILE

BARE = (
    "from scalesim.scale_sim import scalesim\n"
    "s = scalesim(save_disk_space=True, verbose=True, config={c!r}, topology={t!r}, layout={l!r}, "
    "input_type_gemm=True)\n"
    "s.run_scale(top_path={o!r})\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--point", help="design point id (default: the middle point of the study)")
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    study = load_study(args.config)
    plan = plan_study(study)
    point = study.point(args.point) if args.point else study.points[len(study.points) // 2]
    run_id = plan.point_runs[point.id]["scalesim"]
    params = plan.runs["scalesim"][run_id]
    sim = plan.simulator("scalesim")
    runner, identity = sim.runner(), sim.identity()
    harness, bare = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = tmp / "inputs"
        inputs.mkdir()
        sim.render(params, inputs)
        for i in range(args.pairs):
            def run_harness():
                execute_run(sim, params, run_id, tmp / f"h{i}" / run_id, tmp / f"h{i}" / "logs", runner, 3600,
                            identity)

            def run_bare():
                code = BARE.format(c=str(inputs / CONFIG_FILE), t=str(inputs / TOPOLOGY_FILE),
                                   l=str(inputs / LAYOUT_FILE), o=str(tmp / f"b{i}"))
                subprocess.run([sys.executable, "-c", code], check=True, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            # alternate which side goes first, so warm-up and load drift do not favour one side
            order = [(harness, run_harness), (bare, run_bare)]
            for times, fn in order if i % 2 == 0 else reversed(order):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
    ratios = [h / b for h, b in zip(harness, bare)]
    sys.stdout.write(f"design point {point.id} (scalesim run {run_id}): {dict(point.overrides)}\n")
    sys.stdout.write("pair  harness_s  bare_s  ratio\n")
    for i, (h, b, r) in enumerate(zip(harness, bare, ratios)):
        sys.stdout.write(f"{i:>4}  {h:9.3f}  {b:6.3f}  {r:5.3f}\n")
    sys.stdout.write(f"median ratio harness/bare = {statistics.median(ratios):.3f} (target <= 1.05)\n")


if __name__ == "__main__":
    main()
