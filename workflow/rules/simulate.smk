"""Design points, simulator runs and the per-simulator tidy tables."""


rule write_points:
    output:
        "results/{study}/points.csv",
    params:
        points=get_points_json,
    log:
        "results/{study}/logs/write_points.log",
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
        run_json="results/{study}/runs/{simulator}/{run_id}/run.json",
        result="results/{study}/runs/{simulator}/{run_id}/result.csv",
    params:
        point=get_run_params,
        site=get_run_site,
        run_dir=get_run_dir,
        logs_dir=get_logs_dir,
        cache_dir=get_cache_dir,
    log:
        "results/{study}/logs/{simulator}/{run_id}.log",
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
        "results/{study}/tables/{simulator}.csv",
    wildcard_constraints:
        simulator="|".join(SIMULATED) or NO_MATCH,
    log:
        "results/{study}/logs/collect_{simulator}.log",
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
        "results/{study}/tables/{simulator}.csv",
    wildcard_constraints:
        simulator="|".join(SURROGATE) or NO_MATCH,
    params:
        runs=get_surrogate_runs,
        strict=config["strict_surrogate_domain"],
    log:
        "results/{study}/logs/predict_{simulator}.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/predict_surrogate.py"
