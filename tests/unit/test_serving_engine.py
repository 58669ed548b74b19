"""The serving engine against hand-computed cases (closed forms of the cost model, as Vidur checks its own).

Cost model of these tests (``TableComponentModel``): every GEMM instance costs ``UNIT`` cycles at 1 GHz
(``default_cycles``), whatever its shape, so an iteration's compute is a count of GEMMs. For the tiny-25m
expert (4 layers, 4 heads) an iteration over ``n`` sequences is, per layer, 4 linear GEMMs (one each,
the batch stacked along M) and 2 attention GEMMs per sequence with ``heads`` instances each, plus one
LM-head GEMM for the batch: ``C(n) = 4*4 + 4*2*4*n + 1 = 17 + 32 n`` units. Memory and links are fast
enough to vanish unless a test says otherwise.
"""
import copy
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from eoesim.errors import ConfigError
from eoesim.stitch.components import TableComponentModel
from eoesim.stitch.e2e import stitch_point

UNIT = 1000  # cycles per GEMM instance
US = UNIT * 1e-9  # seconds per unit at 1 GHz


def model(hbm_bw=1e18, link_bw=1e18, hop_s=0.0, ssd_bw=1e18, macs_per_cycle=None):
    kw = dict(memory_bandwidth_bytes_per_s={"hbm": hbm_bw, "ddr": 1e18}, ssd_bandwidth_bytes_per_s=ssd_bw,
              link_bandwidth_bytes_per_s=link_bw, hop_latency_s=hop_s)
    if macs_per_cycle:
        return TableComponentModel(macs_per_cycle=macs_per_cycle, **kw)
    return TableComponentModel(default_cycles=UNIT, **kw)


def trace(tmp_path, rows):
    path = tmp_path / "trace.csv"
    path.write_text("arrival_s,domain,prompt_tokens,output_tokens\n" +
                    "".join(f"{t},0,{p},{o}\n" for t, p, o in rows))
    return str(path)


def params(tmp_path, rows, experts=1, serving=None, grid=(1, 1), hbm_gib=16.0, **extra):
    p = {"seed": 1,
         "eoe": {"experts": [{"name": f"e{i}", "preset": "tiny-25m"} for i in range(experts)],
                 "morphology": {"kind": "tree"}, "router": {"kind": "topk", "k": 1, "cost": {"hidden": 0}},
                 "requests": {"arrival": "trace", "trace_file": trace(tmp_path, rows)}},
         "hardware": {"package": {"grid": list(grid), "link_latency_cycles": 0},
                      "memory": {"hbm": {"capacity_gib": hbm_gib}}},
         "mapping": {"strategy": "one_to_one", "cache_policy": "static"},
         "serving": {"max_steps_per_event": 1, **(serving or {})}}
    p.update(extra)
    return p


def C(n):
    return 17 + 32 * n


def done_times(result):
    return result.engine.rec.done


def test_one_request_on_an_idle_system_ttft_is_the_prefill_and_tpot_one_decode_iteration(tmp_path):
    r = stitch_point(params(tmp_path, [(0.0, 16, 5)]), model())
    s = r.summary
    assert s["ttft_s"]["mean"] == pytest.approx(C(1) * US)
    assert s["tpot_s"]["mean"] == pytest.approx(C(1) * US)
    assert s["e2e_latency_s"]["mean"] == pytest.approx(5 * C(1) * US)
    assert s["unfinished_requests"] == 0


def test_memory_bound_decode_takes_its_bytes_over_the_stack_bandwidth(tmp_path):
    # every GEMM free: an iteration lasts its HBM bytes / bandwidth (the roofline's memory side)
    from eoesim.eoe.expert import EXPERT_PRESETS, Expert, kv_bytes_per_token, streamed_weight_bytes

    e = Expert("e0", **EXPERT_PRESETS["tiny-25m"])
    bw = 1e11
    m = TableComponentModel(default_cycles=0, memory_bandwidth_bytes_per_s={"hbm": bw, "ddr": 1e18},
                            ssd_bandwidth_bytes_per_s=1e18, link_bandwidth_bytes_per_s=1e18)
    r = stitch_point(params(tmp_path, [(0.0, 16, 3)]), m)
    w, kv = streamed_weight_bytes(e), kv_bytes_per_token(e)
    prefill = (w + 16 * kv) / bw  # weights once, the prompt's KV written
    decode1 = (w + 17 * kv + kv) / bw  # weights, the 17 cached tokens read, one written
    decode2 = (w + 18 * kv + kv) / bw
    assert r.summary["ttft_s"]["mean"] == pytest.approx(prefill)
    assert r.summary["e2e_latency_s"]["mean"] == pytest.approx(prefill + decode1 + decode2)


@pytest.mark.parametrize("steps_per_event", [1, 64])
def test_parts_stepping_together_on_one_stack_pay_every_iterations_tail(tmp_path, steps_per_event):
    """Top-2 representation averaging over two experts on one stack, the second with a wider FFN (more
    bytes); each iteration computes C(1) on either chiplet, so a part alone streams at most its bytes / C(1)
    (its cap), and the two together overfill the stack. Iteration by iteration both get half the stack
    until the smaller is done, then the larger goes on alone at its cap: T = 2 b0 / bw + (b1 - b0) C / b1,
    plus the composition (one GEMM, 1 unit). Several iterations per event pay the same tail every iteration
    (before, their bytes shared the stack evenly to the end: (b0 + b1) / bw, TPOT 2 % lower)."""
    from eoesim.eoe.expert import EXPERT_PRESETS, Expert, kv_bytes_per_token, streamed_weight_bytes

    e0 = Expert("e0", **EXPERT_PRESETS["tiny-25m"])
    e1 = Expert("e1", **{**EXPERT_PRESETS["tiny-25m"], "d_ff": 2048})
    w0, w1, kv = streamed_weight_bytes(e0), streamed_weight_bytes(e1), kv_bytes_per_token(e0)
    c = C(1) * US
    bw = 1.5 * w0 / c  # each alone under the stack's bandwidth (caps 463 and 548 GB/s), both over it
    p = params(tmp_path, [(0.0, 16, 40)], experts=2, grid=(1, 2), serving={"max_steps_per_event": steps_per_event})
    p["eoe"]["experts"][1]["d_ff"] = 2048
    p["eoe"]["router"]["k"] = 2
    p["eoe"]["composition"] = {"kind": "representation_average"}
    p["hardware"]["memory"]["hbm"]["stacks"] = 1
    tpot = stitch_point(p, model(hbm_bw=bw)).summary["tpot_s"]["mean"]
    tail, even = [], []
    for j in range(1, 40):  # decode j reads 16 + j cached tokens and writes one
        b0, b1 = w0 + (17 + j) * kv, w1 + (17 + j) * kv
        tail.append(2 * b0 / bw + (b1 - b0) * c / b1 + US)
        even.append((b0 + b1) / bw + US)
    assert tpot == pytest.approx(np.mean(tail), rel=1e-6)
    assert np.mean(even) < 0.98 * tpot


def test_a_composition_part_frees_its_kv_at_its_last_token_while_its_partner_lags(tmp_path):
    """Request 1 is averaged over e0 (chiplet 0, stack 0) and e1 (chiplet 1, stack 1); request 0, on e1 only,
    arrives first with a 512-token prompt. The part on e0 prefills at once and has its only token at 1 + C(1);
    the part on e1 prefills in the next iteration, after request 0's: C(1) + C(1), composed 1 unit later. The
    part on e0 runs no more after its token: its 16 tokens of KV (65,536 B) are freed then, not held until the
    composition (where a stack short of room could preempt and recompute it, to wait again)."""
    path = tmp_path / "lagging_partner.csv"
    path.write_text("arrival_s,domain,prompt_tokens,output_tokens\n0.0,1,512,1\n1e-6,0,16,1\n")
    p = params(tmp_path, [], experts=2, grid=(1, 2))
    p["eoe"]["requests"] = {"arrival": "trace", "trace_file": str(path)}
    p["eoe"]["router"] = {"kind": "fixed", "assignment": {"0": ["e0", "e1"], "1": ["e1"]}, "cost": {"hidden": 0}}
    p["eoe"]["composition"] = {"kind": "representation_average"}
    p["hardware"]["memory"]["hbm"]["stacks"] = 2
    r = stitch_point(p, model())
    rec = r.engine.rec
    assert done_times(r) / US == pytest.approx([C(1), 2 * C(1) + 1])
    assert list(rec.kv_delta[0]) == [65536.0, -65536.0]
    assert np.array(rec.kv_t[0]) / US == pytest.approx([1.0, 1.0 + C(1)])


def test_continuous_vs_static_batching_finish_times_by_hand(tmp_path):
    # three requests at t=0 (outputs 2, 4, 6) and a fourth at 1 us (output 2), prompts of 16 tokens
    rows = [(0.0, 16, 2), (0.0, 16, 4), (0.0, 16, 6), (1e-6, 16, 2)]
    cont = stitch_point(params(tmp_path, rows, serving={"scheduler": "continuous"}), model())
    # continuous: prefill of 3 (C(3)); D joins the next iteration: 3 decodes + D's prefill (C(4)); A is done.
    # then B, C decode and D decodes once more (C(3)): D done; B (2 more) and C: C(2); B done; C: 2 x C(1)
    t1 = C(3)
    t2 = t1 + C(4)
    t3 = t2 + C(3)
    t4 = t3 + C(2)
    t5 = t4 + 2 * C(1)
    assert done_times(cont) / US == pytest.approx(np.array([t2, t4, t5, t3]) * 1.0)
    assert cont.summary["batch"]["iterations"] == 6
    static = stitch_point(params(tmp_path, rows, serving={"scheduler": "static"}), model())
    # static: the batch of 3 prefills (C(3)), then decodes until its longest output (5 more steps); finished
    # sequences stay as padding rows (free in this model, where a GEMM's cost ignores M); D waits for the
    # batch to end, then runs alone: prefill + 1 decode
    s1 = C(3)
    a = s1 + C(3)  # A's second token
    b = a + C(2) + C(2)
    c = b + 2 * C(1)
    d = c + C(1) + C(1)
    assert done_times(static) / US == pytest.approx(np.array([a, b, c, d]) * 1.0)
    assert static.summary["batch"]["iterations"] == 8


def test_static_batching_pays_for_padding_rows_when_gemms_scale_with_m(tmp_path):
    rows = [(0.0, 16, 2), (0.0, 16, 40)]
    m = model(macs_per_cycle=64)
    cont = stitch_point(params(tmp_path, rows, serving={"scheduler": "continuous"}), m)
    static = stitch_point(params(tmp_path, rows, serving={"scheduler": "static"}), m)
    # same sequences, same prefill; after the short one ends, static still computes its row
    assert static.summary["e2e_latency_s"]["max"] > cont.summary["e2e_latency_s"]["max"]


def test_a_kv_cache_of_exactly_k_blocks_makes_the_next_sequence_wait(tmp_path):
    # 16-token blocks and room for exactly 2 after the weights; three 16-token prompts with one output token
    # need one block each: two are admitted and prefilled together, the third waits until they are done
    from eoesim.eoe.expert import EXPERT_PRESETS, Expert, kv_bytes_per_token, param_bytes

    e = Expert("e0", **EXPERT_PRESETS["tiny-25m"])
    block = 16 * kv_bytes_per_token(e)
    hbm = (param_bytes(e) + 2 * block) / 2**30
    rows = [(0.0, 16, 1), (0.0, 16, 1), (0.0, 16, 1)]
    r = stitch_point(params(tmp_path, rows, hbm_gib=hbm, serving={"kv_watermark": 0.0}), model())
    first = r.engine.rec.first / US
    assert first[:2] == pytest.approx([C(2), C(2)])
    assert first[2] == pytest.approx(C(2) + C(1))
    assert r.summary["kv"]["hbm0"]["peak_bytes"] == pytest.approx(2 * block)
    assert r.summary["queueing_s"]["max"] == pytest.approx(C(2) * US)
    roomy = stitch_point(params(tmp_path, rows, serving={"kv_watermark": 0.0}), model())
    assert roomy.engine.rec.first / US == pytest.approx([C(3)] * 3)


def test_preemption_by_recompute_is_counted_when_decode_blocks_run_out(tmp_path):
    # room for 3 blocks: two sequences admitted with 1 block each (prompt 16); at their 17th token each needs
    # a second block - only one fits, so the most recently admitted one is preempted and recomputed later
    from eoesim.eoe.expert import EXPERT_PRESETS, Expert, kv_bytes_per_token, param_bytes

    e = Expert("e0", **EXPERT_PRESETS["tiny-25m"])
    block = 16 * kv_bytes_per_token(e)
    hbm = (param_bytes(e) + 3 * block) / 2**30
    rows = [(0.0, 16, 8), (0.0, 16, 8)]
    r = stitch_point(params(tmp_path, rows, hbm_gib=hbm, serving={"kv_watermark": 0.0}), model())
    assert r.summary["preemptions"]["total"] >= 1
    assert r.summary["unfinished_requests"] == 0
    swap = stitch_point(params(tmp_path, rows, hbm_gib=hbm, serving={"kv_watermark": 0.0, "preemption": "swap"}),
                        model())
    assert swap.summary["preemptions"]["total"] >= 1
    assert swap.summary["unfinished_requests"] == 0
    # the second sequence is the one swapped: its prompt block goes to DDR and comes back; the second block
    # it asked for was never allocated, so it does not move
    assert swap.summary["preemptions"]["total"] == 1
    assert swap.summary["preemptions"]["swap_out_bytes"] == pytest.approx(block)
    assert swap.summary["preemptions"]["swap_in_bytes"] == pytest.approx(block)
    assert r.summary["preemptions"]["swap_out_bytes"] == 0.0


@pytest.mark.parametrize("preemption", ["recompute", "swap"])
def test_a_preempted_sequence_longer_than_the_watermark_allows_is_admitted_again_once_alone(tmp_path, preemption):
    # 16-token blocks, watermark 0.5; planning leaves room for the longest sequence alone: 48 + 80 tokens = 8
    # blocks (its 3 prompt blocks with half the space free need only 6). Z (prompt 16) and Y (prompt 48) are
    # prefilled together (Y's 3 blocks fit beside Z's 1 with 4 free); decode step j needs ceil((16+j)/16) +
    # ceil((48+j)/16) blocks: 8 up to j = 32, 10 at j = 33, so Y (admitted last) is preempted after 1 + 32
    # tokens. Its 48 + 33 tokens (6 blocks) never fit with half of the 8 free: it is admitted again (recomputed
    # in one prefill that emits its 34th token, or its 5 blocks swapped in - over links that take no time - to
    # decode it) with only the 2 blocks planning left beside it free, once Z is done
    from eoesim.eoe.expert import EXPERT_PRESETS, Expert, kv_bytes_per_token, param_bytes

    e = Expert("e0", **EXPERT_PRESETS["tiny-25m"])
    block = 16 * kv_bytes_per_token(e)
    hbm = (param_bytes(e) + 8 * block) / 2**30
    rows = [(0.0, 16, 80), (0.0, 48, 80)]
    r = stitch_point(params(tmp_path, rows, hbm_gib=hbm, serving={"kv_watermark": 0.5, "kv_block_tokens": 16,
                                                                  "preemption": preemption}), model())
    assert r.summary["preemptions"]["total"] == 1
    z_done = C(2) + 32 * C(2) + 47 * C(1)  # prefill, 32 decodes beside Y, 47 alone
    assert done_times(r) / US == pytest.approx([z_done, z_done + C(1) + 46 * C(1)])


def test_chunked_prefill_bounds_the_stall_of_running_decodes_to_one_chunk_iteration(tmp_path):
    # a decode is running when a 2048-token prompt arrives; with whole-prompt prefill the decode's gap is the
    # whole prompt's iteration, with 256-token chunks at most one chunk's iteration
    rows = [(0.0, 16, 60), (3e-5, 2048, 2)]
    m = model(macs_per_cycle=256)
    cont = stitch_point(params(tmp_path, rows, serving={"scheduler": "continuous"}), m)
    chunk = stitch_point(params(tmp_path, rows, serving={"scheduler": "chunked_prefill", "chunk_tokens": 256}), m)
    gap_cont = cont.summary["itl_s"]["max"]
    gap_chunk = chunk.summary["itl_s"]["max"]
    one_chunk = chunk.engine.rec.steps_array()
    longest_chunk_iteration = float(((one_chunk["t1"] - one_chunk["t0"]) / one_chunk["k"]).max())
    assert gap_chunk <= longest_chunk_iteration * (1 + 1e-9)
    assert gap_chunk < gap_cont / 3


def test_bad_serving_settings_are_rejected_naming_key_value_and_what_is_allowed(tmp_path):
    for serving, key in (({"max_num_seqs": 0}, "serving.max_num_seqs"),
                         ({"kv_block_tokens": 24}, "serving.kv_block_tokens"),
                         ({"slo": {"ttft_s": 0}}, "serving.slo.ttft_s"),
                         ({"scheduler": "fifo"}, "serving.scheduler"),
                         ({"scheduler": "static", "disaggregation": {"prefill_replicas": 1}}, "serving.scheduler")):
        p = params(tmp_path, [(0.0, 16, 2)], serving=serving)
        with pytest.raises(ConfigError, match=key.replace(".", r"\.") + ".*allowed"):
            stitch_point(p, model())


def test_same_study_twice_gives_identical_summaries(tmp_path):
    p = params(tmp_path, [(0.0, 16, 5), (1e-5, 40, 9), (2e-5, 30, 3)], experts=2, grid=(1, 2),
               serving={"max_steps_per_event": 64})
    p["mapping"]["cache_policy"] = "lru"
    a = stitch_point(copy.deepcopy(p), model()).summary
    b = stitch_point(copy.deepcopy(p), model()).summary
    assert a == b


SUMMARY_OF_A_CACHE_BOUND_STUDY = """
import json
from eoesim.serving.engine import Engine
from eoesim.serving.metrics import summarize
experts = [f"e{i:02d}" for i in range(16)]
p = {"seed": 1, "eoe": {"experts": [{"name": e, "preset": "tiny-25m"} for e in experts],
     "morphology": {"kind": "tree", "tree": {"root": experts}}, "router": {"kind": "topk", "k": 2},
     "requests": {"arrival": "poisson", "rate_per_s": 40.0, "count": 300}},
     "hardware": {"package": {"grid": [4, 4]}, "memory": {"hbm": {"stacks": 4, "capacity_gib": 0.125}}},
     "mapping": {"strategy": "one_to_one", "cache_policy": "lru", "prefetch": 1}}
e = Engine(p)
e.run()
print(json.dumps(summarize(e, 0.0), sort_keys=True, default=str))
"""


def test_same_study_in_two_processes_gives_identical_summaries():
    """Each process hashes strings differently (PYTHONHASHSEED): nothing the engine orders may follow a set
    of names. 16 experts on 4 stacks that hold 3 each, top-2 groups: loads of several experts per group."""
    out = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, "-c", SUMMARY_OF_A_CACHE_BOUND_STUDY], env=env, capture_output=True,
                             text=True, check=True)
        out.append(json.loads(run.stdout))
    assert out[0]["cache"]["hbm_loads"] > 10  # the case it checks: groups wait for loads on several stacks
    assert out[0] == out[1]


def test_disaggregated_prefill_then_kv_moves_over_the_link_then_decode_elsewhere(tmp_path):
    # two replicas of one expert on a 1x2 grid, one HBM stack each; replica 0 prefills, replica 1 decodes.
    # After the prefill (first token, C(1)) the sequence's KV - its 16 prompt tokens: the first generated token's
    # KV is written by the first decode, on replica 1 - moves from stack 0 over link 0->1 (1 GB/s, the slowest
    # device on the way) to stack 1; then 4 decodes on replica 1.
    from eoesim.eoe.expert import EXPERT_PRESETS, Expert, kv_bytes_per_token

    e = Expert("e0", **EXPERT_PRESETS["tiny-25m"])
    p = params(tmp_path, [(0.0, 16, 5)], grid=(1, 2),
               serving={"disaggregation": {"prefill_replicas": 1}})
    p["mapping"] = {"strategy": "many_to_many", "replicas": 2, "cache_policy": "static"}
    p["hardware"]["memory"]["hbm"]["stacks"] = 2
    r = stitch_point(p, model(link_bw=1e9, hbm_bw=1e18))
    kv_move = 16 * kv_bytes_per_token(e) / 1e9
    assert r.summary["ttft_s"]["mean"] == pytest.approx(C(1) * US)
    assert r.summary["e2e_latency_s"]["mean"] == pytest.approx(5 * C(1) * US + kv_move)
    assert r.summary["preemptions"]["kv_moved_bytes"] == pytest.approx(16 * kv_bytes_per_token(e))
    roles = {v["role"] for v in r.summary["batch"]["per_instance"].values()}
    assert roles == {"prefill", "decode"}


def _disaggregated(tmp_path, rows, stacks, blocks_per_stack, preemption="recompute"):
    """Two replicas of one expert on a 1x2 grid, replica 0 prefills, replica 1 decodes; each stack holds the
    expert's weights and ``blocks_per_stack`` KV blocks."""
    from eoesim.eoe.expert import EXPERT_PRESETS, Expert, kv_bytes_per_token, param_bytes

    e = Expert("e0", **EXPERT_PRESETS["tiny-25m"])
    block = 16 * kv_bytes_per_token(e)
    p = params(tmp_path, rows, grid=(1, 2), hbm_gib=(param_bytes(e) + blocks_per_stack * block) / 2**30,
               serving={"disaggregation": {"prefill_replicas": 1}, "kv_watermark": 0.0, "preemption": preemption})
    p["mapping"] = {"strategy": "many_to_many", "replicas": 2, "cache_policy": "static"}
    p["hardware"]["memory"]["hbm"]["stacks"] = stacks
    return p


@pytest.mark.parametrize("scheduler", ["continuous", "chunked_prefill"])
def test_a_decode_instance_prefills_again_the_sequences_it_preempts(tmp_path, scheduler):
    # 8-token prompts (1 block each), 16 outputs; the decode stack holds 3 blocks: both sequences decode with
    # one block until their 17th token, when each needs a second - the later one is preempted (recompute).
    # Its prefill runs on the decode instance (before, it waited there forever: decode instances never
    # prefilled); with 16-token chunks its 8 + 9 tokens take two iterations (before, the second never ran).
    p = _disaggregated(tmp_path, [(0.0, 8, 16), (0.0, 8, 16)], stacks=2, blocks_per_stack=3)
    p["serving"].update(scheduler=scheduler, chunk_tokens=16)
    r = stitch_point(p, model())
    assert r.summary["preemptions"]["total"] >= 1
    assert r.summary["unfinished_requests"] == 0


def test_a_hand_over_within_one_stack_reuses_the_room_of_the_blocks_it_leaves(tmp_path):
    # one stack for both replicas, room for 2 blocks: the prefilled sequence holds 1 block (16-token prompt)
    # and its decode replica needs 2 (17 tokens + the next); its own block is freed as the 2 are taken, so it
    # fits (before, it waited for room it held itself, forever)
    r = stitch_point(_disaggregated(tmp_path, [(0.0, 16, 3)], stacks=1, blocks_per_stack=2), model())
    assert r.summary["unfinished_requests"] == 0
    roles = {v["role"] for v in r.summary["batch"]["per_instance"].values()}
    assert roles == {"prefill", "decode"}


@pytest.mark.parametrize("steps_per_event", [1, 64])
def test_kv_in_use_counts_a_block_from_the_iteration_that_first_writes_it(tmp_path, steps_per_event):
    # one request, prompt 16 (1 block of 16 tokens), 40 tokens: prefill [0, C(1)], then decode iteration j
    # over [(1 + j) C(1), (2 + j) C(1)] writes token 17 + j (its input, the token before it), so it needs
    # block 2 from j = 0, block 3 from j = 16 and block 4 from j = 32; the run ends at 40 C(1). In use: 1 block
    # for 1 C(1), 2 for 16, 3 for 16 and 4 for 7: a mean of 109 / 40 blocks, a peak of 4. The 39 iterations as
    # one event allocate the 4 blocks at its start; counted from then the mean was 157 / 40.
    from eoesim.eoe.expert import EXPERT_PRESETS, Expert, kv_bytes_per_token

    block = 16 * kv_bytes_per_token(Expert("e0", **EXPERT_PRESETS["tiny-25m"]))
    r = stitch_point(params(tmp_path, [(0.0, 16, 40)], serving={"max_steps_per_event": steps_per_event}), model())
    assert r.summary["e2e_latency_s"]["mean"] == pytest.approx(40 * C(1) * US)
    kv = r.summary["kv"]["hbm0"]
    assert kv["mean_bytes"] == pytest.approx(109 / 40 * block)
    assert kv["peak_bytes"] == pytest.approx(4 * block)
    assert kv["peak_bytes_per_expert"] == {"e0": pytest.approx(4 * block)}


def test_a_hand_over_frees_the_prefill_stack_for_the_next_admission(tmp_path):
    # each stack holds one KV block; three prompts of 13-14 tokens (one block each) arrive together. A is prefilled
    # [0, C(1)] and handed over to the decode stack, where its 2 decodes run to 3 C(1). B is prefilled
    # [C(1), 2 C(1)], but its hand-over waits for the decode stack's block until A is done; C, waiting for
    # the prefill stack's block that B still holds, is admitted when B's hand-over frees it at 3 C(1): first
    # token at 4 C(1). Before, blocks freed by a hand-over woke nobody and C waited forever.
    rows = [(0.0, 13, 3), (0.0, 14, 2), (0.0, 14, 2)]
    r = stitch_point(_disaggregated(tmp_path, rows, stacks=2, blocks_per_stack=1), model())
    assert r.summary["unfinished_requests"] == 0
    ttft = (r.engine.rec.first - r.engine.requests.arrival_s) / US
    assert ttft == pytest.approx([C(1), 2 * C(1), 4 * C(1)])


def test_a_hand_over_waiting_for_a_decode_instance_that_fails_goes_where_its_work_went(tmp_path):
    # as above (one KV block per stack), chiplet 1 - the decode replica - fails at 120 us: A's second decode
    # [98, 147] is lost and A moves onto chiplet 0's replica (least_loaded), which now prefills and decodes,
    # reads stack 0 and so recomputes A's 13 + 2 tokens. A's freed block wakes B's hand-over, waiting since 98
    # for it: its decode replica is gone, so it goes to chiplet 0's, on the stack that holds its block already:
    # its last token [120, 169]. C, waiting for that block, prefills [169, 218] and decodes [218, 267]; A, queued
    # behind it, recomputes and emits its last token [267, 316]. Before, B's KV went to the failed replica and
    # B, then C and A, never finished.
    rows = [(0.0, 13, 3), (0.0, 14, 2), (0.0, 14, 2)]
    p = _disaggregated(tmp_path, rows, stacks=2, blocks_per_stack=1)
    p["failures"] = {"events": [{"kind": "chiplet", "chiplet": 1, "at_s": 120 * US}], "policy": "least_loaded"}
    r = stitch_point(p, model())
    rec, arrival = r.engine.rec, r.engine.requests.arrival_s
    assert (rec.first - arrival) / US == pytest.approx([C(1), 2 * C(1), 218])
    assert (rec.done - arrival) / US == pytest.approx([316, 169, 267])
    st = rec.steps_array()
    assert [(int(i), t0 / US, t1 / US) for i, t0, t1 in zip(st["inst"], st["t0"], st["t1"]) if i == 1] == [
        pytest.approx((1, 49, 98))]


def test_a_sequence_whose_decode_instance_fails_while_its_kv_moves_decodes_where_its_work_went(tmp_path):
    # the first disaggregation case: the 16 prompt tokens' KV moves to stack 1 [49, 114.536] (65,536 B at 1 GB/s)
    # and chiplet 1, its decode replica, fails at 80 us meanwhile. When the KV lands, the sequence goes where
    # that replica's work went, chiplet 0's replica (least_loaded), which reads stack 0: it prefills its 17
    # tokens again (the prompt and its first token), emitting its second token [114.536, 163.536], then decodes
    # 3 [163.536, 310.536]. Before, it joined the failed replica and never finished.
    p = params(tmp_path, [(0.0, 16, 5)], grid=(1, 2), serving={"disaggregation": {"prefill_replicas": 1}})
    p["mapping"] = {"strategy": "many_to_many", "replicas": 2, "cache_policy": "static"}
    p["hardware"]["memory"]["hbm"]["stacks"] = 2
    p["failures"] = {"events": [{"kind": "chiplet", "chiplet": 1, "at_s": 80 * US}], "policy": "least_loaded"}
    r = stitch_point(p, model(link_bw=1e9, hbm_bw=1e18))
    moved = 16 * 4096 / 1e9 / US
    st = r.engine.rec.steps_array()
    assert [(int(i), t0 / US, int(n)) for i, t0, n in zip(st["inst"], st["t0"], st["tokens"])] == [
        pytest.approx(x) for x in [(0, 0, 16), (0, C(1) + moved, 17)] + [(0, (j + 2) * C(1) + moved, 1)
                                                                        for j in range(3)]]
    assert r.summary["e2e_latency_s"]["mean"] == pytest.approx(5 * C(1) * US + moved * US)


def test_an_admission_needing_the_room_of_the_expert_a_prefilled_sequence_left_runs_at_once(tmp_path):
    # a 1x4 grid of two stacks, both experts prefilling on stack 0 (chiplets 0 and 1) and decoding on stack 1
    # (2 and 3); each stack holds both experts and one KV block. A (e0, 16 tokens: 1 block) prefills [0, C(1)]
    # and its KV moves to stack 1 [C(1), C(1) + 69.632 us] (17 x 4096 B at 1 GB/s). B (e1, 32 tokens: 2 blocks)
    # needs e0 evicted for its second block. Prefilled, A needs e0 on stack 0 no more (the move reads its KV, not
    # the weights): e0 is unpinned and evicted as A's move begins, and B prefills [C(1), 2 C(1)]. Before, e0 stayed
    # pinned until the KV had moved (B's first token at 2 C(1) + 69.632), and earlier still the end of the move
    # woke nobody and B waited for ever.
    from eoesim.eoe.expert import EXPERT_PRESETS, Expert, kv_bytes_per_token, param_bytes

    e = Expert("e0", **EXPERT_PRESETS["tiny-25m"])
    p = params(tmp_path, [(0.0, 16, 3)], experts=2, grid=(1, 4),
               hbm_gib=(2 * param_bytes(e) + 16 * kv_bytes_per_token(e)) / 2**30,
               serving={"disaggregation": {"prefill_replicas": 1}, "kv_watermark": 0.0})
    two = tmp_path / "two.csv"
    two.write_text("arrival_s,domain,prompt_tokens,output_tokens\n0.0,0,16,3\n0.0,1,32,3\n")
    p["eoe"]["requests"]["trace_file"] = str(two)
    p["mapping"] = {"strategy": "many_to_many", "replicas": 2, "cache_policy": "lru"}
    p["hardware"]["memory"]["hbm"]["stacks"] = 2
    r = stitch_point(p, model(link_bw=1e9))
    assert r.summary["unfinished_requests"] == 0
    assert (r.engine.rec.first - r.engine.requests.arrival_s) / US == pytest.approx([C(1), 2 * C(1)])
    assert not r.engine.stacks[0].is_resident("e0")


def test_hand_overs_waiting_for_each_others_stacks_give_way_to_the_older(tmp_path):
    # four replicas on a 2x2 grid of two stacks (chiplets 0 and 2 read stack 0, 1 and 3 stack 1), each stack
    # room for 3 KV blocks: prefill replicas on chiplets 0 (stack 0) and 1 (stack 1), decode replicas on 3
    # (stack 1) and 2 (stack 0). A and B (30-token prompts, 4 tokens) are prefilled together [0, C(1)], 2
    # blocks each; round robin sends A's KV to stack 1 and B's to stack 0, each needing 2 blocks where the
    # other holds 2 of 3: both waited for ever. B, the younger, is preempted (recompute) and A moves: 3
    # decodes [C(1), 4 C(1)]. B prefills its 30 + 1 tokens again once A's blocks are free [4 C(1), 5 C(1)],
    # moves onto the decode replica of its own stack and decodes its last 2 tokens -> 7 C(1).
    from eoesim.eoe.expert import EXPERT_PRESETS, Expert, kv_bytes_per_token, param_bytes

    e = Expert("e0", **EXPERT_PRESETS["tiny-25m"])
    p = params(tmp_path, [(0.0, 30, 4), (0.0, 30, 4)], grid=(2, 2),
               hbm_gib=(param_bytes(e) + 3 * 16 * kv_bytes_per_token(e)) / 2**30,
               serving={"disaggregation": {"prefill_replicas": 2}, "kv_watermark": 0.0,
                        "load_balance": "round_robin"})
    p["mapping"] = {"strategy": "many_to_many", "replicas": 4, "cache_policy": "static"}
    p["hardware"]["memory"]["hbm"]["stacks"] = 2
    r = stitch_point(p, model())
    rec, arrival = r.engine.rec, r.engine.requests.arrival_s
    assert (rec.first - arrival) / US == pytest.approx([C(1), C(1)])
    assert (rec.done - arrival) / US == pytest.approx([4 * C(1), 7 * C(1)])
    assert r.summary["preemptions"]["total"] == 1


def test_a_hand_over_brings_the_expert_to_the_decode_stack_before_its_kv(tmp_path):
    # two replicas on a 1x2 grid, one stack each, nothing in HBM at first (whole loads, links 1 GB/s, the DDR
    # beside chiplet 0). The prefill replica's stack loads the expert without crossing a link; prefill [0,
    # C(1)]. The hand-over then loads the expert into the decode stack (39064064 B over the link) and moves the
    # KV (16 prompt tokens x 4096 B) after it: the KV never holds room the expert's load needs (weights before KV;
    # before, the KV moved first and the load waited for it). Decode of 2 tokens follows.
    from eoesim.eoe.expert import EXPERT_PRESETS, Expert, kv_bytes_per_token, param_bytes

    e = Expert("e0", **EXPERT_PRESETS["tiny-25m"])
    p = params(tmp_path, [(0.0, 16, 3)], grid=(1, 2),
               serving={"disaggregation": {"prefill_replicas": 1}, "expert_load": "whole"})
    p["mapping"] = {"strategy": "many_to_many", "replicas": 2, "cache_policy": "lru", "hot_set": []}
    p["hardware"]["memory"]["hbm"]["stacks"] = 2
    p["hardware"]["memory"]["ddr"] = {"capacity_gib": 1.0}
    r = stitch_point(p, model(link_bw=1e9, ssd_bw=1e9))
    load = [x for x in r.engine.rec.expert_loads if x["stack"] == 1][0]
    weights_s, kv_s = param_bytes(e) / 1e9, 16 * kv_bytes_per_token(e) / 1e9
    assert load["issue_s"] == pytest.approx(C(1) * US, rel=1e-6)
    assert load["hbm_ready_s"] == pytest.approx(C(1) * US + weights_s, rel=1e-6)
    assert r.engine.rec.done[0] == pytest.approx(C(1) * US + weights_s + kv_s + 2 * C(1) * US, rel=1e-6)


def test_a_hand_over_evicts_an_idle_expert_from_the_decode_stack_its_kv_needs(tmp_path):
    # e0 and e1, two replicas each on a 2x2 grid of two stacks: e0 prefills on chiplet 0 (stack 0) and decodes
    # on chiplet 3 (stack 1), e1 the other way round; each stack holds both experts and one KV block. The
    # request (e0, 16-token prompt: one block) is prefilled [0, C(1)]; its hand-over needs 2 blocks on stack 1,
    # where e1 is resident and idle: e1 is evicted (KV before idle weights, as for an admission) and 2 decodes
    # follow, to 3 C(1). Before, the hand-over waited for room only KV could free, for ever.
    from eoesim.eoe.expert import EXPERT_PRESETS, Expert, kv_bytes_per_token, param_bytes

    e = Expert("e0", **EXPERT_PRESETS["tiny-25m"])
    p = params(tmp_path, [(0.0, 16, 3)], experts=2, grid=(2, 2),
               hbm_gib=(2 * param_bytes(e) + 16 * kv_bytes_per_token(e)) / 2**30,
               serving={"disaggregation": {"prefill_replicas": 1}, "kv_watermark": 0.0})
    p["mapping"] = {"strategy": "many_to_many", "replicas": 2, "cache_policy": "lru"}
    p["hardware"]["memory"]["hbm"]["stacks"] = 2
    r = stitch_point(p, model())
    assert [(i.chips, i.stacks, i.role) for i in r.engine.replicas["e0"]] == [((0,), (0,), "prefill"),
                                                                           ((3,), (1,), "decode")]
    assert r.engine.rec.first / US == pytest.approx([C(1)])
    assert r.engine.rec.done / US == pytest.approx([3 * C(1)])
    assert sorted(r.engine.stacks[1].resident) == ["e0"] and r.engine.stacks[1].evictions == 1


def test_a_decode_replica_moved_onto_a_prefill_instance_by_a_failure_decodes_there(tmp_path):
    # prefill on chiplet 0, decode on chiplet 1, one stack for both. The request is prefilled [0, C(1)] and
    # decodes on chiplet 1 from C(1); chiplet 1 fails at 2.5 C(1), losing the iteration [2 C(1), 3 C(1)].
    # least_loaded co-locates onto chiplet 0's prefill instance, which now runs both roles: the sequence keeps
    # its KV (same stack) and its last 3 iterations run there, to 5.5 C(1). Before, a prefill instance never
    # decoded and the sequence waited there for ever.
    p = _disaggregated(tmp_path, [(0.0, 16, 5)], stacks=1, blocks_per_stack=4)
    p["failures"] = {"events": [{"kind": "chiplet", "chiplet": 1, "at_s": 2.5 * C(1) * US}], "policy": "least_loaded"}
    r = stitch_point(p, model())
    assert [(i.chips, i.role, i.alive) for i in r.engine.instances] == [((0,), "both", True), ((1,), "decode", False)]
    assert r.engine.rec.first / US == pytest.approx([C(1)])
    assert r.engine.rec.done / US == pytest.approx([5.5 * C(1)])


def test_a_preempted_sequence_queues_behind_the_sequences_holding_reserved_blocks():
    # reserved with a partner's admission, those blocks admit their holders at once: a preempted sequence goes to
    # the head of the queue behind them (ahead, it waited for room there while their blocks stayed idle)
    from eoesim.serving.batching import ModelState
    from eoesim.serving.sequences import Seq

    m = ModelState("e0", None)
    held_2, held_1, preempted, queued = (Seq(i, i, "e0", 16, 4, 0.0, None, None) for i in range(4))
    held_2.blocks, held_1.blocks = 2, 1
    m.waiting.extend([held_2, held_1, queued])
    m.queue_first(preempted)
    assert list(m.waiting) == [held_2, held_1, preempted, queued]


def test_a_hand_over_goes_to_a_decode_replica_that_holds_the_expert(tmp_path):
    # four replicas on a 2x2 grid of two stacks: prefill on chiplets 0 (stack 0) and 1 (stack 1), decode on
    # chiplets 3 (stack 1) and 2 (stack 0). With the expert gone from one decode replica's stack, round robin
    # still sends every hand-over to the replica whose stack holds it; with it gone from both, to either.
    p = params(tmp_path, [(0.0, 16, 3)], grid=(2, 2), serving={"disaggregation": {"prefill_replicas": 2},
                                                                  "load_balance": "round_robin"})
    p["mapping"] = {"strategy": "many_to_many", "replicas": 4, "cache_policy": "lru"}
    p["hardware"]["memory"]["hbm"]["stacks"] = 2
    from eoesim.serving.engine import Engine

    engine = Engine(p, model())
    decode = [i for i in engine.replicas["e0"] if i.role == "decode"]
    assert len({i.stacks for i in decode}) == 2
    cold, warm = decode
    engine.stacks[cold.stacks[0]].resident.pop("e0")
    assert {engine.choose_instance("e0", r, role="decode").iid for r in range(4)} == {warm.iid}
    engine.stacks[warm.stacks[0]].resident.pop("e0")
    assert {engine.choose_instance("e0", r, role="decode").iid for r in range(4)} == {cold.iid, warm.iid}


@pytest.mark.parametrize("steps_per_event", [1, 64])
def test_least_outstanding_tokens_counts_the_iterations_a_multi_iteration_step_has_done(tmp_path, steps_per_event):
    """One expert, two replicas. A (41 tokens) runs on replica 0 from t = 0: prefill [0, 1], decode iteration j
    ends at 1 + j (times in C(1) units). C (31 tokens) arrives at 21.5 and goes to the idle replica 1: prefill
    [21.5, 22.5], its iteration j ends at 22.5 + j. B arrives at 35.25: A has 40 - 34 = 6 tokens left, C
    30 - 12 = 18, so B goes to replica 0 and is prefilled after A's iteration in progress, at 36: TTFT
    0.75 + C(2) / C(1). A step of many iterations emits its tokens when it ends; counted from them, A would
    look 40 tokens away and C 30, and B would go to replica 1 (TTFT 0.25 + C(2) / C(1))."""
    c1 = C(1) * US
    rows = [(0.0, 16, 41), (21.5 * c1, 16, 31), (35.25 * c1, 16, 5)]
    p = params(tmp_path, rows, grid=(1, 2), serving={"max_steps_per_event": steps_per_event,
                                                     "load_balance": "least_outstanding_tokens"})
    p["mapping"]["strategy"] = "replicate"
    r = stitch_point(p, model())
    assert {n: len(reps) for n, reps in r.engine.mapping.placements.items()} == {"e0": 2}
    ttft = (r.engine.rec.first - np.array([t for t, _, _ in rows])) / US
    assert ttft[1] == pytest.approx(C(1))
    assert ttft[2] == pytest.approx(0.75 * C(1) + C(2))


@pytest.mark.parametrize("steps_per_event", [1, 64])
def test_blocks_a_multi_iteration_step_took_ahead_make_no_admission_wait(tmp_path, steps_per_event):
    """Two experts on one HBM stack with room for 4 KV blocks of 16 tokens beside their weights. A (expert 0,
    prompt 16, 40 tokens) decodes from C(1); at 10.5 C(1) it is in its 10th decode iteration, at 26 tokens in 2
    blocks. B (expert 1, prompt 32: 2 blocks, 1 token) arrives then and is admitted at once on its idle chiplet: TTFT
    C(1). Advancing A's 39 decode iterations as one event took the 4 blocks they end in up front; B then
    waited for A's end (TTFT ~30 C(1)) unless A gives back the 2 it does not hold iteration by iteration."""
    from eoesim.eoe.expert import EXPERT_PRESETS, Expert, kv_bytes_per_token, param_bytes

    e = Expert("e0", **EXPERT_PRESETS["tiny-25m"])
    hbm = (2 * param_bytes(e) + 4 * 16 * kv_bytes_per_token(e)) / 2**30
    c1 = C(1) * US
    p = params(tmp_path, [(0.0, 16, 40)], experts=2, grid=(1, 2), hbm_gib=hbm,
               serving={"max_steps_per_event": steps_per_event, "kv_watermark": 0.0})
    path = tmp_path / "two_domains.csv"
    path.write_text("arrival_s,domain,prompt_tokens,output_tokens\n0.0,0,16,40\n" + f"{10.5 * c1},1,32,1\n")
    p["eoe"]["requests"]["trace_file"] = str(path)
    p["eoe"]["router"] = {"kind": "fixed", "cost": {"fixed_cycles": 0, "hidden": 0}}
    r = stitch_point(p, model())
    ttft = (r.engine.rec.first - r.engine.requests.arrival_s) / US
    assert ttft == pytest.approx([C(1), C(1)])
    assert r.summary["preemptions"]["total"] == 0
    assert r.summary["kv"]["hbm0"]["peak_bytes"] <= 4 * 16 * kv_bytes_per_token(e) * (1 + 1e-9)
