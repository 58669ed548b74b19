"""Input functions, constants and rule-all targets of rules/report.smk (Snakemake's linter wants them apart from rules)."""
def get_fidelity_json(wildcards):
    return json.dumps([vars(choice) for choice in PLAN.fidelity.values()], sort_keys=True)


def get_resolved_config(wildcards):
    return json.dumps(STUDY.config, sort_keys=True)


def study_record_targets():
    return [PATHS.study_record, PATHS.fidelity_csv]


FINAL_TARGETS.append(study_record_targets)
