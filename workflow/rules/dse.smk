"""Design-space exploration: the Pareto front of the study's points and the refine step (figure pareto).

checkpoint select_refine ranks the points on the sweep's results and picks the top-k (dse.refine.top_k);
only then are the refined runs known: run_simulator at simulate fidelity (same run ids) for every
simulator whose study fidelity is surrogate but whose binary is available, collect_refined_table,
stitch_refined per chosen point, then write_pareto (both fidelities per point) and plot_pareto.
"""
from eoesim.dse.inputs import DseInputs
from eoesim.dse.labels import point_label
from eoesim.dse.refine import refine_choices

DSE = STUDY.config["dse"]
REFINE_CHOICES = refine_choices(PLAN)
RERUN = [sim for sim, choice in REFINE_CHOICES.items() if choice["rerun"]]
POINT_LABELS = {p.id: point_label(p.overrides) for p in STUDY.points}
DSE_INPUTS = DseInputs(PLAN, PATHS, REFINE_CHOICES)
FINAL_TARGETS.append(DSE_INPUTS.targets)


checkpoint select_refine:
    input:
        summaries=get_e2e_summaries,
        area=DSE_INPUTS.area_tables,
    output:
        PATTERNS.dse_dir / "refine.json",
    params:
        objectives=DSE["objectives"],
        top_k=DSE["refine"]["top_k"],
        choices=json.dumps(REFINE_CHOICES, sort_keys=True),
        point_runs=json.dumps(PLAN.point_runs, sort_keys=True),
        labels=json.dumps(POINT_LABELS, sort_keys=True),
    log:
        PATTERNS.log("select_refine"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/select_refine.py"


rule collect_refined_table:
    input:
        lambda wc: DSE_INPUTS.refined_result_csvs(wc, checkpoints),
    output:
        PATTERNS.refined.table("{simulator}"),
    wildcard_constraints:
        simulator="|".join(RERUN) or NO_MATCH,
    log:
        PATTERNS.log("collect_refined_{simulator}"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/collect_table.py"


rule stitch_refined:
    input:
        DSE_INPUTS.refined_tables,
    output:
        summary=PATTERNS.refined.e2e_dir("{point}") / "summary.json",
        timeline=PATTERNS.refined.e2e_dir("{point}") / "timeline.json",
    params:
        point=get_point_params,
        runs=DSE_INPUTS.refined_runs_json,
    log:
        PATTERNS.log("stitch_refined/{point}"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/stitch_e2e.py"


rule write_pareto:
    input:
        selection=PATTERNS.dse_dir / "refine.json",
        summaries=get_e2e_summaries,
        refined=lambda wc: DSE_INPUTS.refined_summaries(wc, checkpoints),
        area=DSE_INPUTS.area_tables,
        refined_area=lambda wc: DSE_INPUTS.refined_area_tables(wc, checkpoints),
    output:
        PATTERNS.dse_dir / "pareto.csv",
    params:
        point_runs=json.dumps(PLAN.point_runs, sort_keys=True),
        labels=json.dumps(POINT_LABELS, sort_keys=True),
    log:
        PATTERNS.log("write_pareto"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/write_pareto.py"


rule plot_pareto:
    input:
        PATTERNS.dse_dir / "pareto.csv",
    output:
        **figure_outputs("pareto", "Design space"),
    log:
        PATTERNS.log("plot_pareto"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_pareto.py"
