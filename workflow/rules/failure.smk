"""Chiplet-failure scenarios: throughput over time around the failure of every point with `failures`."""


rule plot_failure_throughput:
    input:
        summaries=get_e2e_summaries,
        points="results/{study}/points.csv",
    output:
        pdf=report(
            "results/{study}/figures/failure_throughput.pdf",
            caption="../report/failure_throughput.rst",
            category="Failures",
        ),
        png="results/{study}/figures/failure_throughput.png",
        csv="results/{study}/figures/failure_throughput.csv",
    log:
        "results/{study}/logs/plot_failure_throughput.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_failure_throughput.py"
