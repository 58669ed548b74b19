"""End-to-end figures: latency breakdown per design point, latency vs request rate, a timeline excerpt."""


rule load_curve:
    input:
        tables=get_e2e_tables,
        summary="results/{study}/e2e/{point}/summary.json",
    output:
        "results/{study}/e2e/{point}/load_curve.csv",
    params:
        point=get_point_params,
        runs=get_point_runs,
        load_curve=get_load_curve_config,
    log:
        "results/{study}/logs/load_curve/{point}.log",
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
        summary="results/{study}/e2e/summary.csv",
        points="results/{study}/points.csv",
    output:
        pdf=report(
            "results/{study}/figures/latency_breakdown.pdf",
            caption="../report/latency_breakdown.rst",
            category="End-to-end",
        ),
        png="results/{study}/figures/latency_breakdown.png",
        csv="results/{study}/figures/latency_breakdown.csv",
    log:
        "results/{study}/logs/plot_latency_breakdown.log",
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
        points="results/{study}/points.csv",
    output:
        pdf=report(
            "results/{study}/figures/latency_vs_rate.pdf",
            caption="../report/latency_vs_rate.rst",
            category="End-to-end",
        ),
        png="results/{study}/figures/latency_vs_rate.png",
        csv="results/{study}/figures/latency_vs_rate.csv",
    log:
        "results/{study}/logs/plot_latency_vs_rate.log",
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
        points="results/{study}/points.csv",
    output:
        pdf=report(
            "results/{study}/figures/timeline.pdf",
            caption="../report/timeline.rst",
            category="End-to-end",
        ),
        png="results/{study}/figures/timeline.png",
        csv="results/{study}/figures/timeline.csv",
    params:
        timeline=get_timeline_config,
    log:
        "results/{study}/logs/plot_timeline.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_timeline.py"
