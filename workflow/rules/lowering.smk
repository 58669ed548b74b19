"""Lowering outputs and trace-level memory coupling.

- lower_point: per design point, results/<study>/workloads/{point}/ - the workload file of every simulator
  (SCALE-Sim topology, Ramulator trace, MQSim trace, inter-chiplet traffic) from the stitched schedule.
- couple_memory: per SCALE-Sim run (chiplet configuration) of the study, a real SCALE-Sim run with its
  DRAM traces kept, converted to Ramulator traces and fed through the memory tier (results/<study>/
  coupling/{run_id}/); collect_memory_coupling and plot_memory_coupling summarize them. Only when the
  study simulates SCALE-Sim (the coupling needs its real traces).
"""


rule lower_point:
    input:
        get_e2e_tables,
    output:
        manifest=PATTERNS.workloads_dir("{point}") / "lowering.json",
        files=[PATTERNS.workloads_dir("{point}") / name for name in LOWERING_FILES],
    params:
        point=get_point_params,
        runs=get_point_runs,
    log:
        PATTERNS.log("lower_point/{point}"),
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
        table=PATTERNS.coupling_dir / "{run_id}" / "memory_coupling.csv",
        scalesim=directory(PATTERNS.coupling_dir / "{run_id}" / "scalesim"),
        ramulator=directory(PATTERNS.coupling_dir / "{run_id}" / "ramulator"),
    params:
        point=get_coupling_point,
        memory=get_coupling_memory,
        bytes_per_word=get_coupling_bytes_per_word,
        site=get_coupling_site,
        simulate_memory=get_coupling_simulate_memory,
    log:
        PATTERNS.log("couple_memory/{run_id}"),
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
            PATTERNS.coupling_dir / "memory_coupling.csv",
            caption="../report/memory_coupling.rst",
            category="Memory coupling",
        ),
        winners=PATTERNS.coupling_dir / "dataflow_winners.csv",
    log:
        PATTERNS.log("collect_memory_coupling"),
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
        table=PATTERNS.coupling_dir / "memory_coupling.csv",
    output:
        **figure_outputs("memory_coupling", "Memory coupling"),
    log:
        PATTERNS.log("plot_memory_coupling"),
    threads: 1
    resources:
        **LOCAL_RESOURCES,
    localrule: True
    conda:
        "../envs/eoesim.yaml"
    script:
        "../scripts/plot_memory_coupling.py"
