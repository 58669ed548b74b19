"""Packs regenerated from the study's own real runs (eoesim.analysis.study_calibration).

Rule calibrate_pack maps a simulator's study table (only real runs: fidelity simulate) to the columns of
the pack's calibration dataset (results/<study>/packs/<pack>.dataset.csv), then fits and validates the pack
on that CSV with the code that made analysis/packs/<pack>.json (eoesim.analysis.calibrate.write_pack), so
the pack's data sha256 is the CSV's. Targets of `rule all`: every pack whose simulator runs for real in this
study and whose planned runs all keep the settings the pack's dataset held fixed (no extra simulation: the
tables are made anyway; the fit takes seconds). Asking for another pack is an error saying why.
"""


rule calibrate_pack:
    input:
        table=get_calibrate_table,
    output:
        pack=PATTERNS.study_pack("{pack}"),
        dataset=PATTERNS.study_pack_dataset("{pack}"),
    wildcard_constraints:
        pack="|".join(MAPPINGS),
    params:
        runs=get_calibrate_runs,
    log:
        PATTERNS.log("calibrate_pack_{pack}"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/calibrate_pack.py"
