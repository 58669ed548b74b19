"""Which simulator runs a study needs and the fidelity chosen for each (where results go: eoesim.layout).

Used by the Snakemake rules (through common.smk) and by the ``eoesim`` CLI alike, so both agree on
run ids and paths. A simulator's run id is the point id of its own slice of the design point, so design
points that differ only in parameters a simulator ignores share its runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from eoesim.config import Study, overrides_label, point_id
from eoesim.errors import ConfigError, ParseError
from eoesim.simulators.base import Simulator, get_simulator, registry
from eoesim.site import load_site_config
from eoesim.stitch.e2e import check_point
from eoesim.surrogates import surrogate_status
from eoesim.training.serving_side import check_split_point, planned_serving_chiplets


@dataclass(frozen=True)
class FidelityChoice:
    simulator: str
    requested: str
    chosen: str
    reason: str


def choose_fidelity(sim: Simulator, requested: str, sample_points: Any = None, strict: bool = False) -> FidelityChoice:
    """Resolve simulate | surrogate | auto for one simulator, or raise ConfigError saying how to fix it.

    ``auto`` = the real simulator where available, else its calibrated surrogate, else the component is
    left out (chosen = "none") with the reason recorded. ``simulate`` or ``surrogate`` that cannot be
    honoured is an error naming what to provide.
    """
    first = sample_points[0] if isinstance(sample_points, list) and sample_points else None
    avail = sim.availability_for(first) if first is not None else sim.availability()
    if requested in ("simulate", "auto") and avail.available:
        return FidelityChoice(sim.name, requested, "simulate", f"{sim.name} {avail.version} available ({avail.mode})")
    if requested == "simulate":
        raise ConfigError(
            f"fidelity.{sim.name}: 'simulate' but {sim.name} is not available here ({avail.detail or avail.version}); "
            f"allowed: provide it in the site config (config/simulators.yaml, section {sim.name}) or choose "
            "'surrogate' or 'auto'"
        )
    has_surrogate, why = surrogate_status(sim, sample_points, strict)
    if has_surrogate:
        reason = why if requested == "surrogate" else f"{sim.name} not available ({avail.version}); {why}"
        return FidelityChoice(sim.name, requested, "surrogate", reason)
    if requested == "surrogate":
        raise ConfigError(f"fidelity.{sim.name}: 'surrogate' is not possible: {why}; "
                          f"allowed: 'simulate' or 'auto' with {sim.name} provided in the site config")
    return FidelityChoice(sim.name, requested, "none", f"{sim.name} not available ({avail.version}) and {why}")


@dataclass(frozen=True)
class StudyPlan:
    study: Study
    site: Mapping[str, Any]
    fidelity: Mapping[str, FidelityChoice]
    #: simulator -> run id -> that simulator's point parameters
    runs: Mapping[str, Mapping[str, Mapping[str, Any]]]
    #: design point id -> simulator -> run id
    point_runs: Mapping[str, Mapping[str, str]]

    def simulators(self, chosen: str) -> list[str]:
        """Simulators whose runs are made at fidelity ``chosen`` (simulate or surrogate), sorted."""
        return sorted(n for n, c in self.fidelity.items() if c.chosen == chosen and n in self.runs)

    def simulator(self, name: str) -> Simulator:
        return get_simulator(name, self.site.get(name, {}))

    def points_frame(self) -> pd.DataFrame:
        """points.csv: one row per design point with its swept values and its run id per simulator."""
        rows = []
        for p in self.study.points:
            row: dict[str, Any] = {"point_id": p.id}
            for key, value in p.overrides.items():
                row[key] = value if isinstance(value, (int, float, str, bool)) else str(value)
            for sim, run_id in self.point_runs[p.id].items():
                row[f"{sim}_run_id"] = run_id
            rows.append(row)
        return pd.DataFrame(rows)


#: relative difference allowed between hardware.memory.hbm.bandwidth_gb_per_s and Ramulator's peak
HBM_BANDWIDTH_TOLERANCE = 0.01


def check_hbm_bandwidth(study_params: Mapping[str, Any], ramulator_point: Mapping[str, Any], where: str) -> None:
    """The stitcher times HBM transfers with Ramulator's achieved bandwidth when Ramulator models an HBM
    standard, so the study's HBM bandwidth must be the peak of the memory Ramulator is configured as;
    otherwise a change of ``hardware.memory.hbm.bandwidth_gb_per_s`` would silently have no effect."""
    standard = str(ramulator_point.get("standard", ""))
    peak = ramulator_point.get("peak_bandwidth_bytes_per_s")
    if not standard.startswith("HBM") or not peak:
        return
    asked = study_params["hardware"]["memory"]["hbm"].get("bandwidth_gb_per_s")
    if asked is None:  # derived from the memory Ramulator models
        return
    asked = float(asked)
    peak_gb = float(peak) / 1e9
    if abs(asked - peak_gb) > HBM_BANDWIDTH_TOLERANCE * peak_gb:
        wl = study_params["workload"]["ramulator"]
        raise ConfigError(
            f"{where}: hardware.memory.hbm.bandwidth_gb_per_s: {asked:g} is not allowed; allowed: {peak_gb:g}, the "
            f"peak of the memory Ramulator models (workload.ramulator: {standard}, {wl['channels']} channels), or "
            "change workload.ramulator.channels / standard to a memory with that peak")


def plan_study(study: Study, site: Mapping[str, Any] | None = None) -> StudyPlan:
    """Resolve fidelities and enumerate the simulator runs of every design point."""
    site = dict(site) if site is not None else load_site_config()
    fidelity, runs, point_runs = {}, {}, {}
    requested = study.config["fidelity"]
    for name in registry():
        sim = get_simulator(name, site.get(name, {}))
        # every distinct point of this simulator: a surrogate must cover all of them, not only the first
        samples = {point_id(params): params for params in (sim.point_params(p.params) for p in study.points)}
        fidelity[name] = choose_fidelity(sim, requested[name], list(samples.values()),
                                         bool(study.config.get("strict_surrogate_domain")))
    adapters = {name: get_simulator(name, site.get(name, {})) for name in fidelity}
    for p in study.points:
        where = f"{study.source}: design point {p.id}" + (f" ({overrides_label(p.overrides)})" if p.overrides else "")
        try:
            point_runs[p.id] = _point_runs(p.params, adapters, fidelity, runs, where)
        except (ConfigError, ParseError) as exc:
            message = str(exc)
            raise ConfigError(message if message.startswith(study.source) else f"{where}: {message}") from None
    return StudyPlan(study=study, site=site, fidelity=fidelity, runs=runs, point_runs=point_runs)


def _point_runs(params: Mapping[str, Any], adapters: Mapping[str, Simulator], fidelity: Mapping[str, FidelityChoice],
                runs: dict, where: str) -> dict[str, str]:
    """Check one design point (the e2e model's and every adapter's cross-field rules) and add its runs."""
    # the EoE description's cross-field rules (morphology names, capacities, trace file), before any job
    engine = check_point(params, base_dir=Path.cwd())
    # a split package's serving must stay off the chiplets that only train (before the training job runs)
    check_split_point(params, planned_serving_chiplets(engine.mapping, engine.failures))
    out = {}
    for name, choice in fidelity.items():
        # every adapter checks its cross-field rules on every point, whatever its fidelity,
        # so a bad study fails at DAG-build time and not when a simulator becomes available
        sim_params = adapters[name].point_params(params)
        if name == "ramulator":
            check_hbm_bandwidth(params, sim_params, where)
        if choice.chosen == "none":
            continue
        if choice.chosen == "simulate" and (missing := adapters[name].missing_for(sim_params)):
            raise ConfigError(f"fidelity.{name}: {adapters[name].name} cannot run this point here: {missing}")
        run_id = point_id({"simulator": name, **sim_params})
        runs.setdefault(name, {})[run_id] = sim_params
        out[name] = run_id
    return out
