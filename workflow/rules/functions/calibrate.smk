"""Input functions, constants and rule-all targets of rules/calibrate.smk (Snakemake's linter wants them apart from rules)."""
from eoesim.analysis.study_calibration import MAPPINGS, not_real_message, regenerable_packs, unidentified, unmet


CALIBRATE_PACKS = regenerable_packs({sim: PLAN.runs[sim] for sim in SIMULATED})


def get_calibrate_table(wildcards):
    sim = MAPPINGS[wildcards.pack].simulator
    if sim not in SIMULATED:
        choice = PLAN.fidelity.get(sim)
        why = f"fidelity {choice.chosen} ({choice.reason})" if choice else "it is not in the study"
        raise WorkflowError(not_real_message(sim, f"the study does not run {sim} for real: {why}"))
    reasons = unmet(wildcards.pack, PLAN.runs[sim])
    if reasons:
        raise WorkflowError(f"calibrate {wildcards.pack}: the study's {sim} runs differ from what the pack's "
                            f"dataset held fixed: {reasons[0]} ({len(reasons)} in all)")
    reasons = unidentified(wildcards.pack, PLAN.runs[sim])
    if reasons:
        raise WorkflowError(f"calibrate {wildcards.pack}: {reasons[0]}")
    return str(PATHS.table(sim))


def get_calibrate_runs(wildcards):
    return json.dumps(PLAN.runs[MAPPINGS[wildcards.pack].simulator], sort_keys=True)


def calibrate_targets():
    return [PATHS.study_pack(pack) for pack in CALIBRATE_PACKS]


FINAL_TARGETS.append(calibrate_targets)
