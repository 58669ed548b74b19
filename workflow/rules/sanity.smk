"""Sanity checks over every parsed simulator table (physical bounds, non-moving metrics, echoed config)."""


def get_sanity_tables(wildcards):
    return [str(PATHS.table(sim)) for sim in SIMULATORS]


def get_sanity_severity(wildcards):
    severity = config.get("sanity", {}).get("severity", {})
    return json.dumps({k: v or "off" for k, v in severity.items() if v is not None}, sort_keys=True)


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


def sanity_targets():
    return [PATHS.base / "sanity" / "checks.csv", PATHS.base / "sanity" / "summary.html"]


FINAL_TARGETS.append(sanity_targets)
