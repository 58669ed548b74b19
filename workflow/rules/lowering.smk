"""Lowering outputs and trace-level memory coupling.

- lower_point: per design point, results/{study}/workloads/{point}/ - the workload file of every simulator
  (SCALE-Sim topology, Ramulator trace, MQSim trace, inter-chiplet traffic) from the stitched schedule.
- couple_memory: per SCALE-Sim run (chiplet configuration) of the study, a real SCALE-Sim run with its
  DRAM traces kept, converted to Ramulator traces and fed through the memory tier (results/{study}/
  coupling/{run_id}/); collect_memory_coupling and plot_memory_coupling summarize them. Only when the
  study simulates SCALE-Sim (the coupling needs its real traces).
"""
from eoesim.eoe.expert import resolve_experts

LOWERING_FILES = ("scalesim_topology.csv", "ramulator_trace.txt", "mqsim_trace.txt", "traffic.json",
                  "traffic_matrix.csv")
COUPLED = "scalesim" in SIMULATED


def _coupling_run_ids():
    return sorted(PLAN.runs.get("scalesim", {})) if COUPLED else []


def lowering_targets():
    targets = [PATHS.base / "workloads" / p.id / "lowering.json" for p in STUDY.points]
    if COUPLED:
        targets += [PATHS.base / "coupling" / "memory_coupling.csv",
                    PATHS.base / "figures" / "memory_coupling.pdf"]
    return targets


FINAL_TARGETS.append(lowering_targets)


def _first_point_of_run(run_id):
    """The first design point whose SCALE-Sim run is ``run_id`` (its memory system and experts are used)."""
    return next(p for p in STUDY.points if PLAN.point_runs[p.id].get("scalesim") == run_id)


def get_coupling_point(wildcards):
    return json.dumps(PLAN.runs["scalesim"][wildcards.run_id], sort_keys=True)


def get_coupling_memory(wildcards):
    p = _first_point_of_run(wildcards.run_id)
    rid = PLAN.point_runs[p.id].get("ramulator")
    ram = PLAN.runs["ramulator"][rid] if rid else PLAN.simulator("ramulator").point_params(p.params)
    return json.dumps(ram, sort_keys=True)


def get_coupling_bytes_per_word(wildcards):
    """SCALE-Sim words are the experts' weights: the first expert's bytes per weight."""
    return resolve_experts(_first_point_of_run(wildcards.run_id).params["eoe"]["experts"])[0].bytes_per_weight


def get_coupling_site(wildcards):
    return json.dumps({sim: PLAN.site.get(sim, {}) for sim in ("scalesim", "ramulator")}, sort_keys=True)


def get_coupling_simulate_memory(wildcards):
    """Real Ramulator 2 for the memory tier when the study simulates Ramulator, else its surrogate."""
    return "ramulator" in SIMULATED


def get_coupling_runtime(wildcards):
    return PLAN.simulator("scalesim").resources(PLAN.runs["scalesim"][wildcards.run_id]).runtime_min * 2


def get_coupling_tables(wildcards):
    return [str(PATHS.base / "coupling" / rid / "memory_coupling.csv") for rid in _coupling_run_ids()]


rule lower_point:
    input:
        get_e2e_tables,
    output:
        manifest="results/{study}/workloads/{point}/lowering.json",
        files=[f"results/{{study}}/workloads/{{point}}/{name}" for name in LOWERING_FILES],
    params:
        point=get_point_params,
        runs=get_point_runs,
    log:
        "results/{study}/logs/lower_point/{point}.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/lower_point.py"


rule couple_memory:
    output:
        table="results/{study}/coupling/{run_id}/memory_coupling.csv",
        scalesim=directory("results/{study}/coupling/{run_id}/scalesim"),
        ramulator=directory("results/{study}/coupling/{run_id}/ramulator"),
    params:
        point=get_coupling_point,
        memory=get_coupling_memory,
        bytes_per_word=get_coupling_bytes_per_word,
        site=get_coupling_site,
        simulate_memory=get_coupling_simulate_memory,
    log:
        "results/{study}/logs/couple_memory/{run_id}.log",
    threads: 1
    resources:
        mem_mb=2048,
        runtime=get_coupling_runtime,
        cpus_per_task=1,
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/couple_memory.py"


rule collect_memory_coupling:
    input:
        get_coupling_tables,
    output:
        table=report(
            "results/{study}/coupling/memory_coupling.csv",
            caption="../report/memory_coupling.rst",
            category="Memory coupling",
        ),
        winners="results/{study}/coupling/dataflow_winners.csv",
    log:
        "results/{study}/logs/collect_memory_coupling.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/collect_memory_coupling.py"


rule plot_memory_coupling:
    input:
        table="results/{study}/coupling/memory_coupling.csv",
    output:
        pdf=report(
            "results/{study}/figures/memory_coupling.pdf",
            caption="../report/memory_coupling.rst",
            category="Memory coupling",
        ),
        png="results/{study}/figures/memory_coupling.png",
        csv="results/{study}/figures/memory_coupling.csv",
    log:
        "results/{study}/logs/plot_memory_coupling.log",
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_memory_coupling.py"
