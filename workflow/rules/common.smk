"""Validation at DAG-build time, the study plan, and every input/params/resources function."""
import json
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from eoesim.errors import EoesimError
from eoesim.jobs import run_timeout_s, site_identity
from eoesim.layout import ResultPaths
from eoesim.preflight import check_config_files, preflight
from eoesim.simulators.base import registry as simulator_registry

# the same checks as `eoesim validate` (eoesim.preflight), so both accept and reject the same studies
CONFIG_FILES = list(workflow.config_settings.configfiles) or list(workflow.configfiles)
try:
    check_config_files(workflow.configfiles)
    PREFLIGHT = preflight(config, ", ".join(map(str, CONFIG_FILES)) or "study config")
except EoesimError as exc:
    raise WorkflowError(str(exc)) from None
STUDY = PREFLIGHT.study
PLAN = PREFLIGHT.plan
validate(config, "../schemas/config.schema.yaml")

PATHS = ResultPaths(root=Path("results"), study=STUDY.name)
#: the same layout as Snakemake patterns, for the rules' inputs, outputs and logs
PATTERNS = ResultPaths(root=Path("results"), study="{study}")
SIMULATORS = sorted(PLAN.runs)
SIMULATED = PLAN.simulators("simulate")
SURROGATE = PLAN.simulators("surrogate")
NO_MATCH = "(?!x)x"
#: resources of the light rules that run on the submitting host (still declared, for profiles and SLURM)
LOCAL_RESOURCES = {"mem_mb": 1024, "runtime": 10, "cpus_per_task": 1}
#: simulated components whose study table is in their calibration dataset's format, so the study's own
#: real runs can refit the surrogate form (the adapter's refit_from_study; the others are fitted from
#: analysis/calibration/ datasets)
FITTABLE = [sim for sim in SIMULATED if simulator_registry()[sim].refit_from_study]


wildcard_constraints:
    study=STUDY.name,
    simulator="|".join(SIMULATORS) or "none",
    run_id="[0-9a-f]{12}",
    point="[0-9a-f]{12}",


#: functions of no arguments, each returning more targets of `rule all`; a rules file registers its own
FINAL_TARGETS = []


def figure_outputs(name, category, caption=None, **report_kw):
    """The pdf (in the report; caption report/<name>.rst unless given), png and csv of figure ``name``."""
    pdf, png, csv = PATTERNS.figure_files(name)
    caption = caption or f"../report/{name}.rst"
    return {"pdf": report(pdf, caption=caption, category=category, **report_kw), "png": png, "csv": csv}


def get_final_outputs(wildcards):
    targets = (
        [str(PATHS.points_csv), str(PATHS.e2e_summary_csv)]
        + [str(PATHS.table(sim)) for sim in SIMULATORS]
        + [str(PATHS.surrogate_fit(sim)) for sim in FITTABLE]
    )
    for extra in FINAL_TARGETS:
        targets += [str(t) for t in extra()]
    return targets


def get_points_json(wildcards):
    return PLAN.points_frame().to_json(orient="records")


def get_run_params(wildcards):
    return json.dumps(PLAN.runs[wildcards.simulator][wildcards.run_id], sort_keys=True)


def get_run_site(wildcards):
    return json.dumps(site_identity(PLAN.site.get(wildcards.simulator, {})), sort_keys=True)


def get_run_timeout(wildcards):
    return run_timeout_s(PLAN.site.get(wildcards.simulator, {}))


def get_run_dir(wildcards):
    return str(PATHS.run_dir(wildcards.simulator, wildcards.run_id))


def get_cache_dir(wildcards):
    return str(PATHS.cache) if PATHS.cache is not None else ""


def get_logs_dir(wildcards):
    return str(PATHS.logs_dir(wildcards.simulator, wildcards.run_id))


def _run_resources(wildcards):
    sim = PLAN.simulator(wildcards.simulator)
    return sim.resources(PLAN.runs[wildcards.simulator][wildcards.run_id])


def get_run_threads(wildcards):
    return _run_resources(wildcards).cores


def get_run_mem_mb(wildcards):
    return _run_resources(wildcards).mem_mb


def get_run_runtime(wildcards):
    return _run_resources(wildcards).runtime_min


def get_surrogate_packs(wildcards):
    from eoesim.analysis.packs import SIMULATOR_PACKS, pack_path

    return [str(pack_path(pack)) for pack in SIMULATOR_PACKS[wildcards.simulator]]


def get_surrogate_runs(wildcards):
    return json.dumps(PLAN.runs[wildcards.simulator], sort_keys=True)


def get_table_inputs(wildcards):
    return [str(PATHS.run_dir(wildcards.simulator, rid) / "result.csv") for rid in PLAN.runs[wildcards.simulator]]


def get_e2e_tables(wildcards):
    return [str(PATHS.table(sim)) for sim in sorted(PLAN.point_runs[wildcards.point])]


def get_point_params(wildcards):
    return json.dumps(STUDY.point(wildcards.point).params, sort_keys=True)


def get_point_runs(wildcards):
    runs = {sim: {"run_id": rid, "table": str(PATHS.table(sim)), "point": PLAN.runs[sim][rid]}
            for sim, rid in PLAN.point_runs[wildcards.point].items()}
    return json.dumps(runs, sort_keys=True)


def get_e2e_summaries(wildcards):
    return [str(PATHS.e2e_dir(p.id) / "summary.json") for p in STUDY.points]
