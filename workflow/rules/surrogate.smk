"""Surrogates fitted on this study's real runs; parity plots (held-out predictions vs real runs) and the
table of every pack's validated errors (figure 7)."""


rule fit_surrogate:
    input:
        PATTERNS.table("{simulator}"),
    output:
        PATTERNS.surrogate_fit("{simulator}"),
    wildcard_constraints:
        simulator="|".join(FITTABLE) or NO_MATCH,
    log:
        PATTERNS.log("fit_surrogate_{simulator}"),
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
        **figure_outputs("parity_{pack}", "Surrogates", caption="../report/parity.rst", subcategory="Parity"),
    params:
        stem=lambda wildcards, output: output.pdf[: -len(".pdf")],
        data_source=get_parity_source,
    wildcard_constraints:
        pack="|".join(PARITY_PACKS) or NO_MATCH,
    log:
        PATTERNS.log("plot_parity_{pack}"),
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
        **figure_outputs("surrogate_errors", "Surrogates", subcategory="Errors"),
    params:
        stem=lambda wildcards, output: output.pdf[: -len(".pdf")],
        labels=[label for label, _ in surrogate_error_models()],
    log:
        PATTERNS.log("plot_surrogate_errors"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_surrogate_errors.py"
