"""Input functions, constants and rule-all targets of rules/figures_components.smk (Snakemake's linter wants them apart from rules)."""
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


def component_figure_targets():
    return [path for name in ("noc_latency", "memory_load") for path in PATHS.figure_files(name)]


FINAL_TARGETS.append(component_figure_targets)
