"""Design points, simulator runs and the per-simulator tidy tables."""


rule write_points:
    output:
        PATTERNS.points_csv,
    params:
        points=get_points_json,
    log:
        PATTERNS.log("write_points"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/write_points.py"


rule run_simulator:
    output:
        run_json=PATTERNS.run_dir("{simulator}", "{run_id}") / "run.json",
        result=PATTERNS.run_dir("{simulator}", "{run_id}") / "result.csv",
    params:
        point=get_run_params,
        site=get_run_site,
        run_dir=get_run_dir,
        logs_dir=get_logs_dir,
        cache_dir=get_cache_dir,
    log:
        PATTERNS.log("{simulator}/{run_id}"),
    threads: get_run_threads
    resources:
        mem_mb=get_run_mem_mb,
        runtime=get_run_runtime,
        cpus_per_task=get_run_threads,
        # not a param: editing the site's timeout_s must not re-run finished runs
        timeout_s=get_run_timeout,
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/run_simulator.py"


rule collect_table:
    input:
        get_table_inputs,
    output:
        PATTERNS.table("{simulator}"),
    wildcard_constraints:
        simulator="|".join(SIMULATED) or NO_MATCH,
    log:
        PATTERNS.log("collect_{simulator}"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/collect_table.py"


rule predict_surrogate:
    input:
        get_surrogate_packs,
    output:
        PATTERNS.table("{simulator}"),
    wildcard_constraints:
        simulator="|".join(SURROGATE) or NO_MATCH,
    params:
        runs=get_surrogate_runs,
        strict=config["strict_surrogate_domain"],
    log:
        PATTERNS.log("predict_{simulator}"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/predict_surrogate.py"
