"""Figures of the expert cache and the SSD: cache_sensitivity and expert_load_cdf.

Both re-stitch design points from their own component tables under the memory-pressure scenario of
``figures.cache_sensitivity`` / ``figures.expert_load`` (eoesim.stitch.variants); the settings are checked
against the study here, at DAG-build time. A figure none of whose points can miss (single-expert
points under the default budget) is left out of `rule all` (settings None, with a warning).
"""


rule plot_cache_sensitivity:
    input:
        get_cache_sensitivity_tables,
    output:
        **figure_outputs("cache_sensitivity", "Expert cache and SSD"),
    params:
        job=get_cache_sensitivity_job,
    log:
        PATTERNS.log("plot_cache_sensitivity"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_cache_sensitivity.py"


rule plot_expert_load_cdf:
    input:
        get_expert_load_tables,
    output:
        **figure_outputs("expert_load_cdf", "Expert cache and SSD"),
    params:
        job=get_expert_load_job,
    log:
        PATTERNS.log("plot_expert_load_cdf"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_expert_load_cdf.py"
