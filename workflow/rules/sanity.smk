"""Sanity checks over every parsed simulator table (physical bounds, non-moving metrics, echoed config)."""


rule sanity_check:
    input:
        get_sanity_tables,
    output:
        checks="results/{study}/sanity/checks.csv",
        summary=report(
            "results/{study}/sanity/summary.html",
            caption="../report/sanity.rst",
            category="Trust",
        ),
    params:
        runs_root="results/{study}/runs",
        logs_root="results/{study}/logs",
        cache_dir=get_cache_dir,
        severity=get_sanity_severity,
    log:
        "results/{study}/logs/sanity_check.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/sanity_check.py"
