"""Every combination of serving features either runs to the end or is rejected at planning with one line.

A seeded sweep over the engine's options (morphology, router, composition, mapping, cache policy, HBM size,
scheduler, preemption, KV partition, expert loading, max_num_seqs, disaggregation, failures) at a small
scale. A larger sweep like this one found the stalls it now guards against: static batches that never
ended, KV quotas and composition groups waiting on each other, blocked parts holding every max_num_seqs
seat, decode instances that could not prefill a preempted sequence, and crashes on experts in no morphology
stage. Each configuration here must finish every request and leave no KV or pinned expert behind, or fail
``check_point`` with a ConfigError naming what is allowed.
"""
import random
from pathlib import Path

import pytest

from eoesim.errors import ConfigError
from eoesim.serving.batching import ModelState, form_batch
from eoesim.serving.sequences import Seq
from eoesim.stitch.e2e import check_point, stitch_point

SEEDS = range(60)


def random_study(seed: int) -> dict:
    rng = random.Random(seed)
    ne = rng.choice([3, 4, 6, 8])
    experts = [f"e{i:02d}" for i in range(ne)]
    morph = rng.choice(["tree", "tree", "tree2", "chain", "graph"])
    if morph == "tree":
        morphology = {"kind": "tree", "tree": {"root": experts}}
    elif morph == "tree2":
        morphology = {"kind": "tree", "tree": {"root": ["r0", "r1"], "r0": experts[:ne // 2],
                                               "r1": experts[ne // 2:]}}
    elif morph == "chain":
        morphology = {"kind": "chain", "chain": [experts[0], experts[1:3]]}
    else:
        morphology = {"kind": "graph", "manager": experts[-1],
                      "branches": [{"kind": "chain", "chain": [experts[0]]},
                                   {"kind": "tree", "tree": {"root": experts[1:-1]}}]}
    router = rng.choice([{"kind": "topk", "k": rng.choice([1, 2, 3])}, {"kind": "threshold", "threshold": 0.2}])
    grid = rng.choice([[2, 2], [2, 4], [4, 4]])
    strategy = rng.choice(["one_to_one", "one_to_many", "many_to_one", "many_to_many", "replicate"])
    if strategy in ("one_to_one", "replicate") and ne > grid[0] * grid[1]:
        strategy = "many_to_one"
    serving = {"scheduler": rng.choice(["continuous", "chunked_prefill", "prefill_priority", "static"]),
               "preemption": rng.choice(["recompute", "swap"]),
               "kv_partition": rng.choice(["shared", "equal", "popularity", "response_length"]),
               "expert_load": rng.choice(["streamed", "whole"]),
               "max_num_seqs": rng.choice([2, 8, 64])}
    if strategy == "replicate" and rng.random() < 0.4:
        serving["disaggregation"] = {"prefill_replicas": 1}
    p = {"seed": seed,
         "eoe": {"experts": [{"name": e, "preset": "tiny-25m"} for e in experts], "morphology": morphology,
                 "router": router,
                 "composition": {"kind": rng.choice(["representation_average", "weight_summation",
                                                     "sequential_aggregation"])},
                 "requests": {"arrival": rng.choice(["poisson", "gamma"]), "cv": 3.0,
                              "rate_per_s": rng.choice([50.0, 500.0]), "count": 40, "zipf_skew": 1.1,
                              "prompt_tokens": {"dist": "lognormal", "median": 256, "sigma": 0.6, "min": 8,
                                                "max": 2048},
                              "output_tokens": {"dist": "lognormal", "median": 64, "sigma": 0.6, "min": 1,
                                                "max": 512}}},
         "hardware": {"package": {"grid": grid},
                      "memory": {"hbm": {"stacks": rng.choice([1, 2, 4]),
                                         "capacity_gib": rng.choice([0.125, 0.25, 1.0])},
                                 "ddr": {"capacity_gib": 1.0}}},
         "mapping": {"strategy": strategy, "cache_policy": rng.choice(["static", "lru", "lfu"]),
                     "prefetch": rng.choice([0, 1])},
         "serving": serving}
    if rng.random() < 0.2:
        p["failures"] = {"events": [{"kind": "chiplet", "at_s": 0.05, "chiplet": 1}], "policy": "least_loaded"}
    return p


@pytest.mark.parametrize("seed", SEEDS)
def test_a_random_study_runs_to_the_end_or_is_rejected_at_planning(seed):
    p = random_study(seed)
    try:
        check_point(p)
    except ConfigError as e:
        assert "allowed" in str(e) and "\n" not in str(e)
        return
    r = stitch_point(p)
    assert r.summary["unfinished_requests"] == 0
    assert all(mem.kv_used < 1.0 for mem in r.engine.stacks)  # every block was given back
    assert all(abs(sum(changes)) < 1.0 for changes in r.engine.rec.kv_delta)  # the KV in use ends at none
    assert not any(n for mem in r.engine.stacks for n in mem.active.values())  # no expert left pinned
    assert not r.engine.parked  # every request sent back to wait for its experts was admitted again
    assert all(kv["peak_bytes"] <= kv["capacity_bytes"] for kv in r.summary["kv"].values())
    assert r.summary["ttft_s"]["max"] <= r.summary["e2e_latency_s"]["max"]



AZURE_CONV = Path(__file__).resolve().parents[2] / "config/traces/azure_llm_2023/AzureLLMInferenceTrace_conv.csv"


def sweep_study(seed, n_experts, morphology, router, composition, requests, grid, ddr_gib, mapping, serving,
                stacks=1, capacity_gib=0.125, **extra):
    """A study of ``n_experts`` tiny experts, by default on one 128-MiB HBM stack, as a heavier sweep drew it."""
    return {**extra, "seed": seed,
            "eoe": {"experts": [{"name": f"e{i:02d}", "preset": "tiny-25m"} for i in range(n_experts)],
                    "morphology": morphology, "router": router, "composition": {"kind": composition},
                    "requests": requests},
            "hardware": {"package": {"grid": grid},
                         "memory": {"hbm": {"stacks": stacks, "capacity_gib": capacity_gib},
                                    "ddr": {"capacity_gib": ddr_gib}}},
            "mapping": mapping, "serving": serving}


def lognormal(median, sigma, lo, hi):
    return {"dist": "lognormal", "median": median, "sigma": sigma, "min": lo, "max": hi}


def uniform(lo, hi):
    return {"dist": "uniform", "min": lo, "max": hi}


def azure(time_scale):
    return {"arrival": "trace", "trace_format": "azure_llm_2023", "trace_file": str(AZURE_CONV), "count": 200,
            "time_scale": time_scale}


GRAPH = {"kind": "graph", "branches": [{"kind": "chain", "chain": ["e00"]}]}
CHAIN = {"kind": "chain", "chain": ["e00", ["e01", "e02"]]}
THRESHOLD = {"kind": "threshold", "threshold": 0.3}
TOP2 = {"kind": "topk", "k": 2}
POISSON_2000 = {"arrival": "poisson", "rate_per_s": 2000.0, "count": 400, "zipf_skew": 1.1,
                "prompt_tokens": {"dist": "lognormal", "median": 256, "sigma": 0.6, "min": 8, "max": 2048},
                "output_tokens": {"dist": "lognormal", "median": 64, "sigma": 0.6, "min": 1, "max": 512}}

# Studies a heavier sweep (200-400 requests, Azure conversations sped up 50-200x, stacks of 0.1-0.25 GiB) found
# stalling, or crashing, with what was wrong:
STALLED = [
    # the manager's admission needed a merged expert evicted while its copy was in flight (pinned); once the copy
    # was in, only younger requests queued behind it pinned it, but a finished load woke only its own waiters:
    # 139 of 200 requests never finished
    pytest.param(sweep_study(
        308, 8, {**GRAPH, "manager": "e07", "branches": GRAPH["branches"] + [
            {"kind": "tree", "tree": {"root": ["e01", "e02", "e03", "e04", "e05", "e06"]}}]},
        TOP2, "weight_summation", azure(0.02), [4, 4], 0.5,
        {"strategy": "one_to_many", "cache_policy": "static", "prefetch": 0},
        {"scheduler": "static", "preemption": "swap", "expert_load": "streamed", "kv_partition": "response_length",
         "max_num_seqs": 8}), id="a-finished-load-woke-only-its-waiters"),
    # sequences of the chain branch swapped out to DDR pinned their expert, whose room older groups queued behind
    # them needed for their KV, while the swapped ones needed the room those groups' experts held: 199 of 200
    pytest.param(sweep_study(
        578, 4, {**GRAPH, "manager": "e03", "branches": GRAPH["branches"] + [
            {"kind": "tree", "tree": {"root": ["e01", "e02"]}}]},
        TOP2, "representation_average", azure(0.005), [2, 2], 0.5,
        {"strategy": "one_to_many", "cache_policy": "lfu", "prefetch": 0},
        {"scheduler": "prefill_priority", "preemption": "swap", "expert_load": "streamed", "kv_partition": "equal",
         "max_num_seqs": 2}), id="swapped-sequences-pinned-their-expert"),
    # a static batch admits its queue in order: an admission in it sent a younger group queued further on back to
    # wait for its experts, and the batch then admitted that group's part all the same (ValueError: not in deque)
    pytest.param(sweep_study(
        748, 3, CHAIN, THRESHOLD, "representation_average", POISSON_2000, [2, 2], 2.0,
        {"strategy": "many_to_one", "cache_policy": "lfu", "prefetch": 0},
        {"scheduler": "static", "preemption": "swap", "expert_load": "streamed", "kv_partition": "equal",
         "max_num_seqs": 8}), id="a-static-batch-admitted-a-sequence-sent-back"),
    # each queue's head needed an expert evicted that only older sequences pinned, but those were queued behind
    # other heads (or behind other swapped-out sequences) and could not go first either: 166 of 200
    pytest.param(sweep_study(
        543, 4, CHAIN, THRESHOLD, "representation_average", azure(0.005), [2, 2], 0.5,
        {"strategy": "many_to_one", "cache_policy": "lru", "prefetch": 0},
        {"scheduler": "continuous", "preemption": "swap", "expert_load": "streamed", "kv_partition": "popularity",
         "max_num_seqs": 8, "max_steps_per_event": 1, "chunk_tokens": 64}), id="older-sequences-queued-behind-heads"),
    # disaggregation with groups: a part recomputed on its prefill instance while ahead of its group only gets its
    # KV back there (it emits nothing new), and was never handed over to its decode instance; such parts took
    # every max_num_seqs seat of the prefill instance while their partners waited for them: 109 of 200
    pytest.param(sweep_study(
        799, 3, CHAIN, {"kind": "threshold", "threshold": 0.1}, "representation_average", azure(0.005), [2, 4], 2.0,
        {"strategy": "replicate", "cache_policy": "lfu", "prefetch": 0},
        {"scheduler": "prefill_priority", "preemption": "swap", "expert_load": "streamed", "kv_partition": "equal",
         "max_num_seqs": 8, "disaggregation": {"prefill_replicas": 1}}, stacks=4, capacity_gib=0.25),
        id="a-restored-part-stayed-on-its-prefill-instance"),
    # a part preempted (recompute) went to the head of its queue, ahead of parts whose blocks a partner's admission
    # had reserved: it waited there for room, while those reserved blocks - and the KV of their running partners,
    # blocked waiting for them - held it: 186 of 400 requests never finished
    pytest.param(sweep_study(
        146, 8, {"kind": "tree", "tree": {"root": ["r0", "r1"], "r0": ["e00", "e01", "e02", "e03"],
                                          "r1": ["e04", "e05", "e06", "e07"]}},
        TOP2, "representation_average", POISSON_2000, [2, 4], 0.5,
        {"strategy": "one_to_many", "cache_policy": "lfu", "prefetch": 1},
        {"scheduler": "chunked_prefill", "preemption": "swap", "expert_load": "whole", "kv_partition": "popularity",
         "max_num_seqs": 8, "max_steps_per_event": 1, "chunk_tokens": 64}, capacity_gib=0.25,
        failures={"events": [{"kind": "chiplet", "at_s": 0.01, "chiplet": 2}], "policy": "least_loaded"}),
        id="a-preempted-part-queued-ahead-of-reserved-partners"),
    # chiplet 2's six experts moved onto chiplet 3, whose stack holds six of the eight: their sequences queue at
    # once, before their experts are in, and pin those already there - every expert of the stack, so the load of
    # the seventh waited for ever (those waiting for it now wait for it outside the queues): 15 of 60
    pytest.param(sweep_study(
        593, 8, {"kind": "tree", "tree": {"root": ["r0", "r1"], "r0": ["e00", "e01", "e02", "e03"],
                                          "r1": ["e04", "e05", "e06", "e07"]}},
        TOP2, "representation_average", {**POISSON_2000, "count": 60}, [2, 2], 0.5,
        {"strategy": "many_to_one", "cache_policy": "static", "prefetch": 1},
        {"scheduler": "prefill_priority", "preemption": "swap", "expert_load": "streamed", "kv_partition": "equal",
         "max_num_seqs": 64, "load_balance": "round_robin", "kv_block_tokens": 32, "kv_watermark": 0.1},
        stacks=2, capacity_gib=0.25,
        failures={"events": [{"kind": "link", "src": 1, "dst": 0, "at_s": 0.01, "bandwidth_factor": 0.5},
                             {"kind": "chiplet", "at_s": 0.2, "chiplet": 2}], "policy": "least_loaded"}),
        id="moved-sequences-pinned-the-stack-their-expert-loads-into"),
    # a composition part recomputed (preempted) counted its generated tokens twice in its context once its prefill
    # was done: at the HBM limit, a group of three could not hold the blocks of both counts, and a part was
    # preempted again at every token, until the run stopped as a scheduling deadlock: 54 of 56
    pytest.param(
        {"seed": 1340,
         "eoe": {"experts": [{"name": "e00", "preset": "tiny-25m"}, {"name": "e01", "preset": "tiny-25m"},
                             {"name": "e02", "preset": "tiny-25m"}, {"name": "e03", "preset": "tiny-25m"},
                             {"name": "e04", "preset": "tiny-25m"}],
                 "morphology": {"kind": "tree",
                                "tree": {"root": ["r0", "r1", "e02"], "r0": ["e00"], "r1": ["e03", "e04", "e01"]}},
                 "router": {"kind": "topk", "k": 2}, "composition": {"kind": "representation_average"},
                 "requests": {"arrival": "poisson", "count": 56, "rate_per_s": 103.23,
                              "prompt_tokens": lognormal(512, 0.11, 1, 4096),
                              "output_tokens": lognormal(256, 0.64, 16, 512), "zipf_skew": 0.91}},
         "hardware": {"package": {"grid": [4, 4]},
                      "memory": {"hbm": {"stacks": 1, "capacity_gib": 0.196748}, "ddr": {"capacity_gib": 0.152}},
                      "chiplet": {"array": [16, 16]}},
         "mapping": {"strategy": "one_to_one", "cache_policy": "static"},
         "serving": {"scheduler": "prefill_priority", "kv_block_tokens": 32, "kv_watermark": 0.1}},
        id="recomputed-tokens-counted-twice"),
    # disaggregation, three experts sharing their decode stacks: an expert loaded for a sequence waiting to hand
    # over its KV was not pinned until the KV moved, and the load of another waiting hand-over"s expert evicted
    # it as it landed; that one was evicted in turn, for ever (a livelock): 33 of 69, and 174 of 189
    pytest.param(
        {"seed": 661,
         "eoe": {"experts": [{"name": "e00", "preset": "tiny-25m"}, {"name": "e01", "preset": "tiny-25m"},
                             {"name": "e02", "preset": "tiny-25m"}],
                 "morphology": {"kind": "tree", "tree": {"root": ["e00", "e01", "e02"]}},
                 "router": {"kind": "threshold", "threshold": 0.163, "noise_std": 2.72,
                            "cost": {"fixed_cycles": 16900, "hidden": 2048}},
                 "composition": {"kind": "sequential_aggregation"},
                 "requests": {"arrival": "poisson", "count": 69, "rate_per_s": 182.9,
                              "prompt_tokens": uniform(1, 512), "output_tokens": uniform(4, 64), "zipf_skew": 2.18}},
         "hardware": {"package": {"grid": [4, 5], "topology": "torus"},
                      "memory": {"hbm": {"stacks": 3, "capacity_gib": 0.07766,
                                         "serves": [[0, 2, 4, 8, 11, 14, 15, 17, 18], [6, 13],
                                                    [1, 3, 5, 7, 9, 10, 12, 16, 19]]},
                                 "ddr": {"capacity_gib": 1.0, "attach_chiplet": 3}}},
         "mapping": {"strategy": "many_to_many", "replicas": 2, "cache_policy": "lru"},
         "serving": {"kv_partition": "response_length", "expert_load": "whole",
                     "disaggregation": {"prefill_replicas": 1}}},
        id="a-hand-overs-expert-evicted-as-it-landed"),
    pytest.param(
        {"seed": 2984,
         "eoe": {"experts": [{"name": "e00", "preset": "tiny-25m"},
                             {"name": "e01", "preset": "tiny-25m", "layers": 3},
                             {"name": "e02", "preset": "tiny-25m", "layers": 4}],
                 "morphology": {"kind": "tree", "tree": {"root": ["e00", "e01", "e02"]}},
                 "router": {"kind": "topk", "k": 3}, "composition": {"kind": "sequential_aggregation"},
                 "requests": {"arrival": "gamma", "count": 189, "rate_per_s": 25.77,
                              "prompt_tokens": lognormal(64, 0.36, 4, 4096),
                              "output_tokens": lognormal(128, 0.52, 4, 128), "zipf_skew": 2.07, "cv": 0.5}},
         "hardware": {"package": {"grid": [2, 4], "topology": "torus", "link_bandwidth_gb_per_s": 512.0},
                      "memory": {"hbm": {"stacks": 4, "capacity_gib": 0.0399}, "ddr": {"capacity_gib": 0.0}}},
         "mapping": {"strategy": "many_to_many", "replicas": 3, "cache_policy": "lfu"},
         "serving": {"max_num_seqs": 2, "expert_load": "whole", "disaggregation": {"prefill_replicas": 1}}},
        id="a-hand-overs-expert-evicted-as-it-landed-3-replicas"),
    # disaggregation, one expert per stack: prefilled sequences waiting to hand over their KV to a stack whose one
    # expert only queued prefills pinned (with no KV) waited for ever, as their KV kept those prefills waiting; the
    # hand-over's load now parks such owners under the sequence's ticket, and a hand-over recomputed on its
    # prefill instance loads its expert there again (it could have left): 54 of 159
    pytest.param(
        {"seed": 5830,
         "eoe": {"experts": [{"name": "e00", "preset": "tiny-25m"}, {"name": "e01", "preset": "tiny-25m"},
                             {"name": "e02", "preset": "tiny-25m"}, {"name": "e03", "preset": "tiny-25m"}],
                 "morphology": {"kind": "tree", "tree": {"root": ["e00", "e01", "e02", "e03"]}},
                 "router": {"kind": "threshold", "threshold": 0.134, "cost": {"fixed_cycles": 70253, "hidden": 0}},
                 "composition": {"kind": "sequential_aggregation"},
                 "requests": {"arrival": "trace", "trace_format": "azure_llm_2023", "trace_file": str(AZURE_CONV),
                              "count": 159, "time_scale": 0.07872}},
         "hardware": {"package": {"grid": [4, 5]},
                      "memory": {"hbm": {"stacks": 4, "capacity_gib": 0.055314,
                                         "serves": [[1, 9, 12, 13, 15, 17, 18], [3, 11], [0, 4, 6, 8, 10, 14],
                                                    [2, 5, 7, 16, 19]], "bandwidth_gb_per_s": 256.0},
                                 "ddr": {"capacity_gib": 0.0}}},
         "mapping": {"strategy": "many_to_many", "replicas": 2, "cache_policy": "lfu", "prefetch": True},
         "serving": {"scheduler": "chunked_prefill", "preemption": "recompute", "kv_partition": "response_length",
                     "max_num_seqs": 16, "chunk_tokens": 256, "kv_block_tokens": 16, "load_balance": "round_robin",
                     "expert_load": "streamed", "max_steps_per_event": 64,
                     "disaggregation": {"prefill_replicas": 1}}},
        id="a-hand-over-waited-for-a-stack-queued-prefills-pinned"),
]


@pytest.mark.parametrize("study", STALLED)
def test_a_study_the_heavier_sweep_found_stalling_runs_to_the_end(study):
    r = stitch_point(study)
    assert r.summary["unfinished_requests"] == 0
    assert all(mem.kv_used < 1.0 for mem in r.engine.stacks)


class _RoomyKV:
    """Every block fits (the KVSpace protocol of eoesim.serving.batching)."""

    def fits(self, seq, blocks, watermark):
        return True

    def alloc(self, seq, blocks, hold=True):
        seq.blocks += blocks

    def hold(self, seq, blocks):
        return None

    def admit(self, seq):
        return None

    def reserve_admission(self, seq, blocks):
        seq.blocks += blocks
        return True


def test_a_static_batch_whose_prefill_iteration_did_not_start_is_prefilled_next():
    """A static batch of prompts 8 and 12 prefills padded to 12. When the iteration that formed it does not start
    (its instance waits for a composition partner's instance and drops the batches it formed), the next one is
    that prefill again. Before, the batch existed and the next iteration decoded its members unprefilled: their
    first tokens were never recorded (a random-sweep study's TTFT was NaN)."""
    m = ModelState("a", None)
    a, b = Seq(1, 0, "a", 8, 4, 0.0, None, None), Seq(2, 1, "a", 12, 4, 0.0, None, None)
    m.waiting.extend([a, b])
    cfg = {"kv_block_tokens": 4, "max_num_seqs": 4, "max_batched_tokens": 64, "chunk_tokens": 64}
    kv = _RoomyKV()
    formed = form_batch(m, "static", cfg, kv, True, True, 8)
    assert (formed.decodes, formed.prefills) == ([], [(a, 12), (b, 12)])
    again = form_batch(m, "static", cfg, kv, True, True, 8)
    assert (again.decodes, again.prefills) == ([], [(a, 12), (b, 12)])
    a.prefilled, b.prefilled = 8, 12  # the prefill ran (and emitted each first token)
    a.generated = b.generated = 1
    decode = form_batch(m, "static", cfg, kv, True, True, 8)
    assert (decode.decodes, decode.prefills, decode.steps) == ([a, b], [], 3)
