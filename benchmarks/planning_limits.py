"""How fast planning rejects what it cannot plan: a 10^10-point sweep and a study of 60,000 experts.

Prints, measured in this run:
- the time ``build_study`` takes to reject tests/bad_inputs/rel_sweep_ten_billion_points.yaml (target
  well under 5 s: the points are counted from the list lengths, never expanded) and the wall and CPU
  time of the whole ``eoesim validate`` command on it (interpreter start and imports included);
- the time to reject N and 10 N experts with one duplicate name, and their ratio: about 10 for checks
  linear in the number of experts (a quadratic check gives about 100).

    .venv/bin/python benchmarks/planning_limits.py [--experts 6000]
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

from eoesim.config import build_study, read_study_file
from eoesim.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
HUGE = REPO / "tests" / "bad_inputs" / "rel_sweep_ten_billion_points.yaml"


def rejection_s(config: dict) -> tuple[float, str]:
    """Seconds until build_study rejects ``config``, and the first line of its message."""
    t0 = time.perf_counter()
    try:
        build_study(config, "benchmark")
    except ConfigError as exc:
        return time.perf_counter() - t0, str(exc).splitlines()[0]
    raise SystemExit("the study was accepted; expected a rejection")


def experts_with_a_duplicate(n: int) -> dict:
    experts = [{"name": f"e{i}", "preset": "tiny-25m"} for i in range(n)]
    experts[-1]["name"] = "e0"
    return {"study": "many_experts", "eoe": {"experts": experts}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experts", type=int, default=6000, help="N (the larger study has 10 N experts)")
    args = parser.parse_args()

    seconds, message = rejection_s(read_study_file(HUGE))
    print(f"10^10-point sweep rejected by build_study in {seconds * 1e3:.1f} ms: {message}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).with_name("eoesim")), "validate", str(HUGE)],
                          capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"`eoesim validate` on it: exit code {proc.returncode} after {wall:.2f} s wall, {cpu:.2f} s CPU "
          "(interpreter start and imports included; wall = CPU on an idle machine)")

    small, _ = rejection_s(experts_with_a_duplicate(args.experts))
    large, message = rejection_s(experts_with_a_duplicate(10 * args.experts))
    print(f"{args.experts} experts with a duplicate rejected in {small:.2f} s, {10 * args.experts} in {large:.2f} s: "
          f"ratio {large / small:.1f} (linear ~10, quadratic ~100): {message[:100]}")


if __name__ == "__main__":
    main()
