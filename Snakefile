"""EoE-CoSim: study config -> design points -> simulator runs -> tidy tables. See README.md."""
from snakemake.utils import min_version

from eoesim.site import load_site_config

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


# with --sdm apptainer, every rule runs inside the harness image named by harness.container in the site
# config (config/simulators.yaml or $EOESIM_SIMULATORS), e.g. /path/eoesim.sif
HARNESS_CONTAINER = load_site_config()["harness"]["container"]
if HARNESS_CONTAINER:

    container: HARNESS_CONTAINER



include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/stitch.smk"
include: "workflow/rules/functions/surrogate.smk"
include: "workflow/rules/surrogate.smk"
include: "workflow/rules/functions/figures_e2e.smk"
include: "workflow/rules/figures_e2e.smk"
include: "workflow/rules/functions/figures_serving.smk"
include: "workflow/rules/figures_serving.smk"
include: "workflow/rules/functions/figures_components.smk"
include: "workflow/rules/figures_components.smk"
include: "workflow/rules/functions/figures_cache.smk"
include: "workflow/rules/figures_cache.smk"
include: "workflow/rules/dse.smk"
include: "workflow/rules/functions/sanity.smk"
include: "workflow/rules/sanity.smk"
include: "workflow/rules/functions/failure.smk"
include: "workflow/rules/failure.smk"
include: "workflow/rules/functions/lowering.smk"
include: "workflow/rules/lowering.smk"
include: "workflow/rules/functions/report.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/functions/calibrate.smk"
include: "workflow/rules/calibrate.smk"


rule all:
    input:
        get_final_outputs,
    default_target: True
