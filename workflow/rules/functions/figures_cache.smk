"""Input functions, constants and rule-all targets of rules/figures_cache.smk (Snakemake's linter wants them apart from rules)."""
from eoesim.figures import expert_load_cdf as load_fig
from eoesim.stitch.variants import point_inputs


# checked and resolved by eoesim.preflight (common.smk); None: the figure is left out
CACHE_SENSITIVITY = PREFLIGHT.cache_sensitivity
EXPERT_LOAD = PREFLIGHT.expert_load


SSD_CONFIGURATIONS = load_fig.ssd_configurations(PLAN)


def _required(settings, figure):
    if settings is None:
        raise WorkflowError(f"figure {figure} is left out of study {STUDY.name}: {PREFLIGHT.left_out[figure]}")
    return settings


def _tables_of(points):
    return sorted({str(PATHS.table(sim)) for pid in points for sim in PLAN.point_runs[pid]})


def _expert_load_points():
    return [pid for group in SSD_CONFIGURATIONS for pid in load_fig.stitched_points(EXPERT_LOAD, group)]


def get_cache_sensitivity_tables(wildcards):
    return _tables_of([_required(CACHE_SENSITIVITY, "cache_sensitivity").point])


def get_cache_sensitivity_job(wildcards):
    settings = _required(CACHE_SENSITIVITY, "cache_sensitivity")
    return json.dumps({"settings": settings.to_dict(), "point": point_inputs(PLAN, PATHS, settings.point)},
                      sort_keys=True)


def get_expert_load_tables(wildcards):
    _required(EXPERT_LOAD, "expert_load_cdf")
    return _tables_of(_expert_load_points())


def get_expert_load_job(wildcards):
    settings = _required(EXPERT_LOAD, "expert_load_cdf")
    return json.dumps({"settings": settings.to_dict(), "configurations": SSD_CONFIGURATIONS,
                       "points": {pid: point_inputs(PLAN, PATHS, pid) for pid in _expert_load_points()}},
                      sort_keys=True)


def cache_figure_targets():
    names = [name for name, settings in (("cache_sensitivity", CACHE_SENSITIVITY), ("expert_load_cdf", EXPERT_LOAD))
             if settings is not None]
    return [path for name in names for path in PATHS.figure_files(name)]


FINAL_TARGETS.append(cache_figure_targets)
