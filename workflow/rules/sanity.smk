"""Sanity checks over every parsed simulator table (physical bounds, non-moving metrics, echoed config)."""


rule sanity_check:
    input:
        get_sanity_tables,
    output:
        checks=PATTERNS.sanity_dir / "checks.csv",
        summary=report(
            PATTERNS.sanity_dir / "summary.html",
            caption="../report/sanity.rst",
            category="Trust",
        ),
    params:
        runs_root=str(PATTERNS.base / "runs"),
        logs_root=str(PATTERNS.base / "logs"),
        cache_dir=get_cache_dir,
        severity=get_sanity_severity,
    log:
        PATTERNS.log("sanity_check"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/sanity_check.py"
