"""Everything a study is checked for before any job runs, in one call shared by ``eoesim validate`` and
the Snakefile (workflow/rules/common.smk), so that a study one accepts the other runs and vice versa.

It builds the study (schema, sweep size and values, experts), plans its simulator runs (fidelities and
every adapter's and the e2e model's cross-field rules, per point) and resolves the settings of the
figures whose settings depend on the design points. A default figure that no point of a valid study can
show is left out with a note, never an error; an explicit setting no point can honour is a ConfigError.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from eoesim.config import Study, build_study, read_study_file
from eoesim.figures import cache_sensitivity, expert_load_cdf
from eoesim.figures.timeline_excerpt import check_window, timeline_point
from eoesim.plan import StudyPlan, plan_study


@dataclass(frozen=True)
class Preflight:
    """A checked study, its plan and the resolved settings of its point-dependent figures."""

    study: Study
    plan: StudyPlan
    #: None: the figure is left out (the reason is in ``left_out``)
    cache_sensitivity: cache_sensitivity.CacheSensitivity | None
    expert_load: expert_load_cdf.ExpertLoad | None
    timeline_point: str
    #: figure name -> why it is left out of this study
    left_out: Mapping[str, str]


def preflight(config: Mapping[str, Any], source: str, site: Mapping[str, Any] | None = None) -> Preflight:
    """Check a study config mapping (ConfigError / ParseError: one line per problem) and resolve its plan."""
    study = build_study(config, source)
    plan = plan_study(study, site)
    figures = study.config["figures"]
    point = timeline_point([p.id for p in study.points], figures["timeline"]["point"])
    check_window(figures["timeline"]["window_s"])
    left_out = {}
    cache = cache_sensitivity.settings(study)
    if cache is None:
        left_out["cache_sensitivity"] = cache_sensitivity.base_point(study)[1]
    load = expert_load_cdf.settings(study, plan)
    if load is None:
        left_out["expert_load_cdf"] = "none of its design points can miss in the expert cache (a single expert each)"
    return Preflight(study, plan, cache, load, point, left_out)


def preflight_file(path: str | Path, site: Mapping[str, Any] | None = None) -> Preflight:
    """:func:`preflight` of a study file, read strictly (eoesim.config.read_study_file)."""
    return preflight(read_study_file(path), str(path), site)


def check_config_files(paths: Sequence[str | Path]) -> None:
    """Re-read the config files Snakemake merged into ``config`` the way ``eoesim validate`` reads a study
    (Snakemake's own YAML reading keeps the second of two equal keys silently)."""
    for path in paths:
        read_study_file(path)
