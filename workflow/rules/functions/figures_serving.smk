"""Input functions and rule-all targets of rules/figures_serving.smk."""
from eoesim.figures.serving_policies import settings as serving_policies_settings
from eoesim.stitch.variants import point_inputs


try:
    SERVING_POLICIES = serving_policies_settings(STUDY.config["figures"].get("serving_policies"),
                                                 [p.id for p in STUDY.points])
except EoesimError as exc:
    raise WorkflowError(str(exc)) from None


def get_serving_policies_tables(wildcards):
    return [str(PATHS.table(sim)) for sim in PLAN.point_runs[SERVING_POLICIES["point"]]]


def get_serving_policies_summary(wildcards):
    return str(PATHS.e2e_dir(SERVING_POLICIES["point"]) / "summary.json")


def get_serving_policies_inputs(wildcards):
    return json.dumps(point_inputs(PLAN, PATHS, SERVING_POLICIES["point"]), sort_keys=True)


def get_serving_policies_settings(wildcards):
    return json.dumps(SERVING_POLICIES, sort_keys=True)


def figures_serving_targets():
    return PATHS.figure_files("serving_policies")


FINAL_TARGETS.append(figures_serving_targets)
