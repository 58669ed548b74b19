"""Input functions, constants and rule-all targets of rules/surrogate.smk (Snakemake's linter wants them apart from rules)."""
from eoesim.analysis.calibrate import DATASETS, dataset_path
from eoesim.analysis.packs import SIMULATOR_PACKS, pack_path


#: packs with a parity plot: every pack of the study's simulators (a study refit replaces its shipped pack)
PARITY_PACKS = [pack for sim in SIMULATORS for pack in SIMULATOR_PACKS.get(sim, ())]


def get_parity_inputs(wildcards):
    """The study's real runs and its refit for a refitted simulator, else the calibration runs and the pack."""
    if wildcards.pack in FITTABLE:
        return {"data": str(PATHS.table(wildcards.pack)),
                "model": str(PATHS.surrogate_fit(wildcards.pack))}
    return {"data": str(dataset_path(wildcards.pack)), "model": str(pack_path(wildcards.pack))}


def get_parity_source(wildcards):
    if wildcards.pack in FITTABLE:
        return f"study run ({PATHS.table(wildcards.pack)}), study refit"
    return f"calibration run (analysis/calibration/{DATASETS[wildcards.pack].path}), shipped pack"


def surrogate_error_models():
    """(label, pack JSON) of every shipped pack of the study's simulators and of every study refit."""
    models = [(pack, str(pack_path(pack))) for pack in PARITY_PACKS]
    return models + [(f"{sim} (study fit)", str(PATHS.surrogate_fit(sim))) for sim in FITTABLE]


def surrogate_figure_targets():
    figures = [f"parity_{pack}" for pack in PARITY_PACKS] + (["surrogate_errors"] if PARITY_PACKS else [])
    return [path for name in figures for path in PATHS.figure_files(name)]


FINAL_TARGETS.append(surrogate_figure_targets)
