"""Surrogates fitted on this study's real runs; parity plots (held-out predictions vs real runs) and the
table of every pack's validated errors (figure 7)."""
from eoesim.analysis.calibrate import DATASETS, dataset_path
from eoesim.analysis.packs import SIMULATOR_PACKS, pack_path

#: packs with a parity plot: every pack of the study's simulators (a study refit replaces its shipped pack)
PARITY_PACKS = [pack for sim in SIMULATORS for pack in SIMULATOR_PACKS.get(sim, ())]


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


def get_parity_inputs(wildcards):
    """The study's real runs and its refit for a refitted simulator, else the calibration runs and the pack."""
    if wildcards.pack in FITTABLE:
        return {"data": str(PATHS.table(wildcards.pack)),
                "model": str(PATHS.base / "surrogates" / f"{wildcards.pack}.json")}
    return {"data": str(dataset_path(wildcards.pack)), "model": str(pack_path(wildcards.pack))}


def get_parity_source(wildcards):
    if wildcards.pack in FITTABLE:
        return f"study run ({PATHS.table(wildcards.pack)}), study refit"
    return f"calibration run (analysis/calibration/{DATASETS[wildcards.pack].path}), shipped pack"


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


def surrogate_error_models():
    """(label, pack JSON) of every shipped pack of the study's simulators and of every study refit."""
    models = [(pack, str(pack_path(pack))) for pack in PARITY_PACKS]
    return models + [(f"{sim} (study fit)", str(PATHS.base / "surrogates" / f"{sim}.json")) for sim in FITTABLE]


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


def surrogate_figure_targets():
    figures = [f"parity_{pack}" for pack in PARITY_PACKS] + (["surrogate_errors"] if PARITY_PACKS else [])
    return [PATHS.base / "figures" / f"{name}{ext}" for name in figures for ext in (".pdf", ".png", ".csv")]


FINAL_TARGETS.append(surrogate_figure_targets)
