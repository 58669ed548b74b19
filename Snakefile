"""EoE-CoSim: study config -> design points -> simulator runs -> tidy tables. See README.md."""
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/stitch.smk"
include: "workflow/rules/surrogate.smk"


rule all:
    input:
        get_final_outputs,
    default_target: True
