"""End-to-end stitching against hand-computed cases.

Every latency here comes from a TableComponentModel fed with hand inputs (not simulator results):
each GEMM instance takes 10 cycles at 1 GHz (10 ns), HBM moves 1e12 B/s, DDR 944e9 B/s after 9 ns, the
SSD 1e9 B/s after 56 ns, a link 16e9 B/s after 2 ns per hop. The experts are all the same hand-sized
transformer (1 layer, d_model 8, 1 head, d_ff 8, vocab 4): 7 GEMMs per forward pass (qkv, score, value,
out, up, down, LM head), so a prefill or a decode step computes for 70 ns; its weights are 944 bytes
(880 streamed per pass) and its KV is 32 bytes per token. Requests come from small CSV traces.
"""
import json

import numpy as np
import pytest

from eoesim.stitch.components import TableComponentModel
from eoesim.stitch.e2e import stitch_point, write_point
from eoesim.stitch.energy import EnergyModel
from eoesim.stitch.lowering import OP_KINDS
from eoesim.stitch.summary import request_times, summary_row

NS = 1e-9
TINY = {"layers": 1, "d_model": 8, "heads": 1, "kv_heads": 1, "d_ff": 8, "vocab": 4}


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


def ops_of(result, request=0):
    """(kind, resource name, start ns, finish ns) of a request's ops, by start time then creation."""
    g, s = result.graph, result.schedule
    idx = np.flatnonzero(g.req == request)
    idx = idx[np.lexsort((idx, s.start[idx]))]
    return [(OP_KINDS[g.kind[i]], g.resources[g.res[i]].name, s.start[i] / NS, s.finish[i] / NS) for i in idx]


def latencies_ns(result):
    first, end = request_times(result.graph, result.schedule)
    arr = result.graph.requests.arrival_s
    return (first - arr) / NS, (end - arr) / NS


def test_single_request_on_an_idle_system_is_its_critical_path(tmp_path):
    """Cold expert: route 5 -> SSD read 56+944 -> DDR->HBM 9+1 -> prefill 70 -> 2 decode steps 140.
    The 5 ns transfer of the prompt (2 hops: 4 ns + 16 B / 16 B/ns) runs beside the load."""
    r = stitch_point(params(tmp_path, [(0, 0, 4, 3)]), hand_model())
    ttft, e2e = latencies_ns(r)
    assert e2e[0] == pytest.approx(5 + 1000 + 10 + 70 + 140)
    assert ttft[0] == pytest.approx(5 + 1000 + 10 + 70)
    assert r.summary["tpot_s"]["p50"] == pytest.approx(70 * NS)
    got = {(k, res): (round(s, 6), round(f, 6)) for k, res, s, f in ops_of(r)}
    assert got[("route", "chiplet 3 (1, 1)")] == (0, 5)
    assert got[("transfer", "network")] == (5, 10)
    assert got[("load_ssd", "ssd")] == (5, 1005)
    assert got[("load_ddr", "ddr")] == (1005, 1015)
    assert got[("prefill", "chiplet 0 (0, 0)")] == (1015, 1085)
    assert got[("decode", "chiplet 0 (0, 0)")] == (1085, 1225)


def test_hot_expert_hits_and_cold_expert_pays_the_ssd_load(tmp_path):
    rows = [(0, 0, 4, 3), (0.001, 1, 4, 3)]  # domain 0 -> a (hot), domain 1 -> b (cold), far apart
    r = stitch_point(params(tmp_path, rows, mapping={"hot_set": ["a"]}), hand_model())
    _, e2e = latencies_ns(r)
    assert e2e[0] == pytest.approx(5 + 5 + 70 + 140)  # no load
    assert e2e[1] == pytest.approx(5 + 1000 + 10 + 70 + 140)
    c = r.summary["cache"]
    assert (c["accesses"], c["hbm_hits"], c["ssd_loads"], c["hit_rate"]) == (2, 1, 1, 0.5)
    kinds = [k for k, *_ in ops_of(r, 0)]
    assert "load_ssd" not in kinds and "load_ssd" in [k for k, *_ in ops_of(r, 1)]


def test_two_requests_contending_for_one_chiplet_serialize(tmp_path):
    """Both go to expert a on chiplet 0 at t=0. The router serializes the routes (0-5, 5-10); chiplet 0
    serves by ready time: prefill 1 (10-80), prefill 2 (ready 15: 80-150), decode 1 (ready 80: 150-290),
    decode 2 (290-430)."""
    r = stitch_point(params(tmp_path, [(0, 0, 4, 3), (0, 0, 4, 3)], mapping={"hot_set": ["a"]}), hand_model())
    ttft, e2e = latencies_ns(r)
    assert ttft == pytest.approx([80, 150])
    assert e2e == pytest.approx([290, 430])
    g, s = r.graph, r.schedule
    on0 = np.flatnonzero(g.res == 0)
    iv = sorted(zip(s.start[on0], s.start[on0] + g.dur[on0]))
    assert all(b0 <= a1 + 1e-15 for (_, b0), (a1, _) in zip(iv, iv[1:]))  # never two at once
    assert r.summary["utilization"]["per_chiplet"][0] == pytest.approx(420 / 430)


def test_decode_chunks_interleave_contending_requests(tmp_path):
    """As above but one decode op per token: after both prefills the chiplet alternates between the two
    requests' tokens (ready order): r0 t1 150-220, r1 t1 220-290, r0 t2 290-360, r1 t2 360-430."""
    p = params(tmp_path, [(0, 0, 4, 3), (0, 0, 4, 3)], mapping={"hot_set": ["a"]}, stitch={"decode_chunk_tokens": 1})
    r = stitch_point(p, hand_model())
    _, e2e = latencies_ns(r)
    assert e2e == pytest.approx([360, 430])
    dec = sorted((s, req) for (k, _, s, _), req in
                 [(o, q) for q in (0, 1) for o in ops_of(r, q)] if k == "decode")
    assert [req for _, req in dec] == [0, 1, 0, 1]
    assert r.summary["ops"]["decode"] == 4


def test_chain_of_three_runs_stage_after_stage(tmp_path):
    """Chain a -> b -> c on chiplets 0, 1, 3 (snake order), router on 0. Each later stage reads prompt +
    previous output (7 token ids = 28 B: 2 ns + 1.75 ns over one hop)."""
    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a", "b", "c"), morphology={"kind": "chain"},
               mapping={"router_chiplet": 0, "hot_set": ["a", "b", "c"]})
    r = stitch_point(p, hand_model())
    ops = ops_of(r)
    assert [(k, res[:9]) for k, res, *_ in ops] == [
        ("prefill", "chiplet 0"), ("decode", "chiplet 0"), ("transfer", "network"),
        ("prefill", "chiplet 1"), ("decode", "chiplet 1"), ("transfer", "network"),
        ("prefill", "chiplet 3"), ("decode", "chiplet 3")]
    for (_, _, _, f), (_, _, s, _) in zip(ops, ops[1:]):
        assert s == pytest.approx(f)  # strictly one after another
    ttft, e2e = latencies_ns(r)
    assert e2e[0] == pytest.approx(3 * 210 + 2 * 3.75)
    assert ttft[0] == pytest.approx(e2e[0] - 140)


def test_tree_routes_then_runs_the_picks_in_parallel_and_composes(tmp_path):
    """Root router over a, b, c, top-3, representation averaging at a's chiplet 0 (= router chiplet).
    route 0-5; prompt to b (1 hop, 3 ns) and c (2 hops, 5 ns); prefills 5-75, 8-78, 10-80; hidden states
    of the first token back (16 B: 3 and 5 ns) -> compose 85-95 (first token); the three decodes run in
    parallel but each first waits for HBM to finish the previous one's traffic (2176 B = 2.176 ns): a
    95-235, b 97.176-237.176, c 99.352-239.352; hidden states of 2 tokens back (4 and 6 ns) -> compose
    (2 x 10 ns) 245.352-265.352."""
    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a", "b", "c"),
               router={"kind": "topk", "k": 3, "noise_std": 0.0, "cost": {"fixed_cycles": 5, "hidden": 0}},
               mapping={"router_chiplet": 0, "hot_set": ["a", "b", "c"]})
    r = stitch_point(p, hand_model())
    ops = ops_of(r)
    assert ops[0][:2] == ("route", "chiplet 0 (0, 0)")
    pre = [(res, s, f) for k, res, s, f in ops if k == "prefill"]
    assert [res[:9] for res, _, _ in pre] == ["chiplet 0", "chiplet 1", "chiplet 3"]
    assert [(s, f) for _, s, f in pre] == [pytest.approx((5, 75)), pytest.approx((8, 78)), pytest.approx((10, 80))]
    assert max(s for _, s, _ in pre) < min(f for _, _, f in pre)  # the three overlap
    comp = [(s, f) for k, _, s, f in ops if k == "compose"]
    assert comp == [pytest.approx((85, 95)), pytest.approx((245.352, 265.352))]
    dec = [(s, f) for k, _, s, f in ops if k == "decode"]
    assert dec == [pytest.approx((95 + i * 2.176, 235 + i * 2.176)) for i in range(3)]
    ttft, e2e = latencies_ns(r)
    assert (ttft[0], e2e[0]) == pytest.approx((95, 265.352))


def test_graph_branches_run_in_parallel_then_feed_the_manager(tmp_path):
    """Branches a (chiplet 0) and b (chiplet 1) run at once; their 3-token outputs (12 B) go to the
    manager m (chiplet 3): from a 2 hops (4 + 0.75 ns), from b 1 hop (2.75 ns). m prefills prompt + both
    outputs = 10 tokens: its HBM traffic is 880 + 10 x 32 B = 1.2 ns at 1e12 B/s."""
    morph = {"kind": "graph", "manager": "m", "branches": [{"chain": ["a"]}, {"chain": ["b"]}]}
    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a", "b", "m"), morphology=morph,
               mapping={"router_chiplet": 0, "hot_set": ["a", "b", "m"]})
    r = stitch_point(p, hand_model())
    ops = ops_of(r)
    pre = {res[:9]: (s, f) for k, res, s, f in ops if k == "prefill"}
    assert pre["chiplet 0"] == pytest.approx((0, 70))
    assert pre["chiplet 1"] == pytest.approx((3, 73))  # after the prompt's 1-hop transfer
    assert pre["chiplet 3"] == pytest.approx((213 + 2.75, 213 + 2.75 + 70))  # b's decode ends last, at 213
    g = r.graph
    m_prefill = [i for i in range(g.n_ops) if OP_KINDS[g.kind[i]] == "prefill" and g.res[i] == 3][0]
    assert g.dur2[m_prefill] == pytest.approx(1.2e-9)
    _, e2e = latencies_ns(r)
    assert e2e[0] == pytest.approx(215.75 + 210)


def test_sequential_aggregation_runs_picks_in_gate_order(tmp_path):
    p = params(tmp_path, [(0, 1, 4, 3)], composition="sequential_aggregation",
               router={"kind": "topk", "k": 2, "noise_std": 0.0, "cost": {"fixed_cycles": 5, "hidden": 0}},
               mapping={"router_chiplet": 0, "hot_set": ["a", "b"]})
    r = stitch_point(p, hand_model())
    # domain 1's home is b (chiplet 1): b first, then a (chiplet 0) reading prompt + b's output
    assert [(k, res[:9]) for k, res, *_ in ops_of(r)] == [
        ("route", "chiplet 0"), ("transfer", "network"), ("prefill", "chiplet 1"), ("decode", "chiplet 1"),
        ("transfer", "network"), ("prefill", "chiplet 0"), ("decode", "chiplet 0")]
    _, e2e = latencies_ns(r)
    assert e2e[0] == pytest.approx(5 + 3 + 210 + 3.75 + 210)


def test_weight_summation_merges_once_then_reuses_the_merged_expert(tmp_path):
    """Merge of a+b on a's chiplet: 1x472x2 GEMM (10 ns) with 3 x 944 B of HBM traffic; then the merged
    expert runs there. The second request finds the merged expert in HBM."""
    p = params(tmp_path, [(0, 0, 4, 3), (0.001, 0, 4, 3)], composition="weight_summation",
               router={"kind": "topk", "k": 2, "noise_std": 0.0, "cost": {"fixed_cycles": 5, "hidden": 0}},
               mapping={"router_chiplet": 0, "hot_set": ["a", "b"], "cache_policy": "lru"})
    r = stitch_point(p, hand_model())
    assert [k for k, *_ in ops_of(r, 0)] == ["route", "merge", "prefill", "decode"]
    assert [k for k, *_ in ops_of(r, 1)] == ["route", "prefill", "decode"]
    _, e2e = latencies_ns(r)
    assert e2e == pytest.approx([5 + 10 + 210, 5 + 210])
    assert r.summary["cache"]["derived_misses"] == 1


def test_one_to_many_splits_an_expert_and_all_reduces(tmp_path):
    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a",), morphology={"kind": "chain"},
               mapping={"strategy": "one_to_many", "chiplets_per_expert": 2, "router_chiplet": 0, "hot_set": ["a"]})
    r = stitch_point(p, hand_model())
    ops = ops_of(r)
    assert [(k, res[:9]) for k, res, *_ in ops] == [
        ("prefill", "chiplet 0"), ("prefill", "chiplet 1"), ("allreduce", "network"),
        ("decode", "chiplet 0"), ("decode", "chiplet 1"), ("allreduce", "network")]
    # the shards run together; the second starts once the first one's HBM traffic (half of 1008 B at
    # 1e12 B/s) is through, since HBM serves one transfer at a time
    assert ops[1][2] == pytest.approx(ops[0][2] + 0.504)
    assert ops[1][2] < ops[0][3]


def test_prefetch_loads_the_hot_expert_while_routing(tmp_path):
    p = params(tmp_path, [(0, 0, 4, 3)], ddr_gib=0.0,
               router={"kind": "fixed", "cost": {"fixed_cycles": 5, "hidden": 0}},
               mapping={"cache_policy": "lru", "hot_set": [], "prefetch": 1})
    r = stitch_point(p, hand_model())
    kinds = [k for k, *_ in ops_of(r)]
    assert kinds[:2] == ["route", "prefetch_ssd"] or kinds[:2] == ["prefetch_ssd", "route"]
    c = r.summary["cache"]
    assert (c["hbm_hits"], c["ssd_loads"], c["prefetch_loads"]) == (1, 0, 1)
    _, e2e = latencies_ns(r)
    assert e2e[0] == pytest.approx(1000 + 10 + 70 + 140)  # the load started at arrival, not after routing


def test_energy_per_token_and_carbon_by_hand(tmp_path):
    """Constants overridden to round numbers: 1 pJ/MAC, 1 pJ/bit for HBM, DDR and a link hop, 1 pJ/B SSD.
    MACs: prefill of 4 tokens 1824, decode at contexts 5 and 6: 496 + 512. HBM: 1008 + 2176 B of traffic
    and the 944 B load written; DDR: 944 B written from SSD and read; SSD: 944 B; link: 16 B x 2 hops."""
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
    total = (2832 + 4128 * 8 + 2 * 944 * 8 + 944 + 256) * pj
    assert r.summary["energy"]["per_token_j"] == pytest.approx(total / 3)
    assert r.summary["carbon_g_per_1k_tokens"] == pytest.approx(total / 3 * 1000 / 3.6e6 * 400)


def test_default_energy_constants_have_sources():
    e = EnergyModel()
    assert e.mac_key(2) == "mac_fp16_pj" and e.mac_key(1) == "mac_int8_pj" and e.mac_key(3.5) == "mac_fp32_pj"
    assert all(src.strip() for src in e.sources().values())
    assert e.default_grid_intensity == 436


def test_component_errors_propagate_to_latency(tmp_path):
    """GEMMs with a 10 % relative error: prefill 70 +- 7, decode 140 +- 14 on the critical path; the route
    (fixed cycles) and the transfer carry none."""
    p = params(tmp_path, [(0, 0, 4, 3)], mapping={"hot_set": ["a"]})
    r = stitch_point(p, hand_model(rel_error={"gemm": 0.1}))
    err = r.summary["latency_rel_error"]
    assert err["e2e_mean"] == pytest.approx(np.sqrt(7 ** 2 + 14 ** 2) / 220)
    assert stitch_point(p, hand_model()).summary["latency_rel_error"] is None


def test_sources_are_counted_per_op(tmp_path):
    p = params(tmp_path, [(0, 0, 4, 3)], mapping={"hot_set": ["a"]})
    r = stitch_point(p, hand_model(fidelity="surrogate", source="hand table"))
    src = {(x["op"], x["label"]): x["ops"] for x in r.summary["component_sources"]}
    assert src[("prefill", "surrogate:hand table")] == 1
    assert src[("route", "config:router.cost.fixed_cycles")] == 1
    assert r.summary["ops"]["total"] == 4


def test_same_inputs_give_identical_summaries_and_another_seed_does_not(tmp_path):
    p = {
        "seed": 3,
        "eoe": {"experts": [{"name": n, **TINY} for n in "abcd"],
                "router": {"kind": "topk", "k": 2},
                "requests": {"count": 300, "rate_per_s": 2e6, "zipf_skew": 1.2,
                             "prompt_tokens": {"dist": "uniform", "min": 2, "max": 40},
                             "output_tokens": {"dist": "uniform", "min": 1, "max": 20}}},
        "hardware": {"package": {"grid": [2, 2]}, "memory": {"hbm": {"capacity_gib": 2e-6},
                                                             "ddr": {"capacity_gib": 3e-6}}},
        "mapping": {"cache_policy": "lru", "prefetch": 1, "hot_set": 1},
    }
    a = json.dumps(stitch_point(p, hand_model()).summary, sort_keys=True)
    b = json.dumps(stitch_point(p, hand_model()).summary, sort_keys=True)
    assert a == b
    c = json.dumps(stitch_point({**p, "seed": 4}, hand_model()).summary, sort_keys=True)
    assert c != a
    s = json.loads(a)
    assert s["requests"] == 300 and 0 < s["cache"]["hit_rate"] < 1


def test_outputs_timeline_and_summary_row(tmp_path):
    p = params(tmp_path, [(0, 0, 4, 3), (0, 1, 4, 3)], mapping={"hot_set": ["a"]})
    r = stitch_point(p, hand_model())
    paths = write_point(r, tmp_path / "e2e" / "p1")
    summary = json.loads(paths[0].read_text())
    assert summary["requests"] == 2
    tl = json.loads(paths[1].read_text())
    meta = [e for e in tl["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"]
    names = {e["args"]["name"] for e in meta}
    assert {"chiplet 0 (0, 0)", "hbm", "ddr", "ssd", "network channel 0"} <= names
    assert len(names) == 4 + 3 + 4  # chiplets, hbm/ddr/ssd, 4 network channels (2x2 mesh bisection)
    xs = [e for e in tl["traceEvents"] if e["ph"] == "X"]
    pre = [e for e in xs if e["name"] == "prefill"]
    assert pre[0]["dur"] == pytest.approx(0.07)  # microseconds
    assert {e["name"] for e in xs} >= {"route", "prefill", "prefill traffic", "decode", "load_ssd"}
    assert tl["otherData"]["truncated"] is False
    row = summary_row("p1", r.summary)
    assert row["e2e_latency_p50_s"] == pytest.approx(r.summary["e2e_latency_s"]["p50"])
    assert row["cache_hit_rate"] == 0.5 and "energy_hbm_j" in row


def test_table_model_answers_from_its_table_and_names_missing_shapes():
    from eoesim.eoe.expert import Gemm
    from eoesim.eoe.hardware import build_hardware
    from eoesim.errors import ConfigError
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


def test_component_workloads_come_from_the_same_run(tmp_path):
    """The traffic matrix, SSD block reads, memory traffic and GEMM list of the hot/cold case above."""
    from eoesim.stitch.workloads import gemm_table, memory_traffic, ssd_reads, traffic_matrix
    rows = [(0, 0, 4, 3), (0.001, 1, 4, 3)]
    r = stitch_point(params(tmp_path, rows, mapping={"hot_set": ["a"]}), hand_model())
    tm = traffic_matrix(r.graph, r.schedule)
    expect = np.zeros((4, 4))
    expect[3, 0] = expect[3, 1] = 16  # the prompts' token ids from the router chiplet 3
    assert np.array_equal(tm["bytes"], expect)
    assert tm["injection_bytes_per_s"][3] == pytest.approx(32 / (0.001 + 1225e-9))
    reads = ssd_reads(r.graph, r.schedule)
    assert reads[["expert", "offset_bytes", "size_bytes", "prefetch", "request"]].values.tolist() == [
        ["b", 4096, 944, False, 1]]  # a is laid out first at 0, b on the next 4 KiB boundary
    assert reads.start_s[0] == pytest.approx(0.001 + 5e-9)
    mem = memory_traffic(r.graph, r.schedule)
    hbm = mem[mem.tier == "hbm"]
    assert hbm.size_bytes.tolist() == [1008, 2176, 1008, 2176]  # prefill and decode traffic of each request
    assert mem[mem.tier == "ddr"].size_bytes.tolist() == [944]
    g = gemm_table(r.graph)
    assert {"qkv_proj", "attn_score", "lm_head"} <= set(g.gemm)
    assert len(g) == len(set(zip(g.gemm, g.m, g.n, g.k, g.instances)))


def test_sequential_picks_load_as_soon_as_routed(tmp_path):
    """Both picks cold: b (home of domain 1) and a load from the SSD one after another right after the
    route (5-1005, 1005-2005; DDR->HBM 1005-1015, 2005-2015). b runs 1015-1228 (after its 3 ns prompt
    transfer); a runs as soon as its load is in, 2015-2225 - had its load waited for b's output (1231.75)
    it would end at 2448."""
    p = params(tmp_path, [(0, 1, 4, 3)], composition="sequential_aggregation",
               router={"kind": "topk", "k": 2, "noise_std": 0.0, "cost": {"fixed_cycles": 5, "hidden": 0}},
               mapping={"router_chiplet": 0, "cache_policy": "lru"})
    r = stitch_point(p, hand_model())
    ssd = [(s, f) for k, _, s, f in ops_of(r) if k == "load_ssd"]
    assert ssd == [pytest.approx((5, 1005)), pytest.approx((1005, 2005))]
    _, e2e = latencies_ns(r)
    assert e2e[0] == pytest.approx(2015 + 210)


@pytest.mark.parametrize("change,msg", [
    (lambda p: p["eoe"]["morphology"].update(kind="chain", chain=["a", "zz"]), "eoe.morphology.chain"),
    (lambda p: p["mapping"].update(hot_set=["a", "b"]) or p["hardware"]["memory"]["hbm"].update(
        capacity_gib=1000 / 2**30), "fits in HBM"),
    (lambda p: p["hardware"]["package"].update(grid=[1, 1]), "router_chiplet: 3 is not allowed; allowed: 0..0"),
    (lambda p: p["hardware"]["package"].update(grid=[1, 1]) or p["mapping"].update(router_chiplet=0),
     "one_to_one maps 2 experts onto 1 chiplets"),
    (lambda p: p["eoe"]["requests"].update(trace_file="missing.csv"), "does not exist"),
    (lambda p: p["eoe"]["experts"][1].update(d_model=16, heads=2), "equal d_model"),
])
def test_check_point_reports_cross_field_errors(tmp_path, change, msg):
    from eoesim.errors import ConfigError
    from eoesim.stitch.e2e import check_point
    p = params(tmp_path, [(0, 0, 4, 3)])
    check_point(p)
    change(p)
    with pytest.raises(ConfigError, match=msg):
        check_point(p, base_dir=tmp_path)
