"""End-to-end EoE runs: per design point, stitch the component tables into latency, energy and a timeline."""


rule stitch_e2e:
    input:
        get_e2e_tables,
    output:
        summary=PATTERNS.e2e_dir("{point}") / "summary.json",
        timeline=PATTERNS.e2e_dir("{point}") / "timeline.json",
    params:
        point=get_point_params,
        runs=get_point_runs,
    log:
        PATTERNS.log("stitch_e2e/{point}"),
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
            PATTERNS.e2e_summary_csv,
            caption="../report/e2e_summary.rst",
            category="End-to-end",
        ),
    log:
        PATTERNS.log("summarize_e2e"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/summarize_e2e.py"
