"""Input functions, constants and rule-all targets of rules/lowering.smk (Snakemake's linter wants them apart from rules)."""
from eoesim.eoe.expert import resolve_experts


LOWERING_FILES = ("scalesim_topology.csv", "ramulator_trace.txt", "mqsim_trace.txt", "traffic.json",
                  "traffic_matrix.csv")


COUPLED = "scalesim" in SIMULATED


def _coupling_run_ids():
    return sorted(PLAN.runs.get("scalesim", {})) if COUPLED else []


def lowering_targets():
    targets = [PATHS.workloads_dir(p.id) / "lowering.json" for p in STUDY.points]
    if COUPLED:
        targets += [PATHS.coupling_dir / "memory_coupling.csv",
                    PATHS.figure("memory_coupling", ".pdf")]
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
    return json.dumps({sim: site_identity(PLAN.site.get(sim, {})) for sim in ("scalesim", "ramulator")},
                      sort_keys=True)


def get_coupling_simulate_memory(wildcards):
    """Real Ramulator 2 for the memory tier when the study simulates Ramulator, else its surrogate."""
    return "ramulator" in SIMULATED


def get_coupling_runtime(wildcards):
    return PLAN.simulator("scalesim").resources(PLAN.runs["scalesim"][wildcards.run_id]).runtime_min * 2


def get_coupling_tables(wildcards):
    return [str(PATHS.coupling_dir / rid / "memory_coupling.csv") for rid in _coupling_run_ids()]
