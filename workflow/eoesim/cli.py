"""The ``eoesim`` command: validate a study, check which simulators are available, run one point."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from eoesim import __version__
from eoesim.config import load_study
from eoesim.contracts import check_image
from eoesim.errors import EoesimError
from eoesim.jobs import run_simulation, write_csv_atomic
from eoesim.layout import ResultPaths
from eoesim.plan import plan_study
from eoesim.preflight import preflight_file
from eoesim.saturation import search_saturation
from eoesim.simulators.base import get_simulator, registry
from eoesim.simulators.garnet_sweep import rate_grid
from eoesim.site import load_site_config, site_config_path
from eoesim.why import explain_run_dir, explain_study

log = logging.getLogger("eoesim")


def cmd_validate(args: argparse.Namespace) -> int:
    """Every check `snakemake -n` makes at DAG-build time (eoesim.preflight), and what it resolved."""
    checked = preflight_file(args.config, load_site_config(args.site))
    study, plan = checked.study, checked.plan
    runs = sum(len(r) for r in plan.runs.values())
    sys.stdout.write(
        f"{args.config}: valid study {study.name!r}: {len(study.points)} design point(s), {runs} simulator run(s)\n"
    )
    for choice in plan.fidelity.values():
        sys.stdout.write(f"  {choice.simulator}: {choice.requested} -> {choice.chosen} ({choice.reason})\n")
    for figure, why in checked.left_out.items():
        sys.stdout.write(f"  figure {figure} left out: {why}\n")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    site = load_site_config(args.site)
    if not args.json:
        sys.stdout.write(f"eoesim {__version__}; site config: {args.site or site_config_path()}\n")
    rows = []
    for name in sorted(registry()):
        avail = get_simulator(name, site.get(name, {})).availability()
        row = {"simulator": name, "available": avail.available, "mode": avail.mode,
               "version": avail.version, "detail": avail.detail}
        if avail.mode == "docker" and avail.available:
            checks = check_image(name, site[name])
            row["contract"] = [{"command": list(c.command), "ok": c.ok, "detail": c.detail} for c in checks]
            row["available"] = all(c.ok for c in checks)
        rows.append(row)
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        for r in rows:
            state = "available" if r["available"] else "NOT available"
            sys.stdout.write(f"{r['simulator']:<14} {state:<14} mode={r['mode']:<8} version={r['version']}"
                             f"{'  (' + r['detail'] + ')' if r['detail'] else ''}\n")
            for check in r.get("contract", []):
                mark = "ok  " if check["ok"] else "FAIL"
                sys.stdout.write(f"    image contract {mark} {' '.join(check['command'])}: {check['detail']}\n")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the simulated runs of one design point (or all points) outside Snakemake (surrogates: the workflow)."""
    study = load_study(args.config)
    plan = plan_study(study, load_site_config(args.site))
    paths = ResultPaths(Path(args.results), study.name)
    point_ids = [args.point] if args.point else [p.id for p in study.points]
    for pid in point_ids:
        study.point(pid)
        for sim, run_id in plan.point_runs[pid].items():
            if plan.fidelity[sim].chosen != "simulate":
                continue
            rows = run_simulation(sim, plan.runs[sim][run_id], plan.site.get(sim, {}), run_id,
                                  paths.run_dir(sim, run_id), paths.logs_dir(sim, run_id), paths.cache)
            sys.stdout.write(f"{sim} {run_id}: {len(rows)} rows -> {paths.run_dir(sim, run_id)}\n")
    return 0


def cmd_why(args: argparse.Namespace) -> int:
    site = load_site_config(args.site)
    target = Path(args.path)
    if target.is_file():
        lines = explain_study(target, Path(args.results), site)
    else:
        lines = explain_run_dir(target, site)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def cmd_saturation(args: argparse.Namespace) -> int:
    study = load_study(args.config)
    plan = plan_study(study, load_site_config(args.site))
    pid = args.point or study.points[0].id
    study.point(pid)
    paths = ResultPaths(Path(args.results), study.name)
    search = search_saturation(plan, pid, rate_grid(args.start, args.stop, args.step), args.factor, paths)
    out = paths.base / "saturation" / f"garnet_{pid}.csv"
    write_csv_atomic(search.evaluations, out)
    res = search.result
    sys.stdout.write(search.evaluations.to_string(index=False) + "\n")
    sys.stdout.write(
        f"design point {pid} ({search.fidelity}): zero-load latency {res.zero_load_latency:.3f} cycles, "
        f"threshold {res.threshold_latency:.3f}; saturation rate {res.saturation_rate} "
        f"(last unsaturated {res.last_unsaturated_rate}) pkts/node/cycle; evaluations -> {out}\n"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eoesim", description=__doc__)
    parser.add_argument("--version", action="version", version=f"eoesim {__version__}")
    parser.add_argument("--site", help="site config file (default: $EOESIM_SIMULATORS or config/simulators.yaml)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="validate a study config and list its design points")
    p.add_argument("config")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("doctor", help="list each simulator, whether it is available, mode and version")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_doctor)
    p = sub.add_parser("run", help="run one design point's simulators without Snakemake")
    p.add_argument("config")
    p.add_argument("--point", help="design point id (default: every point)")
    p.add_argument("--results", default="results")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("why", help="explain why a run (dir) or every run of a study (config) re-runs or is reused")
    p.add_argument("path", help="a run directory results/<study>/runs/<sim>/<id>, or a study config file")
    p.add_argument("--results", default="results", help="results root (for a study config)")
    p.set_defaults(func=cmd_why)
    p = sub.add_parser("saturation", help="bisect a Garnet design point's injection rate for saturation")
    p.add_argument("config")
    p.add_argument("--point", help="design point id (default: the first point)")
    p.add_argument("--start", type=float, default=0.02)
    p.add_argument("--stop", type=float, default=0.9)
    p.add_argument("--step", type=float, default=0.02)
    p.add_argument("--factor", type=float, default=3.0, help="saturated: latency > factor x zero-load latency")
    p.add_argument("--results", default="results")
    p.set_defaults(func=cmd_saturation)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        return args.func(args)
    except EoesimError as exc:
        sys.stderr.write(f"eoesim: error: {exc}\n")
        return 2
    except OSError as exc:  # a file or directory the user named cannot be read or written
        sys.stderr.write(f"eoesim: error: {exc.filename or ''}: {exc.strerror or exc}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
