"""Input functions and rule-all targets of rules/training.smk (Snakemake's linter wants them apart from rules)."""
def training_points():
    """Design points with a `training` section."""
    return [p for p in STUDY.points if p.params.get("training") is not None]


def get_training_summaries(wildcards):
    return [str(PATHS.training_dir(p.id) / "summary.json") for p in training_points()]


def shares_package(point):
    """The point's training shares chiplets with serving or leaves it some (rule serve_beside_training)."""
    cfg = point.params["training"]
    return cfg["share"] < 1 or cfg["chiplets"] is not None


def get_serving_records(wildcards):
    return [str(PATHS.training_dir(p.id) / "serving.json") for p in training_points() if shares_package(p)]


def get_training_summary(wildcards):
    return str(PATHS.training_dir(wildcards.point) / "summary.json")


def colocation_compared():
    """The study compares training shares / splits of the package (figure training_colocation)."""
    layouts = {(p.params["training"]["share"], p.params["training"]["chiplets"]) for p in training_points()}
    return len(layouts) > 1


def training_targets():
    if not training_points():
        return []
    figures = ["training_time"] + (["training_colocation"] if colocation_compared() else [])
    return [PATHS.training_summary_csv] + [path for name in figures for path in PATHS.figure_files(name)]


FINAL_TARGETS.append(training_targets)
