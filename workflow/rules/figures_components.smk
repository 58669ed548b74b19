"""Component figures: NoC latency vs injection rate (figure 3) and memory bandwidth/latency vs offered
load (figure 4), real simulator runs as markers and the calibrated surrogates as lines."""
from eoesim.analysis.calibrate import dataset_path
from eoesim.analysis.packs import pack_path


def component_figure_inputs(simulator, pack):
    """The pack, its calibration dataset and (when the study has the simulator) the study's table."""

    def inputs(wildcards):
        out = {"pack": str(pack_path(pack)), "calibration": str(dataset_path(pack))}
        if simulator in SIMULATORS:
            out["table"] = str(PATHS.table(simulator))
        return out

    return inputs


rule plot_noc_latency:
    input:
        unpack(component_figure_inputs("garnet", "garnet")),
    output:
        pdf=report(
            "results/{study}/figures/noc_latency.pdf",
            caption="../report/noc_latency.rst",
            category="Components",
        ),
        png="results/{study}/figures/noc_latency.png",
        csv="results/{study}/figures/noc_latency.csv",
    params:
        stem=lambda wildcards, output: output.pdf[: -len(".pdf")],
    log:
        "results/{study}/logs/plot_noc_latency.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_noc_latency.py"


rule plot_memory_load:
    input:
        unpack(component_figure_inputs("ramulator", "ramulator")),
    output:
        pdf=report(
            "results/{study}/figures/memory_load.pdf",
            caption="../report/memory_load.rst",
            category="Components",
        ),
        png="results/{study}/figures/memory_load.png",
        csv="results/{study}/figures/memory_load.csv",
    params:
        stem=lambda wildcards, output: output.pdf[: -len(".pdf")],
    log:
        "results/{study}/logs/plot_memory_load.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_memory_load.py"


def component_figure_targets():
    return [PATHS.base / "figures" / f"{name}{ext}" for name in ("noc_latency", "memory_load")
            for ext in (".pdf", ".png", ".csv")]


FINAL_TARGETS.append(component_figure_targets)
