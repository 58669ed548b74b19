"""The e2e stage (``stitch_point``: the serving engine) against hand-computed cases, one per EoE behaviour.

Every number comes from a TableComponentModel fed with hand inputs (not simulator results):

- every GEMM instance takes 10 cycles at 1 GHz (10 ns), whatever its shape. The experts are all the same
  hand-sized transformer (1 layer, d_model 8, 1 head of 8, d_ff 8, vocab 4), so an iteration over ``n``
  sequences is 4 linear GEMMs (the batch stacked along M) + 2 attention GEMMs per sequence + 1 LM-head
  GEMM (the rows that emit a token): ``C(n) = (5 + 2n) x 10 ns``, one sequence 70 ns, two 90 ns; ``k``
  decode iterations of one sequence 140 ns for k = 2;
- its weights are 944 bytes (880 streamed per forward pass), its KV cache 32 bytes per token; HBM moves
  1e12 B/s, so an iteration's ~1-2 kB of traffic is far below its compute time (compute-bound);
- an expert load crosses SSD -> DDR (944 B at 1e9 B/s after the latencies of the devices crossed, SSD
  56 ns + DDR 9 ns: 1009 ns) then DDR -> HBM (944 B at 944e9 B/s = 1 ns, + DDR 9 ns: 10 ns). Loads are
  streamed: a cold expert's first iteration starts at once, but its last (here only) layer computes once
  the load is in, so that iteration ends at load end + 70 ns;
- a small message (token ids, 4 B each; hidden states) pays 2 ns per link + bytes at 16e9 B/s (16 B/ns);
- a 2x2 mesh, experts one per chiplet in snake order (a -> 0, b -> 1, c -> 3), the router on chiplet 3
  unless a test says otherwise; the gate costs 5 cycles (5 ns).

Requests come from small CSV traces (arrival, domain, prompt tokens, output tokens); the fixed router
sends domain i to expert i.
"""
import json
import signal

import numpy as np
import pytest

from eoesim.errors import ConfigError, SimulationError
from eoesim.serving.columns import summary_row
from eoesim.serving.engine import MAX_IDLE_CHECKS, PROGRESS_CHECK_EVENTS, Engine
from eoesim.serving.power import compute_chiplet
from eoesim.stitch.components import TableComponentModel
from eoesim.stitch.e2e import check_point, stitch_point, write_point
from eoesim.stitch.energy import EnergyModel

NS = 1e-9
TINY = {"layers": 1, "d_model": 8, "heads": 1, "kv_heads": 1, "d_ff": 8, "vocab": 4}
TOPK = {"kind": "topk", "noise_std": 0.0, "cost": {"fixed_cycles": 5, "hidden": 0}}


def hand_model(**kw):
    return TableComponentModel(default_cycles=10, memory_bandwidth_bytes_per_s={"hbm": 1e12, "ddr": 944e9},
                               memory_latency_s={"ddr": 9e-9}, ssd_bandwidth_bytes_per_s=1e9, ssd_latency_s=56e-9,
                               link_bandwidth_bytes_per_s=16e9, hop_latency_s=2e-9, **kw)


def trace(tmp_path, rows):
    f = tmp_path / "trace.csv"
    body = "".join(f"{a},{d},{p},{o}\n" for a, d, p, o in rows)
    f.write_text("arrival_s,domain,prompt_tokens,output_tokens\n" + body)
    return str(f)


def params(tmp_path, rows, experts=("a", "b"), morphology=None, router=None, composition="representation_average",
           mapping=None, grid=(2, 2), ddr_gib=0.0, **extra):
    p = {
        "seed": 1,
        "eoe": {
            "experts": [{"name": n, **TINY} for n in experts],
            "morphology": morphology or {"kind": "tree"},
            "router": router or {"kind": "fixed", "cost": {"fixed_cycles": 5, "hidden": 0}},
            "composition": {"kind": composition},
            "requests": {"arrival": "trace", "trace_file": trace(tmp_path, rows)},
        },
        "hardware": {"package": {"grid": list(grid)}, "memory": {"hbm": {"capacity_gib": 1.0},
                                                                 "ddr": {"capacity_gib": ddr_gib}}},
        "mapping": {"strategy": "one_to_one", "router_chiplet": 3, "cache_policy": "static", "hot_set": [],
                    **(mapping or {})},
    }
    p.update(extra)
    return p


def latencies_ns(result):
    """(TTFT, e2e latency) of every request, ns."""
    rec, arrival = result.engine.rec, result.engine.requests.arrival_s
    return (rec.first - arrival) / NS, (rec.done - arrival) / NS


def steps_ns(result, iid=None):
    """(start ns, end ns, iterations, sequences, tokens) of every step (of instance ``iid``), by start."""
    st = result.engine.rec.steps_array()
    rows = [(a / NS, b / NS, int(k), int(s), int(t)) for i, a, b, k, s, t in
            zip(st["inst"], st["t0"], st["t1"], st["k"], st["seqs"], st["tokens"]) if iid is None or i == iid]
    return sorted(rows)


def spans(steps, upto=2):
    """The (start, end[, ...]) columns of ``steps_ns`` rows, as an array for pytest.approx."""
    return np.array([s[:upto] for s in steps])


def loads_ns(result):
    """(tier, expert, start ns, end ns, bytes) of every load (``ssd``: SSD -> DDR, ``hbm``: into HBM)."""
    return sorted((tier, x, a / NS, b / NS, n) for tier, x, a, b, n, _ in result.engine.rec.loads)


def breakdown_ns(result):
    return {k: v / NS for k, v in result.summary["latency_breakdown_s"].items()}


def test_single_request_on_an_idle_system_is_its_critical_path(tmp_path):
    """Cold expert a: route [0, 5]; prompt 3 -> 0 (2 hops, 16 B: 4 + 1 ns) [5, 10]; the load starts when the
    sequence reaches its instance: SSD -> DDR [10, 1019], DDR -> HBM [10 + 1009, 1029]; the prefill starts
    at 10 (streamed load) and ends 70 ns after the load: 1099; both decode iterations [1099, 1239]."""
    r = stitch_point(params(tmp_path, [(0, 0, 4, 3)]), hand_model())
    ttft, e2e = latencies_ns(r)
    assert ttft[0] == pytest.approx(1099) and e2e[0] == pytest.approx(1239)
    assert r.summary["tpot_s"]["p50"] == pytest.approx(70 * NS)
    assert steps_ns(r) == [pytest.approx((10, 1099, 1, 1, 4)), pytest.approx((1099, 1239, 2, 1, 1))]
    assert loads_ns(r) == [pytest.approx(("hbm", "a", 10, 1029, 944)), pytest.approx(("ssd", "a", 10, 1019, 944))]
    # where it went: the prefill waited 1029 - 80 + 70 = 1019 ns beyond its own compute for the load
    assert breakdown_ns(r) == pytest.approx({"routing": 5, "expert_load": 1019, "compute": 210, "memory": 0,
                                             "network": 5, "composition": 0, "queueing": 0}, abs=1e-6)


def test_hot_expert_hits_and_cold_expert_pays_the_ssd_load(tmp_path):
    """Domain 0 -> a (hot: 5 + 5 + 70 + 140 = 220 ns); domain 1 -> b, 1 ms later, cold: route 5, prompt
    3 -> 1 (1 hop: 2 + 1 ns), load 1009 + 10, last layer 70, decodes 140: 1237 ns."""
    rows = [(0, 0, 4, 3), (0.001, 1, 4, 3)]
    r = stitch_point(params(tmp_path, rows, mapping={"hot_set": ["a"]}), hand_model())
    _, e2e = latencies_ns(r)
    assert e2e == pytest.approx([220, 1237])
    c = r.summary["cache"]
    assert (c["accesses"], c["hbm_hits"], c["ssd_loads"], c["hit_rate"]) == (2, 1, 1, 0.5)
    assert [x[1] for x in loads_ns(r)] == ["b", "b"]


def test_requests_contending_for_one_instance_share_its_iterations(tmp_path):
    """Both requests go to a (chiplet 0) at t = 0; the router gates them side by side (5 ns each) and both
    prompts arrive at 10. Continuous batching: one prefill iteration of the two (C(2) = 90 ns) [10, 100],
    then both decode together, 2 iterations of C(2) [100, 280]. With max_num_seqs 1 the instance serves one
    sequence at a time: a's prefill [10, 80], its decodes [80, 220] (one iteration per event while the other
    waits), then the second's prefill [220, 290] and decodes [290, 430]."""
    rows = [(0, 0, 4, 3), (0, 0, 4, 3)]
    r = stitch_point(params(tmp_path, rows, mapping={"hot_set": ["a"]}), hand_model())
    ttft, e2e = latencies_ns(r)
    assert ttft == pytest.approx([100, 100]) and e2e == pytest.approx([280, 280])
    assert steps_ns(r) == [pytest.approx((10, 100, 1, 2, 8)), pytest.approx((100, 280, 2, 2, 2))]
    span = r.summary["span_s"]
    assert span == pytest.approx(280 * NS)
    util = r.summary["utilization"]["per_chiplet"]
    assert util[0] * span == pytest.approx(270 * NS) and util[3] * span == pytest.approx(10 * NS)  # the gates
    one = stitch_point(params(tmp_path, rows, mapping={"hot_set": ["a"]}, serving={"max_num_seqs": 1}),
                       hand_model())
    ttft, e2e = latencies_ns(one)
    assert ttft == pytest.approx([80, 290]) and e2e == pytest.approx([220, 430])
    starts_ends = [(a, b) for a, b, *_ in steps_ns(one)]
    assert all(b0 <= a1 + 1e-6 for (_, b0), (a1, _) in zip(starts_ends, starts_ends[1:]))  # one step at a time
    assert one.summary["queueing_s"]["max"] == pytest.approx(210 * NS)  # waited [10, 220] to be admitted


def test_chain_of_three_runs_stage_after_stage(tmp_path):
    """Chain a -> b -> c on chiplets 0, 1, 3, router on 0 (no gate in a chain). a runs [0, 210]; b reads the
    prompt + a's output (7 token ids = 28 B over 1 hop: 2 + 1.75 ns) [213.75, 423.75]; c likewise
    [427.5, 637.5]. The first token is c's (its prefill ends at 497.5)."""
    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a", "b", "c"), morphology={"kind": "chain"},
               mapping={"router_chiplet": 0, "hot_set": ["a", "b", "c"]})
    r = stitch_point(p, hand_model())
    assert spans(steps_ns(r)) == pytest.approx(np.array([(0, 70), (70, 210), (213.75, 283.75), (283.75, 423.75),
                                                       (427.5, 497.5), (497.5, 637.5)]))
    assert [s[4] for s in steps_ns(r)] == [4, 1, 7, 1, 7, 1]  # later stages prefill the 7 tokens they read
    ttft, e2e = latencies_ns(r)
    assert e2e[0] == pytest.approx(3 * 210 + 2 * 3.75) and ttft[0] == pytest.approx(e2e[0] - 140)
    assert sum(breakdown_ns(r).values()) == pytest.approx(e2e[0])


def test_tree_routes_then_runs_the_picks_in_parallel_and_composes_every_token(tmp_path):
    """Root router over a, b, c, top-3, representation averaging at a's chiplet 0 (= router chiplet).
    Gate [0, 5]; prompt to a (same chiplet, 0 ns), b (1 hop: 3 ns), c (2 hops: 5 ns). The parts are admitted
    together once all have arrived (and their experts are resident): prefills [10, 80] on the three
    chiplets. Each token is composed once every part has it: the hidden states (16 B) reach chiplet 0 from
    b in 3 ns and from c in 5 ns, then the average (one GEMM, 10 ns): 15 ns per token. First token at
    80 + 15 = 95. The parts then decode in lock step, each token composed before the next: 2 x (70 + 15) ->
    265. Breakdown: routing 5, network (0 + 3 + 5) / 3, compute 210, composition 15 + 2 x 15, and waiting
    for the last part to arrive (5 + 2 + 0) / 3."""
    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a", "b", "c"), router={**TOPK, "k": 3},
               mapping={"router_chiplet": 0, "hot_set": ["a", "b", "c"]})
    r = stitch_point(p, hand_model())
    steps = steps_ns(r)
    assert spans(steps[:3]) == pytest.approx(np.array([(10, 80)] * 3))
    assert spans(steps[3:], 3) == pytest.approx(np.array([(95, 265, 2)] * 3))  # three parts, one gang step
    ttft, e2e = latencies_ns(r)
    assert (ttft[0], e2e[0]) == pytest.approx((95, 265))
    assert breakdown_ns(r) == pytest.approx({"routing": 5, "expert_load": 0, "compute": 210, "memory": 0,
                                             "network": 8 / 3, "composition": 45, "queueing": 7 / 3}, abs=1e-6)
    assert r.summary["ops"]["compositions"] == 2  # the first token, then the two decoded ones at once


def test_graph_branches_run_in_parallel_then_feed_the_manager(tmp_path):
    """Branches a (chiplet 0) and b (chiplet 1) run at once: a [0, 210], b after its 1-hop prompt [3, 213].
    Their 3-token outputs (12 B) go to the manager m (chiplet 3): from a 2 hops (4.75 ns, at 214.75), from b
    1 hop (2.75 ns, at 215.75). m prefills prompt + both outputs = 10 tokens [215.75, 285.75], then decodes
    [285.75, 425.75]."""
    morph = {"kind": "graph", "manager": "m", "branches": [{"kind": "chain", "chain": ["a"]},
                                                           {"kind": "chain", "chain": ["b"]}]}
    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a", "b", "m"), morphology=morph,
               mapping={"router_chiplet": 0, "hot_set": ["a", "b", "m"]})
    r = stitch_point(p, hand_model())
    a, b, m = (steps_ns(r, i) for i in range(3))
    assert spans(a) == pytest.approx(np.array([(0, 70), (70, 210)]))
    assert spans(b) == pytest.approx(np.array([(3, 73), (73, 213)]))
    assert spans(m) == pytest.approx(np.array([(215.75, 285.75), (285.75, 425.75)])) and m[0][4] == 10
    _, e2e = latencies_ns(r)
    assert e2e[0] == pytest.approx(425.75)


def test_sequential_aggregation_runs_picks_in_gate_order(tmp_path):
    """Domain 1's home is b (chiplet 1): b first [8, 218] after the gate (5) and its 1-hop prompt (3); then a
    (chiplet 0) reads prompt + b's output, 7 token ids over 1 hop (3.75 ns) [221.75, 431.75]."""
    p = params(tmp_path, [(0, 1, 4, 3)], composition="sequential_aggregation", router={**TOPK, "k": 2},
               mapping={"router_chiplet": 0, "hot_set": ["a", "b"]})
    r = stitch_point(p, hand_model())
    assert steps_ns(r, 1)[0][:2] == pytest.approx((8, 78)) and steps_ns(r, 0)[0][:2] == pytest.approx((221.75, 291.75))
    ttft, e2e = latencies_ns(r)
    assert e2e[0] == pytest.approx(5 + 3 + 210 + 3.75 + 210) and ttft[0] == pytest.approx(291.75)


def test_weight_summation_merges_once_then_reuses_the_merged_expert(tmp_path):
    """Merge of a + b on a's chiplet 0 (router chiplet): one 1 x 472 x 2 GEMM (10 ns) reading a and b and
    writing the merged expert (3 x 944 B of HBM traffic, capped at the GEMM's pace) [5, 15]; with whole-expert
    loads the merged expert runs after it: [15, 225]. The second request, 1 ms later, finds the merged
    expert in HBM: 5 + 210 ns."""
    p = params(tmp_path, [(0, 0, 4, 3), (0.001, 0, 4, 3)], composition="weight_summation", router={**TOPK, "k": 2},
               mapping={"router_chiplet": 0, "hot_set": ["a", "b"], "cache_policy": "lru"},
               serving={"expert_load": "whole"})
    r = stitch_point(p, hand_model())
    _, e2e = latencies_ns(r)
    assert e2e == pytest.approx([225, 215])
    assert loads_ns(r) == [pytest.approx(("hbm", "merged(a+b)", 5, 15, 3 * 944))]
    merges = [x["ops"] for x in r.summary["component_sources"] if x["op"] == "merge"]
    assert merges == [1]
    assert r.engine.stacks[0].is_resident("merged(a+b)")


def test_one_to_many_splits_an_expert_and_all_reduces(tmp_path):
    """a over chiplets 0 and 1 (router on 0): each shard computes the same GEMM count on half the columns or
    rows (70 ns a pass), then two ring all-reduces of the pass's activations (tokens x 8 x 2 B): 2 (s-1) = 2
    ring steps each, 4 in all, every shard sending size / 2 per step. Prefill (4 tokens, 64 B): 4 x 32 = 128
    B per link, 4 x 2 ns hop latency + 128 B / 16 B/ns = 16 ns -> 86. Two decode iterations (16 B each):
    2 x 4 x 8 = 64 B per link, 8 x 2 + 64 / 16 = 20 ns -> 86 + 140 + 20 = 246."""
    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a",), morphology={"kind": "chain"},
               mapping={"strategy": "one_to_many", "chiplets_per_expert": 2, "router_chiplet": 0, "hot_set": ["a"]})
    r = stitch_point(p, hand_model())
    ttft, e2e = latencies_ns(r)
    assert (ttft[0], e2e[0]) == pytest.approx((86, 246))
    assert r.engine.rec.traffic_bytes[(0, 1, "collective")] == pytest.approx(128 + 64)
    assert breakdown_ns(r)["network"] == pytest.approx(16 + 20)
    from eoesim.stitch.workloads import gemm_table
    g = gemm_table(r.engine)
    assert {("qkv_proj", 4, 12, 8), ("ffn_down", 4, 8, 4)} <= set(zip(g.gemm, g.m, g.n, g.k))  # N / K halved


def test_prefetch_starts_the_load_when_the_request_reaches_the_router(tmp_path):
    """Cold a, lru, prefetch 1 (a is the router's most popular expert): the load starts at 0, beside the gate,
    and is in HBM at 1019; the prefill (started at 10) ends at 1089, the request at 1229 - 10 ns sooner than
    without the prefetch, whose load waits for the gate and the prompt transfer (1239)."""
    p = params(tmp_path, [(0, 0, 4, 3)], mapping={"cache_policy": "lru", "prefetch": 1})
    r = stitch_point(p, hand_model())
    assert loads_ns(r) == [pytest.approx(("hbm", "a", 0, 1019, 944)), pytest.approx(("ssd", "a", 0, 1009, 944))]
    _, e2e = latencies_ns(r)
    assert e2e[0] == pytest.approx(1229)
    c = r.summary["cache"]
    assert (c["prefetches"], c["prefetch_loads"], c["ssd_loads"]) == (1, 1, 1)
    p["mapping"]["prefetch"] = 0
    assert latencies_ns(stitch_point(p, hand_model()))[1][0] == pytest.approx(1239)


def test_a_stitch_without_an_energy_model_takes_the_component_models(tmp_path):
    """The study model's energy model carries CACTI's SRAM energy; every stitch of a point (its e2e run,
    re-stitches for figures, load curves) must use it, not the constants table: here a model whose energy
    model doubles the MAC energy doubles the compute energy of the same run (2832 MACs, by hand above)."""
    class DoubleMacs(TableComponentModel):
        def energy_model(self, base=None):
            return EnergyModel(overrides={"mac_fp16_pj": 2 * EnergyModel().values["mac_fp16_pj"]})

    p = params(tmp_path, [(0, 0, 4, 3)])
    plain = stitch_point(p, hand_model()).summary["energy"]["by_component_j"]["compute"]
    model = DoubleMacs(default_cycles=10, memory_bandwidth_bytes_per_s={"hbm": 1e12, "ddr": 944e9},
                       memory_latency_s={"ddr": 9e-9}, ssd_bandwidth_bytes_per_s=1e9, ssd_latency_s=56e-9,
                       link_bandwidth_bytes_per_s=16e9, hop_latency_s=2e-9)
    doubled = stitch_point(p, model).summary["energy"]["by_component_j"]["compute"]
    assert doubled == pytest.approx(2 * plain) and plain == pytest.approx(2832 * EnergyModel().values["mac_fp16_pj"]
                                                                          * 1e-12)


def test_energy_per_token_and_carbon_by_hand(tmp_path):
    """Constants overridden to round numbers: 1 pJ/MAC, 1 pJ/bit for HBM, DDR and a link hop, 1 pJ/B SSD.
    The cold single request of the first test (e2e 1239 ns, 3 output tokens):
    MACs: prefill of 4 tokens 768 + 128 + 128 + 3 x 256 + LM head 32 = 1824; decodes attending 5 and 6
    tokens: 496 + 512 (qkv 192, attention 2 x 8 x span, 3 x 64, LM head 32). HBM: prefill 880 weights + 4 x 32
    KV written = 1008, decodes 2 x 880 + (5 + 6) x 32 read + 2 x 32 written = 2176, and the 944 B load
    written. DDR: 944 B written from the SSD and read into HBM. SSD: 944 B. Links: 16 B of token ids x 2 hops.
    Static: 4 chiplets x their leakage + PHYs (eoesim.serving.power, by hand in test_static_power), 1 GiB HBM x
    0.0888 W/GiB, no DDR, SSD idle 0.03 W, over the span (energy_constants.csv)."""
    energy = EnergyModel(overrides={"mac_fp16_pj": 1, "hbm_pj_per_bit": 1, "ddr_pj_per_bit": 1,
                                    "ssd_read_pj_per_byte": 1, "link_pj_per_bit_per_hop": 1})
    p = params(tmp_path, [(0, 0, 4, 3)])
    p["mapping"]["grid_intensity_gco2_per_kwh"] = 400.0
    r = stitch_point(p, hand_model(), energy=energy)
    by = r.summary["energy"]["by_component_j"]
    pj = 1e-12
    assert by["compute"] == pytest.approx(2832 * pj)
    assert by["hbm"] == pytest.approx((1008 + 2176 + 944) * 8 * pj)
    assert by["ddr"] == pytest.approx(2 * 944 * 8 * pj)
    assert by["ssd"] == pytest.approx(944 * pj)
    assert by["network"] == pytest.approx(16 * 2 * 8 * pj)
    assert by["sram"] == 0.0  # the hand model knows no SRAM traffic
    span = 1239 * NS
    chip = compute_chiplet(p)
    static_w = 4 * chip.static_w + 1 * 0.0888 + 0.0 + 0.03
    assert r.summary["energy"]["static_j"] == pytest.approx(static_w * span)
    dynamic = (2832 + 4128 * 8 + 2 * 944 * 8 + 944 + 256) * pj
    total = dynamic + static_w * span
    assert r.summary["energy"]["dynamic_j"] == pytest.approx(dynamic)
    assert r.summary["energy"]["per_token_j"] == pytest.approx(total / 3)
    # carbon: operational = J / 3.6e6 x 400 g/kWh; embodied (ACT) amortized over 4 years of 365.25 days:
    # chiplets 4 x their die area (PE array + SRAMs + 4 PHYs) x (583 g/kWh x 2.15 kWh/cm2 + 350 + 500 g/cm2) / 0.875,
    # DRAM 65 g/GB (1 GiB of HBM, no DDR), flash 6.3 g/GB, packaging 150 g per chiplet and stack
    from eoesim.eoe.hardware import build_hardware
    ssd_gb = build_hardware(p["hardware"]).ssd.capacity_bytes / 1e9
    embodied = (4 * chip.area_mm2 / 100 * (583 * 2.15 + 350 + 500) / 0.875 + 2**30 / 1e9 * 65 + ssd_gb * 6.3 + 5 * 150)
    amortized = embodied * span / (4 * 365.25 * 86400)
    operational = total / 3.6e6 * 400
    c = r.summary["carbon"]
    assert c["operational_g"] == pytest.approx(operational)
    assert c["embodied_amortized_g"] == pytest.approx(amortized)
    assert r.summary["carbon_g_per_1k_tokens"] == pytest.approx((operational + amortized) / 3 * 1000)


def test_default_energy_constants_have_sources():
    e = EnergyModel()
    assert e.mac_key(2) == "mac_fp16_pj" and e.mac_key(1) == "mac_int8_pj" and e.mac_key(3.5) == "mac_fp32_pj"
    assert all(src.strip() for src in e.sources().values())
    assert e.default_grid_intensity == 436


def test_component_errors_propagate_to_latency(tmp_path):
    """GEMMs with a 10 % relative error: the prefill's 70 ns carry 7 ns, the decode step's 140 ns 14 ns;
    along one sequence the errors are fully correlated (one model, one bias), so they add: 21 ns of the
    request's 220 ns. The gate (fixed cycles) and the transfer carry none."""
    p = params(tmp_path, [(0, 0, 4, 3)], mapping={"hot_set": ["a"]})
    r = stitch_point(p, hand_model(rel_error={"gemm": 0.1}))
    assert r.summary["latency_rel_error"]["e2e_mean"] == pytest.approx(21 / 220)
    assert stitch_point(p, hand_model()).summary["latency_rel_error"] is None


@pytest.mark.parametrize("steps_per_event", [1, 64])
def test_sources_are_counted_per_op_kind(tmp_path, steps_per_event):
    """Hot a with a gate GEMM (hidden 2: a 4 x 2 x 2 GEMM, 10 ns + 5 cycles): 3 iterations (the prefill and two
    decodes, however many events the simulation used), 1 route; then cold b: its SSD read and its copy into
    HBM, 3 more iterations and 1 route."""
    rows = [(0, 0, 4, 3), (0.001, 1, 4, 3)]
    p = params(tmp_path, rows, mapping={"hot_set": ["a"]}, router={"kind": "fixed", "cost": {"fixed_cycles": 5,
                                                                                            "hidden": 2}},
               serving={"max_steps_per_event": steps_per_event})
    r = stitch_point(p, hand_model(fidelity="surrogate", source="hand table"))
    src = {x["op"]: (x["label"], x["ops"]) for x in r.summary["component_sources"]}
    assert src == {"iteration": ("surrogate:hand table", 6), "route": ("surrogate:hand table", 2),
                   "load_ssd": ("surrogate:hand table", 1), "load_hbm": ("surrogate:hand table", 1)}
    assert r.summary["fidelity_ops"] == {"surrogate": 10}
    assert latencies_ns(r)[1][0] == pytest.approx(15 + 5 + 210)


def test_same_inputs_give_identical_summaries_and_another_seed_does_not(tmp_path):
    p = {
        "seed": 3,
        "eoe": {"experts": [{"name": n, **TINY} for n in "abcd"],
                "router": {"kind": "topk", "k": 2},
                "requests": {"count": 60, "rate_per_s": 2e6, "zipf_skew": 1.2,
                             "prompt_tokens": {"dist": "uniform", "min": 2, "max": 40},
                             "output_tokens": {"dist": "uniform", "min": 1, "max": 20}}},
        "hardware": {"package": {"grid": [2, 2]}, "memory": {"hbm": {"capacity_gib": (2 * 944 + 2**16) / 2**30},
                                                             "ddr": {"capacity_gib": 3e-6}}},
        "mapping": {"cache_policy": "lru", "prefetch": 1, "hot_set": 1},
    }
    a = json.dumps(stitch_point(p, hand_model()).summary, sort_keys=True)
    b = json.dumps(stitch_point(p, hand_model()).summary, sort_keys=True)
    assert a == b
    c = json.dumps(stitch_point({**p, "seed": 4}, hand_model()).summary, sort_keys=True)
    assert c != a
    s = json.loads(a)
    assert s["requests"] == 60 and s["unfinished_requests"] == 0 and 0 < s["cache"]["hit_rate"] < 1


def test_outputs_timeline_and_summary_row(tmp_path):
    """Hot a and cold b (the hot/cold case): the timeline has a track per instance with its steps (a's
    prefill 70 ns = 0.07 us, then 2 decode iterations in one event) and a track per memory tier with b's
    loads; summary.json and the summary row carry the same numbers."""
    p = params(tmp_path, [(0, 0, 4, 3), (0, 1, 4, 3)], mapping={"hot_set": ["a"]})
    r = stitch_point(p, hand_model())
    paths = write_point(r, tmp_path / "e2e" / "p1")
    summary = json.loads(paths[0].read_text())
    assert summary["requests"] == 2 and summary["e2e_latency_s"]["max"] == pytest.approx(1237 * NS)
    tl = json.loads(paths[1].read_text())
    names = {e["args"]["name"] for e in tl["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"}
    assert names == {"instance 0 chiplets [0] a", "instance 1 chiplets [1] b", "SSD -> DDR", "DDR -> hbm0"}
    xs = [e for e in tl["traceEvents"] if e["ph"] == "X"]
    on_a = sorted((e["ts"], e["dur"], e["name"], e["args"]["iterations"]) for e in xs
                  if e["pid"] == 1 and e["tid"] == 0)
    assert on_a == [pytest.approx((0.01, 0.07, "prefill+decode", 1)), pytest.approx((0.08, 0.14, "decode x2", 2))]
    assert sorted((e["name"], e["args"]["tier"]) for e in xs if e["pid"] == 2) == [("load b", "hbm"), ("load b", "ssd")]
    assert tl["otherData"] == {"events_total": 6, "events_in_trace": len(tl["traceEvents"]), "truncated": False}
    row = summary_row("p1", r.summary)
    assert row["e2e_latency_p50_s"] == pytest.approx(r.summary["e2e_latency_s"]["p50"])
    assert row["cache_hit_rate"] == 0.5 and row["energy_hbm_j"] == r.summary["energy"]["by_component_j"]["hbm"]
    assert json.loads(row["fidelity_ops"]) == r.summary["fidelity_ops"]


def test_table_model_answers_from_its_table_and_names_missing_shapes():
    from eoesim.eoe.expert import Gemm
    from eoesim.eoe.hardware import build_hardware
    hw = build_hardware({"chiplet": {"array": [4, 8], "freq_ghz": 2.0}})
    m = TableComponentModel(gemm_cycles={(2, 3, 4): 100}, memory_bandwidth_bytes_per_s={"hbm": 1e9},
                            ssd_bandwidth_bytes_per_s=1e9, link_bandwidth_bytes_per_s=1e9)
    assert m.gemm_cycles(Gemm("x", 2, 3, 4, instances=3), hw.chiplet).value == 300
    with pytest.raises(ConfigError, match="m=5, n=3, k=4"):
        m.gemm_cycles(Gemm("x", 5, 3, 4), hw.chiplet)
    with pytest.raises(ConfigError, match="ddr"):
        m.memory_transfer(10, "ddr")
    nominal = TableComponentModel.nominal(hw)
    est = nominal.gemm_cycles(Gemm("x", 10, 10, 10), hw.chiplet)
    assert est.value == 32 and est.fidelity == "nominal"  # ceil(1000 / (4*8))
    assert nominal.memory_transfer(256e9, "hbm").value == pytest.approx(1 + 100e-9)
    assert nominal.network_transfer(128e9, 3).value == pytest.approx(1 + 3 * 2 / 2e9)
    assert nominal.ssd_read(3.5e9).value == pytest.approx(1 + 60e-6)
    curve = nominal.memory_curve("hbm")  # what the engine asks: capacity, and latency vs utilization
    assert curve.capacity_bytes_per_s == pytest.approx(256e9) and curve.latency_at(0.7) == pytest.approx(100e-9)


def test_component_workloads_come_from_the_same_run(tmp_path):
    """The traffic matrix, SSD block reads, HBM segments and GEMM list of the hot/cold case above."""
    from eoesim.stitch.workloads import gemm_table, hbm_segments, ssd_reads, traffic_matrix
    rows = [(0, 0, 4, 3), (0.001, 1, 4, 3)]
    r = stitch_point(params(tmp_path, rows, mapping={"hot_set": ["a"]}), hand_model())
    tm = traffic_matrix(r.engine)
    expect = np.zeros((4, 4))
    expect[3, 0] = expect[3, 1] = 16  # the prompts' token ids from the router chiplet 3; the load of b enters
    assert np.array_equal(tm["bytes"], expect)  # stack 0 beside the DDR's chiplet 0, off the network
    assert tm["injection_bytes_per_s"][3] == pytest.approx(32 / (0.001 + 1237e-9))
    reads = ssd_reads(r.engine)
    assert reads[["expert", "offset_bytes", "size_bytes", "prefetch"]].values.tolist() == [["b", 4096, 944, False]]
    assert reads.start_s[0] == pytest.approx(0.001 + 8e-9)  # a is laid out first at 0, b on the next 4 KiB
    assert (reads.finish_s[0], reads.hbm_ready_s[0]) == pytest.approx((0.001 + 1017e-9, 0.001 + 1027e-9))
    seg, _ = hbm_segments(r.engine, 2**30)
    got = seg.groupby(["request", "stream"])["size_bytes"].sum().to_dict()
    # per request: prefill 880 weights + 4 x 32 KV written; decodes 2 x 880, (5 + 6) x 32 read, 2 x 32 written
    for req in (0, 1):
        assert (got[(req, "weights")], got[(req, "kv_read")], got[(req, "kv_write")]) == (880 + 1760, 352, 128 + 64)
    assert got[(-1, "expert_load")] == 944
    g = gemm_table(r.engine)
    shapes = set(zip(g.gemm, g.m, g.n, g.k))
    assert {("qkv_proj", 4, 24, 8), ("attn_score", 4, 4, 8), ("lm_head", 1, 4, 8), ("qkv_proj", 1, 24, 8),
            ("attn_score", 1, 5, 8), ("attn_value", 1, 8, 6)} <= shapes  # prefill, and decodes attending 5, 6
    assert len(g) == len(set(zip(g.gemm, g.m, g.n, g.k, g.instances)))


def test_sequential_picks_load_as_soon_as_routed(tmp_path):
    """Both picks cold (lru, no DDR): b (home of domain 1) and a start loading right after the gate, at 5,
    and share the SSD (0.5e9 B/s each): both reads end at 5 + 1888 + 65 = 1958, the copies share the DDR
    (2 ns) and end at 1969. b's prefill (from 8) ends at 1969 + 70 = 2039, its decodes at 2179; a gets b's
    output at 2182.75 and finds its expert in HBM: [2182.75, 2392.75]. Had a's load waited for b's output it
    would have ended at 2182.75 + 1019 + 210 = 3411.75."""
    p = params(tmp_path, [(0, 1, 4, 3)], composition="sequential_aggregation", router={**TOPK, "k": 2},
               mapping={"router_chiplet": 0, "cache_policy": "lru"})
    r = stitch_point(p, hand_model())
    assert loads_ns(r) == [pytest.approx(("hbm", x, 5, 1969, 944)) for x in "ab"] + [
        pytest.approx(("ssd", x, 5, 1958, 944)) for x in "ab"]
    _, e2e = latencies_ns(r)
    assert e2e[0] == pytest.approx(2392.75)


@pytest.mark.parametrize("change,msg", [
    (lambda p: p["eoe"]["morphology"].update(kind="chain", chain=["a", "zz"]), r"eoe.morphology.chain\[1\]: 'zz'"),
    (lambda p: p["mapping"].update(hot_set=["a", "b"]) or p["hardware"]["memory"]["hbm"].update(
        capacity_gib=1500 / 2**30), "mapping.hot_set: expert 'b' .* does not fit"),  # one 944-B expert + KV fit
    (lambda p: p["hardware"]["package"].update(grid=[1, 1]), "router_chiplet: 3 is not allowed; allowed: 0..0"),
    (lambda p: p["hardware"]["package"].update(grid=[1, 1]) or p["mapping"].update(router_chiplet=0),
     "one_to_one maps 2 experts onto 1 chiplets"),
    (lambda p: p["eoe"]["requests"].update(trace_file="missing.csv"), "does not exist"),
    (lambda p: p["eoe"]["experts"][1].update(d_model=16, heads=2), "equal d_model"),
    (lambda p: p.update(serving={"kv_block_tokens": 24}), "serving.kv_block_tokens: 24 does not divide"),
    (lambda p: p["mapping"].update(prefetch=-1), "mapping.prefetch: -1 is not allowed"),
])
def test_check_point_reports_cross_field_errors(tmp_path, change, msg):
    p = params(tmp_path, [(0, 0, 4, 3)])
    check_point(p)
    change(p)
    with pytest.raises(ConfigError, match=msg):
        check_point(p, base_dir=tmp_path)


def test_a_static_hot_set_that_leaves_no_room_for_a_cold_expert_is_rejected_at_planning(tmp_path):
    """One stack, a pinned (944 B), b cold and loaded on demand beside it: b with the KV of the longest request
    (4 + 3 tokens, one 512-B block; the 4-token prompt's block over 1 - 0.01 watermark: 517.2 B) needs 944 +
    944 + 517.2 = 2405.2 B. With 2400 B b's request would wait for ever beside pinned a: rejected at planning
    naming the hot set, the stack, b and the HBM needed. With 2410 B both requests run."""
    def point(capacity_b):
        p = params(tmp_path, [(0, 0, 4, 3), (0, 1, 4, 3)], mapping={"hot_set": ["a"]}, ddr_gib=1.0)
        p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=capacity_b / 2**30)
        return p
    need_gib = (2 * 944 + 512 / 0.99) / 2**30  # 2.23999e-06: 2.24e-06 to the nearest and rounded up
    with pytest.raises(ConfigError, match=rf"^mapping\.hot_set: \['a'\] pinned in HBM stack 0 under cache_policy "
                                          rf"static is not allowed beside the experts a request runs there \(b\): "
                                          rf".* they need {need_gib:.4g} GiB .*allowed: a hot set without those "
                                          rf"experts, cache_policy lru or lfu, or hardware\.memory\.hbm\.capacity_gib "
                                          rf">= {need_gib:.4g}$"):
        check_point(point(2400), base_dir=tmp_path)
    r = stitch_point(point(2410), hand_model())
    assert r.summary["unfinished_requests"] == 0


def test_an_expert_no_router_picks_must_load_beside_a_static_hot_set(tmp_path):
    """A chain a -> top-2 of {b, c}: a runs alone for every request, though no router picks it. The longest
    request's a reads 4 + 3 tokens and writes 3 (10 tokens: one 512-B block over 1 - 0.01 watermark, 517.2 B).
    One stack pins b and c (1888 B) and must load a with its KV beside them: 3349.2 B. With 3000 B - enough
    for the group {b, c} with its KV, 2922.3 B - a's request would wait for ever: rejected at planning. Before,
    the check knew only the router's picks and the request stalled. With 3350 B it runs."""
    def point(capacity_b):
        p = params(tmp_path, [(0, 0, 4, 3)], experts=("a", "b", "c"),
                   morphology={"kind": "chain", "chain": ["a", ["b", "c"]]}, router={**TOPK, "k": 2},
                   mapping={"hot_set": ["b", "c"]}, ddr_gib=1.0)
        p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=capacity_b / 2**30)
        return p
    with pytest.raises(ConfigError, match=r"^mapping\.hot_set: \['b', 'c'\] pinned in HBM stack 0 under cache_policy "
                                          r"static is not allowed beside the experts a request runs there \(a\)"):
        check_point(point(3000), base_dir=tmp_path)
    assert stitch_point(point(3350), hand_model()).summary["unfinished_requests"] == 0


def test_static_batching_needs_the_whole_output_with_the_watermark_free_at_planning(tmp_path):
    """Static batching admits a sequence with the blocks of its prompt and whole output (16 + 10 tokens: two
    512-B blocks) and 1 % of the KV space free: one stack must hold a (944 B) and 2 / 0.99 blocks, 1978.3 B.
    With 1970 B (a continuous batcher's need, 944 + 2 blocks, fits) the request could never be admitted:
    rejected at planning. With what the message allows it runs."""
    def point(capacity_b, scheduler):
        p = params(tmp_path, [(0, 0, 16, 10)], experts=("a",), mapping={"hot_set": ["a"]},
                   serving={"scheduler": scheduler})
        p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=capacity_b / 2**30)
        return p
    # 1978.3 B = 1.8424e-06 GiB, rounded up: the capacity the message allows runs
    with pytest.raises(ConfigError, match=r"^hardware\.memory\.hbm\.capacity_gib: .* allowed: at least 1\.843e-06 GiB"):
        check_point(point(1970, "static"), base_dir=tmp_path)
    assert stitch_point(point(1970, "continuous"), hand_model()).summary["unfinished_requests"] == 0
    assert stitch_point(point(1.843e-06 * 2**30, "static"), hand_model()).summary["unfinished_requests"] == 0


def test_an_admitted_group_evicts_an_idle_expert_for_its_kv(tmp_path):
    """One stack holds a, b and c (944 B each) and exactly what the capacity check asks: the two picks of a
    request and the KV of its longest request on each, 2 x (944 + 7 x 512) = 9056 B (16-token blocks of
    32 B/token; 96 + 1 tokens -> 7 blocks; the prompt's 6 blocks over 1 - 0.1 watermark -> 6.7). The group
    {a, b} needs 2 x 6 blocks = 6144 B with 10 % of the KV space free; with c resident the KV space is
    6224 B, short. Idle c is evicted (KV before idle weights); without that the group waits forever.
    Timing as on an idle system: gate [0, 5]; prompt 384 B to b over 1 hop (2 + 24 ns) -> 31; prefills
    [31, 101]; b's hidden state to a (3 ns) + the average (10 ns): first (and only) token at 114."""
    p = params(tmp_path, [(0, 0, 96, 1)], experts=("a", "b", "c"), router={**TOPK, "k": 2},
               mapping={"router_chiplet": 0, "cache_policy": "lru", "hot_set": ["a", "b", "c"]},
               serving={"kv_watermark": 0.1})
    p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=9056 / 2**30)
    r = stitch_point(p, hand_model())
    assert r.summary["unfinished_requests"] == 0
    mem = r.engine.stacks[0]
    assert (mem.evictions, sorted(mem.resident)) == (1, ["a", "b"])
    ttft, _ = latencies_ns(r)
    assert ttft[0] == pytest.approx(114)


def test_a_decode_short_of_blocks_evicts_an_idle_expert_before_preempting(tmp_path):
    """As above with prompt 64, output 64 (8 blocks per part at the end): the capacity check's exact
    2 x (944 + 8 x 512) = 10080 B. The group is admitted beside idle c (2 x 4 blocks of 7248 B of KV space);
    at context 113 each part needs its 8th block: 2 x 512 B with 80 B free. Idle c (944 B) is evicted rather
    than a part preempted, and nothing is recomputed. Timing as on an idle system: prompt 256 B to b (2 + 16
    ns) -> 23; prefills [23, 93]; first token at 93 + 13 = 106; 63 lock-step decodes of 70 + 13 ns -> 5335."""
    p = params(tmp_path, [(0, 0, 64, 64)], experts=("a", "b", "c"), router={**TOPK, "k": 2},
               mapping={"router_chiplet": 0, "cache_policy": "lru", "hot_set": ["a", "b", "c"]})
    p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=10080 / 2**30)
    r = stitch_point(p, hand_model())
    mem = r.engine.stacks[0]
    assert (mem.evictions, sorted(mem.resident)) == (1, ["a", "b"])
    assert r.summary["preemptions"]["total"] == 0
    ttft, e2e = latencies_ns(r)
    assert (ttft[0], e2e[0]) == pytest.approx((106, 5335))


def test_a_group_queued_without_kv_gives_up_the_expert_an_older_groups_kv_needs(tmp_path):
    """One 6400-B stack holds a, b, c (944 B each). R0 {a, b} (prompt 16, 8 tokens): gate [0, 5], 64 B to b
    (2 + 4 ns) -> 11, prefill [11, 81], first token 94, 7 lock-step decodes of 70 + 13 -> 675. While it runs
    R1 {a, b} and then R2 {c, a} queue (prompts 63, 1 token: 4 blocks of 512 B per part, 4096 B a group). The
    KV space beside three experts is 6400 - 2832 = 3568 B, short for either; beside two it is 4512 B. R1 needs
    c gone, which R2 pins; R2 needs b gone, which R1 pins: both used to wait for ever. R2 (younger, no KV) goes
    back to wait for its experts, c is evicted, and R1 is admitted when R0's KV is free: prefill [675, 745],
    its token at 758. R2, admitted again, loads c once R1's parts end at 745 frees the room (416 B free before):
    SSD 1009 ns + DDR -> HBM 10 ns -> 1764; b is evicted for its KV; prefill [1764, 1834]; the average on c's
    chiplet 3 (a's hidden state over 2 hops: 5 ns, + 10) -> 1849."""
    rows = [(0, 0, 16, 8), (100e-9, 0, 63, 1), (101e-9, 2, 63, 1)]
    p = params(tmp_path, rows, experts=("a", "b", "c"), router={**TOPK, "k": 2},
               mapping={"router_chiplet": 0, "cache_policy": "lru", "hot_set": ["a", "b", "c"]},
               serving={"kv_watermark": 0.0})
    p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=6400 / 2**30)
    r = stitch_point(p, hand_model())
    ttft, e2e = latencies_ns(r)
    arrival = np.array([t for t, *_ in rows]) / NS
    assert ttft + arrival == pytest.approx([94, 758, 1849])
    assert e2e + arrival == pytest.approx([675, 758, 1849])
    mem = r.engine.stacks[0]
    assert (mem.evictions, sorted(mem.resident)) == (2, ["a", "c"])
    assert [x["expert"] for x in r.engine.rec.expert_loads] == ["c"]


def test_under_swap_preemption_a_composition_part_is_recomputed(tmp_path):
    """Two groups {a, b} (prompt 64, 64 tokens) on one stack with room for exactly one group's worst case beside
    a and b (10080 B): both are admitted (4 blocks per part each) and run out of blocks as they decode. A
    part swapped to DDR kept its partner's KV waiting for a swap-in that this very room could prevent (a study
    stalled for ever); parts are recomputed instead, and summary preemptions/by_mode says so."""
    p = params(tmp_path, [(0, 0, 64, 64), (0, 0, 64, 64)], experts=("a", "b"), router={**TOPK, "k": 2},
               mapping={"router_chiplet": 0, "cache_policy": "lru", "hot_set": ["a", "b"]},
               serving={"kv_watermark": 0.0, "preemption": "swap"})
    p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=10080 / 2**30)
    r = stitch_point(p, hand_model())
    pre = r.summary["preemptions"]
    assert r.summary["unfinished_requests"] == 0
    assert pre["total"] >= 1 and pre["by_mode"] == {"recompute": pre["total"], "swap": 0}
    assert pre["swap_out_bytes"] == pre["swap_in_bytes"] == 0


def test_a_stack_must_hold_the_whole_group_a_two_level_tree_runs_at_once(tmp_path):
    """Top-2 at the root over two sub-routers, top-2 in each: a request's group is all four experts (the
    sub-routers' picks compose with the root's), so one stack serving them must hold 4 x (944 B + the KV of
    the 7-token request: one 16-token block of 512 B, over 1 - 0.01 watermark: 517.2 B) = 5844.8 B. 4000 B
    holds two experts and their KV (the old rule, k = 2) and would have left the group waiting forever."""
    tree = {"kind": "tree", "tree": {"root": ["t0", "t1"], "t0": ["a", "b"], "t1": ["c", "d"]}}
    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a", "b", "c", "d"), morphology=tree, router={**TOPK, "k": 2},
               mapping={"router_chiplet": 0})
    p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=5845 / 2**30)
    check_point(p, base_dir=tmp_path)
    p["hardware"]["memory"]["hbm"].update(capacity_gib=4000 / 2**30)
    with pytest.raises(ConfigError, match=r"hardware.memory.hbm.capacity_gib: .* allowed: at least 5.44\d*e-06 GiB "
                                          r"- stack 0 must hold the 4 experts a request runs there at once"):
        check_point(p, base_dir=tmp_path)


STATIC_ROWS = [(0, 1, 4, 3), (1e-6, 1, 4, 3), (2e-6, 2, 4, 3)]  # b is the most popular; picks (b, a), (c, a)


def static_point(tmp_path, hot_set):
    """Static residency, one stack of 3000 B for four 944-B experts; KV blocks of 8 tokens (256 B): the 7-token
    requests take one block, over 1 - 0.01 watermark 258.6 B. A group needs 2 x (944 + 258.6) = 2405.2 B."""
    p = params(tmp_path, STATIC_ROWS, experts=("a", "b", "c", "d"), router={**TOPK, "k": 2},
               mapping={"router_chiplet": 0, "hot_set": hot_set}, serving={"kv_block_tokens": 8})
    p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=3000 / 2**30)
    return p


def test_an_automatic_static_hot_set_leaves_room_for_a_group_and_its_kv(tmp_path):
    """Pinning b (the most popular) would leave 2056 B: enough for two experts' weights (1888 B, what the hot
    set used to keep free) but not for (c, a) with their KV (2405.2 B), which would then wait forever. Nothing
    is pinned; every expert is a transient buffer and every request completes."""
    r = stitch_point(static_point(tmp_path, None), hand_model())
    assert r.engine.stacks[0].hot == set()
    assert r.summary["unfinished_requests"] == 0


def top2_tiny_study(seed, experts, tree, rate, count, hbm, ddr_gib, mapping, serving):
    """Poisson requests with lognormal prompts (median 256) and outputs (median 64) routed top-2 (at every
    router of ``tree``) over tiny-25m experts with representation averaging, on a 4x4 package."""
    return {"seed": seed,
            "eoe": {"experts": [{"name": e, "preset": "tiny-25m"} for e in experts],
                    "morphology": {"kind": "tree", "tree": tree},
                    "router": {"kind": "topk", "k": 2}, "composition": {"kind": "representation_average"},
                    "requests": {"arrival": "poisson", "rate_per_s": rate, "count": count, "zipf_skew": 1.1,
                                 "prompt_tokens": {"dist": "lognormal", "median": 256, "sigma": 0.6, "min": 8,
                                                   "max": 2048},
                                 "output_tokens": {"dist": "lognormal", "median": 64, "sigma": 0.6, "min": 1,
                                                   "max": 512}}},
            "hardware": {"package": {"grid": [4, 4]}, "memory": {"hbm": hbm, "ddr": {"capacity_gib": ddr_gib}}},
            "mapping": mapping, "serving": serving}


def test_static_batches_release_parts_preempted_to_make_room(tmp_path):
    """Static batching, 16 experts top-2 with representation averaging, HBM stacks holding 3 of the 4 experts
    they serve: loads make room by preempting composition parts that wait for a partner. A preempted part
    leaves its static batch (it prefills again in a later one). Before, it stayed in the batch, which then
    never ended, and 25 of these 80 requests never finished."""
    experts = [f"e{i:02d}" for i in range(16)]
    p = top2_tiny_study(1, experts, {"root": experts}, 300.0, 80, {"stacks": 4, "capacity_gib": 0.125}, 0.5,
                        {"strategy": "one_to_one", "cache_policy": "lru", "prefetch": 1}, {"scheduler": "static"})
    r = stitch_point(p)  # the hardware's datasheet costs
    assert r.summary["unfinished_requests"] == 0
    assert r.summary["preemptions"]["total"] > 0  # the case arises


def _quota_study(tmp_path, rows, capacity_bytes):
    """a, b, c resident on one stack (944 B each) under an equal KV partition (a third of the KV space each
    while another expert holds KV there), no watermark; 16-token blocks of 32 B/token (512 B)."""
    p = params(tmp_path, rows, experts=("a", "b", "c"),
               mapping={"router_chiplet": 0, "cache_policy": "lru", "hot_set": ["a", "b", "c"]},
               serving={"kv_watermark": 0.0, "kv_partition": "equal"})
    p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=capacity_bytes / 2**30)
    return p


def test_a_binding_kv_quota_evicts_an_idle_expert_rather_than_wait(tmp_path):
    """b decodes (1 block) when a's 96-token prompt (6 blocks, 3072 B) arrives at 100 ns. With a, b, c
    resident the KV space is 12000 - 2832 = 9168 B and a's third 3056 B: short. Idle c is evicted (KV before
    idle weights): a third of 10112 B is 3371 B, and a is admitted at once. Before, eviction compared the need
    with the whole KV space, and a waited for ever."""
    r = stitch_point(_quota_study(tmp_path, [(0, 1, 16, 40), (1e-7, 0, 96, 1)], 12000), hand_model())
    assert r.summary["unfinished_requests"] == 0
    mem = r.engine.stacks[0]
    assert (mem.evictions, sorted(mem.resident)) == (1, ["a", "b"])
    ttft, e2e = latencies_ns(r)
    assert ttft[1] < e2e[0] - 1e-7 / NS  # a did not wait for b to finish


def test_an_expert_alone_on_its_stack_uses_the_free_kv_space_beyond_its_quota(tmp_path):
    """One request to a: 96 + 2 tokens need 7 blocks (3584 B); 11000 B leave 8168 B of KV space, a third of
    it 2723 B. No other expert holds KV, so the quota does not bind: a runs without evicting anything (before,
    a strict quota left the space idle and the request waited for ever)."""
    r = stitch_point(_quota_study(tmp_path, [(0, 0, 96, 2)], 11000), hand_model())
    assert r.summary["unfinished_requests"] == 0
    assert r.engine.stacks[0].evictions == 0


def _quota_and_c_decoding(tmp_path, rows, capacity_bytes, policy, c_out=60):
    """_quota_study with a fixed router: domain 0 -> a and b together (representation averaging), 1 -> a,
    2 -> c; c's request (16-token prompt, ``c_out`` outputs) decodes first, so c holds KV throughout."""
    p = _quota_study(tmp_path, [(0, 2, 16, c_out)] + rows, capacity_bytes)
    p["eoe"]["router"] = {"kind": "fixed", "assignment": {"0": ["a", "b"], "1": "a", "2": "c"},
                          "cost": {"fixed_cycles": 5, "hidden": 0}}
    p["mapping"]["cache_policy"] = policy
    return p


def test_a_composition_group_is_admitted_on_the_shared_kv_space(tmp_path):
    """The group's parts need 6 blocks (3072 B) each; a third of the 9000 B KV space is 3000 B. Admitted whole
    on the shared space (8488 B free beside c's block), the group starts while c decodes. Before, each part
    had to fit its quota, so the group waited for c to finish - and with parts pinning experts, could wait
    for ever."""
    r = stitch_point(_quota_and_c_decoding(tmp_path, [(1e-7, 0, 96, 1)], 2832 + 9000, "lru"), hand_model())
    assert r.summary["unfinished_requests"] == 0
    ttft, e2e = latencies_ns(r)
    assert ttft[1] + 100 < e2e[0]


def test_a_running_sequence_grows_beyond_its_quota_on_the_shared_space(tmp_path):
    """a's request (16-token prompt: 1 block, within its third of 21000 B) grows to 15 blocks (7680 B) while c
    (400 outputs) holds KV, and no expert can be evicted (static, all pinned): it grows on the shared space,
    without preemption. Before, a quota bound decode blocks too, and a (and c) were preempted."""
    r = stitch_point(_quota_and_c_decoding(tmp_path, [(1e-7, 1, 16, 220)], 2832 + 21000, "static", c_out=400),
                     hand_model())
    assert r.summary["unfinished_requests"] == 0
    assert r.summary["preemptions"]["total"] == 0


def test_a_merged_expert_takes_its_lead_experts_kv_quota(tmp_path):
    """Weight summation of a and b under an equal partition: the merged expert runs in a's place and takes a's
    quota. Before, it had none and its request never started."""
    p = params(tmp_path, [(0, 0, 4, 3)], router={**TOPK, "k": 2}, composition="weight_summation",
               mapping={"router_chiplet": 0, "hot_set": ["a", "b"]}, serving={"kv_partition": "equal"})
    r = stitch_point(p, hand_model())
    assert r.summary["unfinished_requests"] == 0
    share = r.engine.stacks[0].kv_share
    assert share["merged(a+b)"] == share["a"] == pytest.approx(0.5)


def test_a_chain_over_some_of_the_experts_leaves_the_others_unplaced(tmp_path):
    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a", "b", "c"), morphology={"kind": "chain", "chain": ["a", "b"]})
    r = stitch_point(p, hand_model())
    assert r.summary["unfinished_requests"] == 0
    assert sorted(r.engine.replicas) == ["a", "b"]


def test_two_stacks_each_full_with_kv_waiting_to_hand_over_to_the_other_trade_their_experts(tmp_path):
    """a prefills on chiplet 0 (stack 0) and decodes on 3 (stack 1); b prefills on 1 (stack 1) and decodes on 2
    (stack 0). A stack (2000 B) holds one expert (944 B) and a prompt's block (512 B), not two experts. a is
    copied into stack 0 [5, 15], b into stack 1 over the link [8, 78]; R0 prefills [15, 85] and waits to hand
    over to stack 1, whose load of a waits for room beside b and R1's block; R1 prefills [78, 148]. A prefilled
    sequence needs its expert no more: a and b are unpinned and evicted - a copied into stack 1 [148, 218] over
    the link, b into stack 0 [148, 158.02] (944 B of the DDR's 944 GB/s less the link copy's 16) - and each KV
    moves (its 4 prompt tokens, 128 B over the link, 10 ns) and decodes 2 tokens (140 ns): R1 done at 308.02, R0 at
    218 + 150 = 368.
    Before, each prefilled sequence pinned its expert on its prefill stack and both waited for ever."""
    p = params(tmp_path, [(0, 0, 4, 3), (0, 1, 4, 3)], ddr_gib=1.0,
               serving={"expert_load": "whole", "disaggregation": {"prefill_replicas": 1}},
               mapping={"strategy": "many_to_many", "replicas": 2, "cache_policy": "lru", "hot_set": [],
                        "router_chiplet": 0})
    p["hardware"]["memory"]["hbm"].update(stacks=2, capacity_gib=2000 / 2**30)
    r = stitch_point(p, hand_model())
    assert {n: [(i.chips, i.stacks, i.role) for i in r.engine.replicas[n]] for n in "ab"} == {
        "a": [((0,), (0,), "prefill"), ((3,), (1,), "decode")], "b": [((1,), (1,), "prefill"), ((2,), (0,), "decode")]}
    assert latencies_ns(r)[1] == pytest.approx([368, 308 + 944 / 928 - 1])
    loads = sorted((x["expert"], x["stack"], x["issue_s"] / NS, x["hbm_ready_s"] / NS)
                   for x in r.engine.rec.expert_loads)
    assert loads == [
        ("a", 0, 5, pytest.approx(15)), ("a", 1, pytest.approx(85), pytest.approx(218)),
        ("b", 0, pytest.approx(148), pytest.approx(148 + 9 + 944 / 928)), ("b", 1, 8, pytest.approx(78))]


def test_weight_summation_with_disaggregation_is_rejected(tmp_path):
    p = params(tmp_path, [(0, 0, 4, 3)], router={**TOPK, "k": 2}, composition="weight_summation",
               mapping={"strategy": "replicate"}, serving={"disaggregation": {"prefill_replicas": 1}})
    with pytest.raises(ConfigError, match=r"eoe\.composition\.kind: 'weight_summation' is not allowed with "
                                          r"serving\.disaggregation; allowed"):
        check_point(p)


def top3_of_6(serving):
    """40 requests (64-token prompts, 32 outputs) routed top-3 over 6 tiny-25m experts, one per chiplet,
    representation averaging; 1 GiB stacks (memory never binds); datasheet costs."""
    experts = [f"e{i:02d}" for i in range(6)]
    p = {"seed": 3,
         "eoe": {"experts": [{"name": e, "preset": "tiny-25m"} for e in experts],
                 "morphology": {"kind": "tree", "tree": {"root": experts}}, "router": {"kind": "topk", "k": 3},
                 "composition": {"kind": "representation_average"},
                 "requests": {"arrival": "poisson", "rate_per_s": 2000.0, "count": 40, "zipf_skew": 0.0,
                              "prompt_tokens": {"dist": "fixed", "value": 64},
                              "output_tokens": {"dist": "fixed", "value": 32}}},
         "hardware": {"package": {"grid": [2, 4]}, "memory": {"hbm": {"stacks": 4, "capacity_gib": 1.0}}},
         "mapping": {"strategy": "one_to_one", "cache_policy": "static"},
         "serving": serving}
    return p


def test_composition_parts_waiting_for_partners_take_no_max_num_seqs_seat(tmp_path):
    """Top-3 of 6 experts with representation averaging and max_num_seqs 1: a part that waits for its
    partners' tokens runs in no iteration, so it leaves its seat to the part of another request that a partner
    waits for. Before, the blocked parts held every seat and 29 of these 40 requests never finished. Every
    iteration still runs at most one sequence per expert."""
    r = stitch_point(top3_of_6({"max_num_seqs": 1}))
    assert r.summary["unfinished_requests"] == 0
    assert int(r.engine.rec.steps_array()["seqs"].max()) == 1


def test_an_automatic_static_hot_set_leaves_room_for_a_merged_expert(tmp_path):
    """Weight summation of a and b on one 3776 B stack: both experts (1888 B) fit, but pinning both would leave
    1888 B, no room to merge - the merge reads a and b while it writes merged(a+b) (3 x 944 B). The hot set keeps
    that room free: only a is pinned (3776 - 944 = 2832 B), and the request completes."""
    p = params(tmp_path, [(0, 0, 4, 3)], router={**TOPK, "k": 2}, composition="weight_summation",
               mapping={"router_chiplet": 0, "cache_policy": "static"})
    del p["mapping"]["hot_set"]  # automatic
    p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=3776 / 2**30)
    r = stitch_point(p, hand_model())
    assert r.engine.stacks[0].hot == {"a"}
    assert r.summary["unfinished_requests"] == 0


@pytest.mark.parametrize(("capacity", "mapping", "message"), [
    # a, b and merged(a+b): 3 x 944 = 2832 B at once while merging; before, LRU evicted b for the merged expert
    # and the merge read an expert no longer there
    (2831, {"cache_policy": "lru", "hot_set": 0},
     r"hardware\.memory\.hbm\.capacity_gib: HBM stack 0 \(2\.637e-06 GiB\) is too small to merge the picks "
     r"a, b \(eoe\.composition\.kind weight_summation\): .* need 2\.638e-06 GiB at once; allowed: fewer picks "
     r"\(eoe\.router\.k\), another eoe\.composition\.kind, or hardware\.memory\.hbm\.capacity_gib >= 2\.638e-06"),
    # both pinned (1888 B) and the merged expert with the KV of the request (944 + 517.2 B): 3349.2 B; before, the
    # merged expert's load waited for ever
    (3349, {"cache_policy": "static", "hot_set": ["a", "b"]},
     r"mapping\.hot_set: HBM stack 0 .* too small to merge the picks a, b \(eoe\.composition\.kind weight_summation\) "
     r"with the hot experts pinned there \(a, b\): .* need 3\.119e-06 GiB at once; allowed: a hot set without those "
     r"experts, cache_policy lru or lfu, or hardware\.memory\.hbm\.capacity_gib >= 3\.12e-06"),
])
def test_a_stack_too_small_to_merge_the_picks_beside_them_is_refused_at_planning(tmp_path, capacity, mapping,
                                                                                  message):
    p = params(tmp_path, [(0, 0, 4, 3)], router={**TOPK, "k": 2}, composition="weight_summation",
               mapping={"router_chiplet": 0, **mapping})
    p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=capacity / 2**30)
    with pytest.raises(ConfigError, match=message):
        check_point(p)
    p["hardware"]["memory"]["hbm"]["capacity_gib"] = (capacity + 1) / 2**30
    assert stitch_point(p, hand_model()).summary["unfinished_requests"] == 0


def test_a_pick_from_another_stack_is_copied_whole_and_pinned_while_the_merge_reads_it(tmp_path):
    """a reads stack 0, b stack 1; the merge runs on a's chiplet 0, so b is copied into stack 0 too. Both come
    from the SSD (1888 B at 1 GB/s + 56 ns, ending at 1958 ns), then share the DDR: 2 x 944 B at 944 GB/s + 9 ns
    = 11 ns each. Before, b's copy into stack 0 counted 0 bytes (its replicas read only stack 1): 9 ns, and no
    room in HBM. While the merge reads a and b (3 x 944 B), neither can be evicted."""
    p = params(tmp_path, [(0, 0, 4, 3)], router={**TOPK, "k": 2}, composition="weight_summation",
               mapping={"router_chiplet": 0, "cache_policy": "lru", "hot_set": 0}, serving={"expert_load": "whole"})
    p["hardware"]["memory"]["hbm"].update(stacks=2)
    check_point(p)
    eng = Engine(p, hand_model(), energy=EnergyModel())
    assert [i.stacks for i in eng.replicas["b"]] == [(1,)]
    pinned_while_merging = []
    merge = eng._merge

    def watch(stack, name, load):
        merge(stack, name, load)
        pinned_while_merging.append((eng.stacks[0].pinned("a"), eng.stacks[0].pinned("b")))

    eng._merge = watch
    eng.run()
    copies = {(x["expert"], x["stack"]): x for x in eng.rec.expert_loads}
    for pick in ("a", "b"):
        c = copies[(pick, 0)]
        assert c["size_bytes"] == 944
        assert (c["copy_start_s"] / NS, c["hbm_ready_s"] / NS) == pytest.approx((1958, 1969))
        assert eng.stacks[0].resident[pick] == 944
    assert copies[("merged(a+b)", 0)]["size_bytes"] == 3 * 944
    assert pinned_while_merging == [(True, True)]
    assert not eng.stacks[0].pinned("a") and not eng.stacks[0].pinned("b")  # the merge has read them


@pytest.mark.parametrize("hot_set", [["a", "b", "c"], 3])
def test_a_hot_set_past_the_stack_names_the_experts_that_fill_it(tmp_path, hot_set):
    """A 2000 B stack holds two of the 944 B experts: the third of the hot set is refused, naming the two."""
    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a", "b", "c"), mapping={"cache_policy": "lru", "hot_set": hot_set})
    p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=2000 / 2**30)
    with pytest.raises(ConfigError, match=r"mapping\.hot_set: expert 'c' .* does not fit in hardware\.memory\.hbm\."
                                          r"capacity_gib .* with the hot set before it there \(a, b\); allowed: a "
                                          r"smaller hot set or more HBM$"):
        check_point(p)


def test_an_automatic_static_hot_set_leaves_room_for_a_groups_kv(tmp_path):
    """a, b and c (2832 B) fit the 9056 B stack that the group (a, b) with its KV needs (2 x (944 + 7 x 512));
    pinning all three would leave 6224 B of KV space for the group's 7168 B, with c pinned, and the request
    would wait forever. Nothing is pinned (a hot expert would leave less than the group's 9056 B)."""
    p = params(tmp_path, [(0, 0, 96, 1)], experts=("a", "b", "c"),
               router={"kind": "fixed", "assignment": {"0": ["a", "b"]}, "cost": {"fixed_cycles": 5, "hidden": 0}},
               mapping={"router_chiplet": 0, "cache_policy": "static"})
    del p["mapping"]["hot_set"]  # automatic
    p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=9056 / 2**30)
    r = stitch_point(p, hand_model())
    assert r.engine.stacks[0].hot == set()
    assert r.summary["unfinished_requests"] == 0


def test_a_static_batch_whose_members_all_wait_for_partners_takes_in_their_partners(tmp_path):
    """Static batching, top-3 of 6 experts with representation averaging, max_num_seqs 2: each instance's
    static batch can end up with every member waiting for a partner that waits, on another instance, for that
    instance's batch to end. Such a batch takes in the waiting parts whose partners run elsewhere. Before,
    these 40 requests deadlocked."""
    r = stitch_point(top3_of_6({"scheduler": "static", "max_num_seqs": 2}))
    assert r.summary["unfinished_requests"] == 0


def test_static_batching_reserves_a_partners_whole_static_need(tmp_path):
    """Static batching, a two-level tree (top-2 at both levels: 4 parts per request) with replicas on one
    256 MiB stack: the first part admitted reserves each partner's prompt and whole output, what the
    partner's static admission asks for. Before, it reserved their prompts only; partners of many groups held
    blocks that admitted none of them, and 14 of these 40 requests never finished."""
    experts = [f"e{i:02d}" for i in range(6)]
    p = top2_tiny_study(917, experts, {"root": ["r0", "r1"], "r0": experts[:3], "r1": experts[3:]}, 500.0, 40,
                        {"stacks": 1, "capacity_gib": 0.25}, 2.0,
                        {"strategy": "replicate", "cache_policy": "lru", "prefetch": 1},
                        {"scheduler": "static", "expert_load": "whole", "max_steps_per_event": 1, "chunk_tokens": 64})
    r = stitch_point(p)
    assert r.summary["unfinished_requests"] == 0


def test_a_preempted_sequence_is_not_admitted_again_in_the_iteration_that_preempted_it(tmp_path):
    """Prefill-priority scheduling on a full stack: a decode short of a block preempts the latest sequence.
    Re-admitting the victim at once (it was first in line and its prompt fit) had it preempted again at its
    next decode, for ever, while the KV it needed stayed with parts waiting for partners: 100,000 preemptions
    in 15 s of wall time, 52 of 120 requests done. As vLLM, an iteration that preempts admits no prompt."""
    experts = [f"e{i:02d}" for i in range(4)]
    p = top2_tiny_study(814, experts, {"root": experts}, 1000.0, 120, {"stacks": 2, "capacity_gib": 0.125}, 2.0,
                        {"strategy": "many_to_many", "cache_policy": "lru", "prefetch": 0},
                        {"scheduler": "prefill_priority", "kv_partition": "response_length"})
    p["hardware"]["package"]["grid"] = [2, 4]

    def stuck(*_):
        raise TimeoutError("the engine made no progress in 60 s")

    old = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(60)
    try:
        r = stitch_point(p)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert r.summary["unfinished_requests"] == 0
    assert r.summary["preemptions"]["total"] < 10 * 120


def test_the_only_sequence_preempted_for_an_expert_queued_work_pins_is_admitted_again(tmp_path):
    """One 2496-B stack (the capacity check's need for R1: b, 944 B, and its 47-token prompt, 3 blocks of
    512 B over 0.99, 2495.5 B). R0 (a, prompt 16, 20 tokens) and R1 (b, prompt 47) arrive together: a and b
    load (1888 B), R0 is admitted with one block; R1's 3 blocks do not fit beside a, which R0 pins. After its
    prefill R0 needs a second block with 96 B free and b pinned by R1 queued: R0, the only sequence running,
    is preempted (recompute). Its admission again (17 tokens, 2 blocks) sends R1, younger and queued without
    KV, back to wait for b, which leaves; R1 runs once R0 is done. The preemption left R0's instance no
    iteration, so it tries again at once; before, nothing woke it (the KV R0 freed woke the stack's waiting
    sequences before R0 was queued): both waited for ever."""
    p = params(tmp_path, [(0, 0, 16, 20), (0, 1, 47, 1)])
    p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=2496 / 2**30)
    r = stitch_point(p, hand_model())
    assert r.summary["unfinished_requests"] == 0
    assert dict(r.engine.rec.preemptions) == {"a": 1}
    ttft, e2e = latencies_ns(r)
    assert ttft[1] > e2e[0]


def test_an_admission_evicts_for_its_kv_only_where_every_stack_it_reads_can_give_room(tmp_path):
    """a and b are split over two chiplets each, reading both stacks (472 B of weights and 256 B per 16-token
    block on each); 1500 B per stack, whole loads from DDR beside chiplet 0: into stack 0 in 9.5 ns, into
    stack 1 by 67 (a) and 75 (b). R0 (a, prompt 48) is older than R1 (b, prompt 16). At 67 a is in and R0
    needs 3 blocks over 0.99 (775.8 B) on each stack: only without b (1500 - 944 = 556 B). b is idle on stack 0
    but still loading into stack 1, so R0 evicts nothing and waits; at 75 R1 runs beside a and b, and once it is
    done R0 evicts b from both stacks. Before, R0 evicted b from stack 0 at 67 (and still could not run), R1's
    owner reloaded it there, R0 then evicted it from stack 1, and so on: a livelock."""
    p = params(tmp_path, [(0, 0, 48, 4), (0, 1, 16, 4)], ddr_gib=1.0, serving={"expert_load": "whole"},
               mapping={"strategy": "one_to_many", "chiplets_per_expert": 2, "cache_policy": "lru", "hot_set": [],
                        "router_chiplet": 0})
    p["hardware"]["memory"]["hbm"].update(stacks=2, capacity_gib=1500 / 2**30)
    r = stitch_point(p, hand_model())
    assert r.summary["unfinished_requests"] == 0
    hbm = [(x[1], x[3]) for x in loads_ns(r) if x[0] == "hbm"]
    assert sorted(e for e, _ in hbm) == ["a", "a", "b", "b"]  # b is loaded once into each stack
    assert max(t for e, t in hbm if e == "b") == pytest.approx(75)
    assert [m.evictions for m in r.engine.stacks] == [1, 1]
    ttft, e2e = latencies_ns(r)
    assert e2e[1] <= ttft[0]  # R1 runs first, R0 after it


def test_events_that_go_on_without_an_iteration_ending_are_a_livelock_error(tmp_path):
    """An event that schedules itself again at the same instant keeps the request (at 1 us) from ever arriving:
    after MAX_IDLE_CHECKS x PROGRESS_CHECK_EVENTS events without an iteration ending the run stops with an
    error naming the livelock (before, such a run never ended)."""
    engine = Engine(params(tmp_path, [(1e-6, 0, 16, 4)]), hand_model())
    spins = []

    def spin():
        spins.append(engine.now)
        engine.at(engine.now, spin)
    engine.at(0.0, spin)
    with pytest.raises(SimulationError, match=r"^serving: 1 of 1 requests never finished \(a livelock: the last "
                                              r"iteration ended at 0 s, then 4 x 65536 events up to 0 s"):
        engine.run()
    assert len(spins) == MAX_IDLE_CHECKS * PROGRESS_CHECK_EVENTS


@pytest.mark.parametrize("preemption", ["recompute", "swap"])
def test_a_part_whose_partner_is_recomputed_runs_one_token_past_the_composition_however_long_the_step(
        tmp_path, preemption):
    """The study above, recompute and swap: parts run out of blocks and are recomputed, their KV restored while
    their partners still run. A partner stepping alone takes the composed token as its next input, so it
    generates one token past the group's last composition and waits: a step of up to 64 iterations ran it ahead
    by as many tokens, and took blocks ahead that a step formed beside it then lacked (serving.max_steps_per_event
    changed which part was preempted). Every step, request and preemption is now the same one iteration per
    event or 64."""
    runs = {}
    for k in (1, 64):
        p = params(tmp_path, [(0, 0, 64, 64), (0, 0, 64, 64)], experts=("a", "b"), router={**TOPK, "k": 2},
                   mapping={"router_chiplet": 0, "cache_policy": "lru", "hot_set": ["a", "b"]},
                   serving={"kv_watermark": 0.0, "preemption": preemption, "max_steps_per_event": k})
        p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=10080 / 2**30)
        runs[k] = stitch_point(p, hand_model())
    one, many = runs[1], runs[64]
    assert one.summary["preemptions"]["total"] >= 1
    assert many.summary["preemptions"] == one.summary["preemptions"]
    for a, b in zip(latencies_ns(one), latencies_ns(many)):
        assert b == pytest.approx(a, rel=1e-9)
    assert [i.iterations for i in many.engine.instances] == [i.iterations for i in one.engine.instances]
    assert [i.busy_s for i in many.engine.instances] == pytest.approx([i.busy_s for i in one.engine.instances],
                                                                      rel=1e-9)
