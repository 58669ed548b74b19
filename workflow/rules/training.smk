"""Training the EoE (eoesim.training): per design point with `training`, time to train, step breakdown,
energy and carbon, a timeline and the checkpoint trace; the study's summary and its figures."""


rule train_eoe:
    input:
        get_e2e_tables,
    output:
        summary="results/{study}/training/{point}/summary.json",
        experts="results/{study}/training/{point}/experts.csv",
        gemms="results/{study}/training/{point}/gemms.csv",
        timeline="results/{study}/training/{point}/timeline.json",
        checkpoint_trace="results/{study}/training/{point}/checkpoint_trace.txt",
    params:
        point=get_point_params,
        runs=get_point_runs,
    log:
        "results/{study}/logs/train_eoe/{point}.log",
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
        "results/{study}/training/{point}/serving.json",
    params:
        point=get_point_params,
        runs=get_point_runs,
    log:
        "results/{study}/logs/serve_beside_training/{point}.log",
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
        points="results/{study}/points.csv",
    output:
        report(
            "results/{study}/training/summary.csv",
            caption="../report/training_summary.rst",
            category="Training",
        ),
    log:
        "results/{study}/logs/summarize_training.log",
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
        "results/{study}/training/summary.csv",
    output:
        pdf=report(
            "results/{study}/figures/training_time.pdf",
            caption="../report/training_time.rst",
            category="Training",
        ),
        png="results/{study}/figures/training_time.png",
        csv="results/{study}/figures/training_time.csv",
    log:
        "results/{study}/logs/plot_training_time.log",
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
        "results/{study}/training/summary.csv",
    output:
        pdf=report(
            "results/{study}/figures/training_colocation.pdf",
            caption="../report/training_colocation.rst",
            category="Training",
        ),
        png="results/{study}/figures/training_colocation.png",
        csv="results/{study}/figures/training_colocation.csv",
    log:
        "results/{study}/logs/plot_training_colocation.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_training_colocation.py"
