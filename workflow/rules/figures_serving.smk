"""Serving figure: throughput, p99 TTFT / TPOT and goodput vs request rate per scheduling policy."""


rule plot_serving_policies:
    input:
        tables=get_serving_policies_tables,
        summary=get_serving_policies_summary,
    output:
        **figure_outputs("serving_policies", "End-to-end"),
    params:
        inputs=get_serving_policies_inputs,
        settings=get_serving_policies_settings,
    log:
        PATTERNS.log("plot_serving_policies"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_serving_policies.py"
