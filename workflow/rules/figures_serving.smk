"""Serving figure: throughput, p99 TTFT / TPOT and goodput vs request rate per scheduling policy."""


rule plot_serving_policies:
    input:
        tables=get_serving_policies_tables,
        summary=get_serving_policies_summary,
    output:
        pdf=report(
            "results/{study}/figures/serving_policies.pdf",
            caption="../report/serving_policies.rst",
            category="End-to-end",
        ),
        png="results/{study}/figures/serving_policies.png",
        csv="results/{study}/figures/serving_policies.csv",
    params:
        inputs=get_serving_policies_inputs,
        settings=get_serving_policies_settings,
    log:
        "results/{study}/logs/plot_serving_policies.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_serving_policies.py"
