"""Component figures: NoC latency vs injection rate (figure 3) and memory bandwidth/latency vs offered
load (figure 4), real simulator runs as markers and the calibrated surrogates as lines."""


rule plot_noc_latency:
    input:
        unpack(component_figure_inputs("garnet", "garnet")),
    output:
        **figure_outputs("noc_latency", "Components"),
    params:
        stem=lambda wildcards, output: output.pdf[: -len(".pdf")],
    log:
        PATTERNS.log("plot_noc_latency"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_noc_latency.py"


rule plot_memory_load:
    input:
        unpack(component_figure_inputs("ramulator", "ramulator")),
    output:
        **figure_outputs("memory_load", "Components"),
    params:
        stem=lambda wildcards, output: output.pdf[: -len(".pdf")],
    log:
        PATTERNS.log("plot_memory_load"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_memory_load.py"
