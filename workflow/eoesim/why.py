"""``eoesim why``: will a run be reused or re-executed, and which input or version made the difference.

For a run directory: re-render its recorded parameters with today's templates and adapter, take the
simulator's current identity, and compare with the key fields recorded in its run.json. For a study:
do that for every planned run, and for runs the study has not made yet, say whether the shared cache
already holds a run with the same content key. (Snakemake's own rerun triggers — changed params,
code or input mtimes — still apply on top; ``snakemake -n -r`` lists those.)
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Mapping

from eoesim.config import load_study
from eoesim.errors import ConfigError, SimulatorUnavailableError
from eoesim.execute import RUN_JSON
from eoesim.layout import ResultPaths
from eoesim.plan import plan_study
from eoesim.provenance import input_hashes
from eoesim.reuse import RunCache, explain_difference, recorded_key, run_key
from eoesim.simulators.base import Simulator, get_simulator


def current_key(sim: Simulator, params: Mapping[str, Any]) -> tuple[str, dict, dict]:
    """(key, content identity, input hashes) of ``params`` rendered now."""
    try:
        identity = sim.content_identity(sim.identity())
    except SimulatorUnavailableError as exc:
        raise ConfigError(f"{sim.name}: cannot tell what would run here: {exc}") from None
    with tempfile.TemporaryDirectory() as tmp:
        rundir = Path(tmp)
        hashes = input_hashes(rundir, sim.render(params, rundir))
    return run_key(sim.name, sim.adapter_version, identity, hashes), identity, hashes


def explain_run_dir(run_dir: Path, site: Mapping[str, Any]) -> list[str]:
    """Why the run in ``run_dir`` would be reused or re-executed."""
    run_json = Path(run_dir) / RUN_JSON
    if not run_json.is_file():
        raise ConfigError(f"{run_dir}: no {RUN_JSON} here; give a finished run directory "
                          "(results/<study>/runs/<simulator>/<run id>) or a study config")
    recorded = recorded_key(run_json)
    sim = get_simulator(recorded["simulator"], site.get(recorded["simulator"], {}))
    key, identity, hashes = current_key(sim, recorded["parameters"])
    reasons = explain_difference(recorded, sim.adapter_version, identity, hashes)
    if not reasons:
        return [f"{run_dir}: reused - same content key {key[:16]} (inputs, simulator and adapter unchanged)"]
    return [f"{run_dir}: will re-execute (key {str(recorded['run_key'])[:16]} -> {key[:16]}):"] + \
        [f"  - {r}" for r in reasons]


def explain_study(config: Path, results_root: Path, site: Mapping[str, Any]) -> list[str]:
    """For every planned run of a study: finished and current, reusable from the cache, or to run."""
    study = load_study(config)
    plan = plan_study(study, site)
    paths = ResultPaths(Path(results_root), study.name)
    cache = RunCache(paths.cache) if paths.cache is not None else None
    lines = []
    for name in plan.simulators("simulate"):
        sim = plan.simulator(name)
        for run_id, params in plan.runs[name].items():
            run_dir = paths.run_dir(name, run_id)
            if (run_dir / RUN_JSON).is_file():
                lines += explain_run_dir(run_dir, plan.site)
                continue
            key, _, _ = current_key(sim, params)
            entry = cache.lookup(name, key) if cache is not None else None
            if entry is not None:
                lines.append(f"{run_dir}: not run in this study yet; will reuse {entry} (same content key)")
            else:
                lines.append(f"{run_dir}: will execute - no finished run has content key {key[:16]}")
    for choice in plan.fidelity.values():
        if choice.chosen == "surrogate":
            lines.append(f"{choice.simulator}: predicted by its surrogate, always recomputed ({choice.reason})")
        elif choice.chosen == "none":
            lines.append(f"{choice.simulator}: no runs ({choice.reason})")
    return lines
