"""Training the EoE (eoesim.training): per design point with `training`, time to train, step breakdown,
energy and carbon, a timeline and the checkpoint trace; the study's summary and its figures."""


rule train_eoe:
    input:
        get_e2e_tables,
    output:
        summary=PATTERNS.training_dir("{point}") / "summary.json",
        experts=PATTERNS.training_dir("{point}") / "experts.csv",
        gemms=PATTERNS.training_dir("{point}") / "gemms.csv",
        timeline=PATTERNS.training_dir("{point}") / "timeline.json",
        checkpoint_trace=PATTERNS.training_dir("{point}") / "checkpoint_trace.txt",
    params:
        point=get_point_params,
        runs=get_point_runs,
    log:
        PATTERNS.log("train_eoe/{point}"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/train_eoe.py"


rule serve_beside_training:
    input:
        tables=get_e2e_tables,
        training=get_training_summary,
    output:
        PATTERNS.training_dir("{point}") / "serving.json",
    params:
        point=get_point_params,
        runs=get_point_runs,
    log:
        PATTERNS.log("serve_beside_training/{point}"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/serve_beside_training.py"


rule summarize_training:
    input:
        summaries=get_training_summaries,
        serving=get_serving_records,
        points=PATTERNS.points_csv,
    output:
        report(
            PATTERNS.training_summary_csv,
            caption="../report/training_summary.rst",
            category="Training",
        ),
    log:
        PATTERNS.log("summarize_training"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/summarize_training.py"


rule plot_training_time:
    input:
        PATTERNS.training_summary_csv,
    output:
        **figure_outputs("training_time", "Training"),
    log:
        PATTERNS.log("plot_training_time"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_training_time.py"


rule plot_training_colocation:
    input:
        PATTERNS.training_summary_csv,
    output:
        **figure_outputs("training_colocation", "Training"),
    log:
        PATTERNS.log("plot_training_colocation"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_training_colocation.py"
