"""Packs regenerated from the study's own real runs (eoesim.analysis.study_calibration).

Rule calibrate_pack maps a simulator's study table (only real runs: fidelity simulate) to the columns of
the pack's calibration dataset (results/{study}/packs/<pack>.dataset.csv), then fits and validates the pack
on that CSV with the code that made analysis/packs/<pack>.json (eoesim.analysis.calibrate.write_pack), so
the pack's data sha256 is the CSV's. Targets of `rule all`: every pack whose simulator runs for real in this
study and whose planned runs all keep the settings the pack's dataset held fixed (no extra simulation: the
tables are made anyway; the fit takes seconds). Asking for another pack is an error saying why.
"""
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
    return [PATHS.base / "packs" / f"{pack}.json" for pack in CALIBRATE_PACKS]


FINAL_TARGETS.append(calibrate_targets)


rule calibrate_pack:
    input:
        table=get_calibrate_table,
    output:
        pack="results/{study}/packs/{pack}.json",
        dataset="results/{study}/packs/{pack}.dataset.csv",
    wildcard_constraints:
        pack="|".join(MAPPINGS),
    params:
        runs=get_calibrate_runs,
    log:
        "results/{study}/logs/calibrate_pack_{pack}.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/calibrate_pack.py"
