"""What the Snakemake report shows besides figures: the resolved study config and the fidelity choices."""


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
