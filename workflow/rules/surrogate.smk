"""Surrogates fitted on this study's real runs; parity plots (held-out predictions vs real runs) and the
table of every pack's validated errors (figure 7)."""


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
        unpack(get_parity_inputs),
    output:
        pdf=report(
            "results/{study}/figures/parity_{pack}.pdf",
            caption="../report/parity.rst",
            category="Surrogates",
            subcategory="Parity",
        ),
        png="results/{study}/figures/parity_{pack}.png",
        csv="results/{study}/figures/parity_{pack}.csv",
    params:
        stem=lambda wildcards, output: output.pdf[: -len(".pdf")],
        data_source=get_parity_source,
    wildcard_constraints:
        pack="|".join(PARITY_PACKS) or NO_MATCH,
    log:
        "results/{study}/logs/plot_parity_{pack}.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_parity.py"


rule plot_surrogate_errors:
    input:
        models=[path for _, path in surrogate_error_models()],
    output:
        pdf=report(
            "results/{study}/figures/surrogate_errors.pdf",
            caption="../report/surrogate_errors.rst",
            category="Surrogates",
            subcategory="Errors",
        ),
        png="results/{study}/figures/surrogate_errors.png",
        csv="results/{study}/figures/surrogate_errors.csv",
    params:
        stem=lambda wildcards, output: output.pdf[: -len(".pdf")],
        labels=[label for label, _ in surrogate_error_models()],
    log:
        "results/{study}/logs/plot_surrogate_errors.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_surrogate_errors.py"
