"""End-to-end EoE runs: per design point, stitch the component tables into latency, energy and a timeline."""


rule stitch_e2e:
    input:
        get_e2e_tables,
    output:
        summary="results/{study}/e2e/{point}/summary.json",
        timeline="results/{study}/e2e/{point}/timeline.json",
    params:
        point=get_point_params,
        runs=get_point_runs,
    log:
        "results/{study}/logs/stitch_e2e/{point}.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/stitch_e2e.py"


rule summarize_e2e:
    input:
        get_e2e_summaries,
    output:
        report(
            "results/{study}/e2e/summary.csv",
            caption="../report/e2e_summary.rst",
            category="End-to-end",
        ),
    log:
        "results/{study}/logs/summarize_e2e.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/summarize_e2e.py"
