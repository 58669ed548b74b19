"""Input functions, constants and rule-all targets of rules/sanity.smk (Snakemake's linter wants them apart from rules)."""
def get_sanity_tables(wildcards):
    return [str(PATHS.table(sim)) for sim in SIMULATORS]


def get_sanity_severity(wildcards):
    severity = config.get("sanity", {}).get("severity", {})
    return json.dumps({k: v or "off" for k, v in severity.items() if v is not None}, sort_keys=True)


def sanity_targets():
    return [PATHS.sanity_dir / "checks.csv", PATHS.sanity_dir / "summary.html"]


FINAL_TARGETS.append(sanity_targets)
