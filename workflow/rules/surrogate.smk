"""Surrogates fitted on this study's real runs, and parity plots of the shipped packs against them."""


rule fit_surrogate:
    input:
        "results/{study}/tables/{simulator}.csv",
    output:
        "results/{study}/surrogates/{simulator}.json",
    wildcard_constraints:
        simulator="|".join(FITTABLE) or NO_MATCH,
    log:
        "results/{study}/logs/fit_surrogate_{simulator}.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/fit_surrogate.py"


rule plot_parity:
    input:
        table="results/{study}/tables/{simulator}.csv",
        fitted="results/{study}/surrogates/{simulator}.json",
    output:
        directory("results/{study}/figures/parity_{simulator}"),
    wildcard_constraints:
        simulator="|".join(FITTABLE) or NO_MATCH,
    log:
        "results/{study}/logs/plot_parity_{simulator}.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_parity.py"
