"""Chiplet-failure scenarios: throughput over time around the failure of every point with `failures`."""


rule plot_failure_throughput:
    input:
        summaries=get_e2e_summaries,
        points=PATTERNS.points_csv,
    output:
        **figure_outputs("failure_throughput", "Failures"),
    log:
        PATTERNS.log("plot_failure_throughput"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_failure_throughput.py"
