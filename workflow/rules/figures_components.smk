"""Component figures: NoC latency vs injection rate (figure 3) and memory bandwidth/latency vs offered
load (figure 4), real simulator runs as markers and the calibrated surrogates as lines."""


rule plot_noc_latency:
    input:
        unpack(component_figure_inputs("garnet", "garnet")),
    output:
        pdf=report(
            "results/{study}/figures/noc_latency.pdf",
            caption="../report/noc_latency.rst",
            category="Components",
        ),
        png="results/{study}/figures/noc_latency.png",
        csv="results/{study}/figures/noc_latency.csv",
    params:
        stem=lambda wildcards, output: output.pdf[: -len(".pdf")],
    log:
        "results/{study}/logs/plot_noc_latency.log",
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
        pdf=report(
            "results/{study}/figures/memory_load.pdf",
            caption="../report/memory_load.rst",
            category="Components",
        ),
        png="results/{study}/figures/memory_load.png",
        csv="results/{study}/figures/memory_load.csv",
    params:
        stem=lambda wildcards, output: output.pdf[: -len(".pdf")],
    log:
        "results/{study}/logs/plot_memory_load.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_memory_load.py"
