"""What the Snakemake report shows besides figures: the resolved study config and the fidelity choices."""


def get_fidelity_json(wildcards):
    return json.dumps([vars(choice) for choice in PLAN.fidelity.values()], sort_keys=True)


def get_resolved_config(wildcards):
    return json.dumps(STUDY.config, sort_keys=True)


rule write_study_record:
    output:
        config=report(
            "results/{study}/study.yaml",
            caption="../report/study_config.rst",
            category="Configuration",
        ),
        fidelity=report(
            "results/{study}/fidelity.csv",
            caption="../report/fidelity.rst",
            category="Configuration",
        ),
    params:
        config=get_resolved_config,
        fidelity=get_fidelity_json,
    log:
        "results/{study}/logs/write_study_record.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/write_study_record.py"


def study_record_targets():
    return [PATHS.base / "study.yaml", PATHS.base / "fidelity.csv"]


FINAL_TARGETS.append(study_record_targets)
