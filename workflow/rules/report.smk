"""What the Snakemake report shows besides figures: the resolved study config and the fidelity choices."""


rule write_study_record:
    output:
        config=report(
            PATTERNS.study_record,
            caption="../report/study_config.rst",
            category="Configuration",
        ),
        fidelity=report(
            PATTERNS.fidelity_csv,
            caption="../report/fidelity.rst",
            category="Configuration",
        ),
    params:
        config=get_resolved_config,
        fidelity=get_fidelity_json,
    log:
        PATTERNS.log("write_study_record"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/write_study_record.py"
