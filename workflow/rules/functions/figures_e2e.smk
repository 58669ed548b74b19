"""Input functions, constants and rule-all targets of rules/figures_e2e.smk (Snakemake's linter wants them apart from rules)."""
TIMELINE_CFG = STUDY.config["figures"]["timeline"]
TIMELINE_POINT = PREFLIGHT.timeline_point  # checked by eoesim.preflight (common.smk)


def get_load_curve_config(wildcards):
    return json.dumps(STUDY.config["figures"]["load_curve"], sort_keys=True)


def get_load_curves(wildcards):
    return [str(PATHS.e2e_dir(p.id) / "load_curve.csv") for p in STUDY.points]


def get_timeline_trace(wildcards):
    return str(PATHS.e2e_dir(TIMELINE_POINT) / "timeline.json")


def get_timeline_config(wildcards):
    return json.dumps({**TIMELINE_CFG, "point": TIMELINE_POINT}, sort_keys=True)


def figures_e2e_targets():
    return [path for name in ("latency_breakdown", "latency_vs_rate", "timeline") for path in PATHS.figure_files(name)]


FINAL_TARGETS.append(figures_e2e_targets)
