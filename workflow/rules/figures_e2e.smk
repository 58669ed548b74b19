"""End-to-end figures: latency breakdown per design point, latency vs request rate, a timeline excerpt."""


rule load_curve:
    input:
        tables=get_e2e_tables,
        summary=PATTERNS.e2e_dir("{point}") / "summary.json",
    output:
        PATTERNS.e2e_dir("{point}") / "load_curve.csv",
    params:
        point=get_point_params,
        runs=get_point_runs,
        load_curve=get_load_curve_config,
    log:
        PATTERNS.log("load_curve/{point}"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/stitch_load_curve.py"


rule plot_latency_breakdown:
    input:
        summary=PATTERNS.e2e_summary_csv,
        points=PATTERNS.points_csv,
    output:
        **figure_outputs("latency_breakdown", "End-to-end"),
    log:
        PATTERNS.log("plot_latency_breakdown"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_latency_breakdown.py"


rule plot_latency_vs_rate:
    input:
        curves=get_load_curves,
        points=PATTERNS.points_csv,
    output:
        **figure_outputs("latency_vs_rate", "End-to-end"),
    log:
        PATTERNS.log("plot_latency_vs_rate"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_latency_vs_rate.py"


rule plot_timeline:
    input:
        trace=get_timeline_trace,
        points=PATTERNS.points_csv,
    output:
        **figure_outputs("timeline", "End-to-end"),
    params:
        timeline=get_timeline_config,
    log:
        PATTERNS.log("plot_timeline"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_timeline.py"
