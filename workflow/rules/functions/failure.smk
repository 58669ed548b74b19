"""Input functions, constants and rule-all targets of rules/failure.smk (Snakemake's linter wants them apart from rules)."""
def failure_points():
    """Design points whose parameters have failure events."""
    return [p.id for p in STUDY.points if (p.params.get("failures") or {}).get("events")]


def failure_targets():
    if not failure_points():
        return []
    return [str(path) for path in PATHS.figure_files("failure_throughput")]


FINAL_TARGETS.append(failure_targets)
