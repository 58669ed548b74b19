"""Chiplet failures and link degradations while a design point is served (eoesim.serving.failures).

Hand-computed cases use the hand model of test_stitch_e2e (every GEMM instance 10 ns, so an iteration of
one sequence of the hand-sized expert computes for 70 ns; a small message 2 ns per hop + 16 B/ns; DDR ->
HBM 944 B at the slowest device crossed plus the latencies of the devices crossed; SSD -> DDR 944 ns +
56 + 9 ns). One expert ``a`` on chiplet 0 of a 2x2 grid, hot in HBM, the router on chiplet 3, one request
at t = 0 with a 4-token prompt and 3 output tokens. Without failure: gate [0, 5], prompt 3 -> 0 (2 hops,
16 B) [5, 10], prefill [10, 80], both decode iterations in one step [80, 220]: e2e 220 ns.

Weights and KV caches live in the HBM stacks, not on the chiplets: a replacement that reads the same
stack picks the sequences up where they were; one on another stack reloads the expert there and
recomputes their KV (a prefill of prompt + generated tokens).
"""
import json

import numpy as np
import pytest

from eoesim.errors import ConfigError, SimulationError
from eoesim.serving.engine import Engine
from eoesim.serving.failures import attach_failures, recovery
from eoesim.stitch.e2e import check_point, stitch_point, write_summary
from tests.unit.test_stitch_e2e import TINY, TOPK, hand_model, latencies_ns, loads_ns, params, steps_ns

NS = 1e-9


def one_expert(tmp_path, events, ddr_gib=1.0, policy="spare", stacks=1, serving=None, **kw):
    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a",), ddr_gib=ddr_gib, mapping={"hot_set": ["a"]}, **kw)
    p["hardware"]["memory"]["hbm"]["stacks"] = stacks
    if serving:
        p["serving"] = serving
    if events is not None:
        p["failures"] = {"events": events, "policy": policy}
    return p


def fail_chiplet_0(at_ns):
    return [{"kind": "chiplet", "chiplet": 0, "at_s": at_ns * NS}]


def test_request_in_flight_when_its_chiplet_fails_completes_on_the_spare(tmp_path):
    """Chiplet 0 fails at 100 ns, mid-step [80, 220]: the step is lost (20 ns of chiplet time aborted); the
    spare is chiplet 1 (one hop from 0, lower id than chiplet 2), which reads the same (only) HBM stack, so
    a's weights and the sequence's KV stay: both decode iterations re-run there [100, 240]."""
    r = stitch_point(one_expert(tmp_path, fail_chiplet_0(100)), hand_model())
    ttft, e2e = latencies_ns(r)
    assert ttft[0] == pytest.approx(80) and e2e[0] == pytest.approx(240)
    assert steps_ns(r, 1) == [pytest.approx((100, 240, 2, 1, 1))]
    assert r.engine.instances[1].chips == (1,) and not r.engine.instances[0].alive
    assert loads_ns(r) == []  # nothing reloaded
    f = r.summary["failure"]
    assert f["lost_requests"] == 0 and f["requests_in_flight_at_failure"] == 1
    assert f["events"] == [{"event": 0, "kind": "chiplet", "chiplet": 0, "at_s": 100 * NS, "replacement": 1,
                            "router_moved": False, "sequences_moved": 1, "sequences_recomputed": 0,
                            "steps_aborted": 1, "reloads": []}]
    assert f["aborted_busy_s"] == pytest.approx(20 * NS)
    busy = np.array(r.summary["utilization"]["per_chiplet"]) * r.summary["span_s"] / NS
    assert busy == pytest.approx([70, 140, 0, 5])  # finished steps (and the gate on chiplet 3) only


def test_a_static_batch_in_flight_when_its_chiplet_fails_goes_on_on_the_spare(tmp_path):
    """As above under static batching: the batch of one moves to the spare with its KV and its two decode
    iterations re-run there [100, 240]. Before, the moved sequences were running but in no static batch, and
    a static scheduler never stepped them."""
    r = stitch_point(one_expert(tmp_path, fail_chiplet_0(100), serving={"scheduler": "static"}), hand_model())
    ttft, e2e = latencies_ns(r)
    assert ttft[0] == pytest.approx(80) and e2e[0] == pytest.approx(240)
    assert steps_ns(r, 1) == [pytest.approx((100, 240, 2, 1, 1))]


def test_a_static_batch_in_its_prefill_when_its_chiplet_fails_prefills_again_on_the_spare(tmp_path):
    """As above, chiplet 0 failing at 50 ns, in the batch's prefill [10, 80]: the spare reads the same stack, so
    the sequence keeps its blocks (none was written: nothing is recomputed), and its static batch, formed with its
    prefill not done, prefills it again on the spare [50, 120] and decodes twice -> 260. Once, it joined a static
    batch on the spare, which decoded it unprefilled: its first token was never recorded (TTFT NaN)."""
    r = stitch_point(one_expert(tmp_path, fail_chiplet_0(50), serving={"scheduler": "static"}), hand_model())
    ttft, e2e = latencies_ns(r)
    assert ttft[0] == pytest.approx(120) and e2e[0] == pytest.approx(260)
    assert steps_ns(r, 1) == [pytest.approx((50, 120, 1, 1, 4)), pytest.approx((120, 260, 2, 1, 1))]
    assert r.summary["failure"]["events"][0]["sequences_recomputed"] == 0


def test_a_request_waiting_for_its_expert_when_its_chiplet_fails_runs_on_the_spare(tmp_path):
    """a is cold (no hot set, no DDR) and loaded whole: the sequence reaches chiplet 0 at 10 and waits, not yet
    queued, for a's load SSD -> DDR -> HBM [10, 1029] (1009 + 10 ns); chiplet 0 fails at 100 ns meanwhile. When
    a lands the sequence is queued on the spare, chiplet 1 (same stack): prefill [1029, 1099], two decodes to
    1239 - as without the failure, and nothing runs (or waits forever) on the failed chiplet."""
    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a",), ddr_gib=0.0, mapping={"cache_policy": "lru"})
    p["serving"] = {"expert_load": "whole"}
    p["failures"] = {"events": fail_chiplet_0(100), "policy": "spare"}
    r = stitch_point(p, hand_model())
    assert latencies_ns(r)[1][0] == pytest.approx(1239)
    assert steps_ns(r, 0) == [] and steps_ns(r, 1) == [pytest.approx((1029, 1099, 1, 1, 4)),
                                                       pytest.approx((1099, 1239, 2, 1, 1))]
    assert r.summary["failure"]["lost_requests"] == 0


def test_failure_during_prefill_reruns_it_on_the_spare(tmp_path):
    """Fails at 50 ns: the prefill [10, 80] is lost (40 ns aborted) and re-runs on chiplet 1 [50, 120], then
    the decodes [120, 260]."""
    r = stitch_point(one_expert(tmp_path, fail_chiplet_0(50)), hand_model())
    ttft, e2e = latencies_ns(r)
    assert (ttft[0], e2e[0]) == pytest.approx((120, 260))
    assert r.summary["failure"]["aborted_busy_s"] == pytest.approx(40 * NS)


def test_spare_on_another_stack_reloads_the_expert_and_recomputes_the_kv(tmp_path):
    """Two HBM stacks: chiplets 0 and 2 read stack 0, chiplets 1 and 3 stack 1. Chiplet 0 fails at 100 ns;
    spare chiplet 1 reads stack 1, where a is not: a is copied DDR -> link 0->1 -> stack 1 (944 B at the
    link's 16 B/ns = 59 ns, + DDR 9 + hop 2 ns) [100, 170]; the sequence's KV (on stack 0) is dropped, so it
    prefills its 4 prompt tokens and the 1 token it had generated again [170, 240] (the next token out),
    then decodes its last token [240, 310]. Whole-expert loads keep the order by hand simple."""
    p = one_expert(tmp_path, fail_chiplet_0(100), stacks=2, serving={"expert_load": "whole"})
    r = stitch_point(p, hand_model())
    assert latencies_ns(r)[1][0] == pytest.approx(310)
    assert loads_ns(r) == [pytest.approx(("hbm", "a", 100, 170, 944))]
    assert steps_ns(r, 1) == [pytest.approx((170, 240, 1, 1, 5)), pytest.approx((240, 310, 1, 1, 1))]
    ev = r.summary["failure"]["events"][0]
    assert (ev["sequences_moved"], ev["sequences_recomputed"], ev["reloads"]) == (
        1, 1, [{"expert": "a", "stack": 1, "from": "ddr"}])
    assert r.summary["cache"]["ddr_hits"] == 1


@pytest.mark.parametrize("steps_per_event", [1, 64])
def test_a_sequence_recomputed_on_the_spare_holds_the_kv_of_its_tokens_once(tmp_path, steps_per_event):
    """Prefill [10, 80], then a decode every 70 ns. Chiplet 0 fails at 745, in the iteration [710, 780]: 10
    tokens are out, 35 ns of chiplet time are lost. The spare reads stack 1: a is loaded there [745, 815], the
    sequence prefills its 4 + 10 tokens again [815, 885] (the 11th token), then decodes its 9 last ones
    [885, 1515]. Its context ends at 4 + 20 tokens: 2 blocks of 16 tokens (512 B each) on stack 1. Before, the
    10 recomputed tokens stayed counted as prefilled once the prefill was done, and as generated: 34 tokens, 3
    blocks. With up to 64 iterations a step (one step [80, 710 + ...) when the chiplet fails), the 9 iterations
    done by 710 end it and only the 10th is lost, as iteration by iteration; before, all were lost: the sequence
    prefilled 5 tokens again and ended at 2145."""
    p = params(tmp_path, [(0, 0, 4, 20)], experts=("a",), ddr_gib=1.0, mapping={"hot_set": ["a"]})
    p["hardware"]["memory"]["hbm"]["stacks"] = 2
    p["serving"] = {"expert_load": "whole", "max_steps_per_event": steps_per_event}
    p["failures"] = {"events": fail_chiplet_0(745), "policy": "spare"}
    r = stitch_point(p, hand_model())
    assert latencies_ns(r)[1][0] == pytest.approx(1515)
    assert steps_ns(r, 1)[0] == pytest.approx((815, 885, 1, 1, 14))
    decodes = steps_ns(r, 0)[1:]
    assert sum(k for _, _, k, _, _ in decodes) == 9 and decodes[-1][1] == pytest.approx(710)
    assert r.summary["failure"]["aborted_busy_s"] == pytest.approx(35 * NS)
    assert r.summary["kv"]["hbm1"]["peak_bytes"] == 2 * 512


def test_a_spare_that_moves_a_shard_to_another_stack_recomputes_the_kv(tmp_path):
    """Expert a split over chiplets 0, 1, 3 (tensor parallel; stacks 0, 1, 1). Chiplet 1 fails at 100 ns in the
    prefill; spare chiplet 2 reads stack 0, so the shards read stacks 0, 0, 1: the same set of stacks, but the
    KV of the shard that moved is in stack 1 and the new one needs it in stack 0. The sequence's KV is dropped
    and recomputed (it was allocated as 1/3 of a block in stack 0 and 2/3 in stack 1, and freed as 2/3 and
    1/3: 1/3 of its 512-B block stayed allocated in stack 1 when the run ended)."""
    p = one_expert(tmp_path, [{"kind": "chiplet", "chiplet": 1, "at_s": 100 * NS}], stacks=2,
                   serving={"expert_load": "whole"})
    p["mapping"].update(strategy="one_to_many", chiplets_per_expert=3)
    r = stitch_point(p, hand_model())
    assert [(i.chips, i.stacks) for i in r.engine.instances] == [((0, 1, 3), (0, 1, 1)), ((0, 2, 3), (0, 0, 1))]
    ev = r.summary["failure"]["events"][0]
    assert (ev["replacement"], ev["sequences_moved"], ev["sequences_recomputed"]) == (2, 1, 1)
    assert r.summary["failure"]["lost_requests"] == 0
    assert [m.kv_used for m in r.engine.stacks] == [0.0, 0.0]


def test_a_model_moved_onto_a_busy_instance_runs_once_its_weights_are_loaded_there(tmp_path):
    """A 1x2 grid, a on chiplet 0 (stack 0), b and the router on chiplet 1 (stack 1); one iteration per event,
    whole loads. a's request: gate [0, 5], prompt to chiplet 0 (3 ns), prefill [8, 78]; b's: prefill [5, 75],
    then 70-ns decodes. Chiplet 0 fails at 100 ns (a's decode in flight): least_loaded moves a onto b's
    instance, which reads stack 1, where a is not: a is loaded DDR -> stack 1 [100, 170] and a's sequence
    (4 prompt + 1 generated tokens) is prefilled again once it is in. b's iterations end at 145, 215, ...:
    a joins at 215 (b's decode + a's prefill, 140 ns) -> 355, then both decode -> 495, a's last token.
    Before, a's sequence joined b's iteration at 145, computing with weights still on their way."""
    p = params(tmp_path, [(0, 0, 4, 3), (0, 1, 4, 12)], experts=("a", "b"), ddr_gib=1.0, grid=(1, 2),
               mapping={"hot_set": ["a", "b"], "router_chiplet": 1})
    p["hardware"]["memory"]["hbm"]["stacks"] = 2
    p["serving"] = {"expert_load": "whole", "max_steps_per_event": 1}
    p["failures"] = {"events": [{"kind": "chiplet", "chiplet": 0, "at_s": 100 * NS}], "policy": "least_loaded"}
    r = stitch_point(p, hand_model())
    assert loads_ns(r) == [pytest.approx(("hbm", "a", 100, 170, 944))]
    assert [s[:2] for s in steps_ns(r, 1) if s[3] == 2] == [pytest.approx((215, 355)), pytest.approx((355, 495))]
    assert latencies_ns(r)[1] == pytest.approx([495, 985])


def test_a_sequence_redirected_to_an_instance_without_its_model_adds_the_model_there(tmp_path):
    """A load finishing while a failed instance's models are being moved admits a waiting sequence whose model
    has not reached the target instance yet (a merged expert of weight summation, in a random sweep): it goes
    to the target, which gets the model (priced for its shards) instead of a KeyError traceback."""
    from eoesim.serving.sequences import Seq

    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a", "b"), mapping={"hot_set": ["a", "b"]})
    e = Engine(p, hand_model())
    old, new = e.instances
    assert "a" not in new.models
    seq = Seq(0, 0, "a", 4, 3, 0.0, None, None)
    seq.inst = old
    old.alive = False
    e.redirect[old.iid] = new
    e.redirect_waiting(seq)
    assert seq.inst is new and new.models["a"].name == "a"
    assert seq.kv_bpb == {new.stacks[0]: 16 * new.models["a"].costs.kv_bytes_per_token}


def test_expert_not_in_ddr_is_reloaded_from_the_ssd(tmp_path):
    """As above without DDR capacity: SSD -> DDR 944 + 65 ns [100, 1109], then the copy 70 ns [1109, 1179],
    the recompute [1179, 1249] and the last decode [1249, 1319]."""
    p = one_expert(tmp_path, fail_chiplet_0(100), stacks=2, ddr_gib=0.0, serving={"expert_load": "whole"})
    r = stitch_point(p, hand_model())
    assert latencies_ns(r)[1][0] == pytest.approx(1319)
    assert loads_ns(r) == [pytest.approx(("hbm", "a", 100, 1179, 944)), pytest.approx(("ssd", "a", 100, 1109, 944))]
    assert r.summary["failure"]["events"][0]["reloads"] == [{"expert": "a", "stack": 1, "from": "ssd"}]


def test_least_loaded_colocates_on_a_chiplet_in_use(tmp_path):
    """least_loaded never picks an idle chiplet: with only a (chiplet 0) and the router (3) in use, a moves
    to the router chiplet (same stack, KV kept), where the decodes re-run [100, 240]."""
    r = stitch_point(one_expert(tmp_path, fail_chiplet_0(100), policy="least_loaded"), hand_model())
    assert r.summary["failure"]["events"][0]["replacement"] == 3
    assert steps_ns(r, 1) == [pytest.approx((100, 240, 2, 1, 1))] and r.engine.instances[1].chips == (3,)
    busy = np.array(r.summary["utilization"]["per_chiplet"]) * r.summary["span_s"] / NS
    assert busy[3] == pytest.approx(5 + 140)


def test_degraded_link_slows_the_transfers_crossing_it(tmp_path):
    """The prompt 3 -> 0 routes 3->2 then 2->0 (columns first) when the gate is done, at 5 ns: link 0-2 at half
    bandwidth doubles its serialization (16 B at 8 B/ns: 2 ns): transfer [5, 11], e2e 221 ns. A link off the
    route (0-1) changes nothing, nor does a degradation after the message left (at 6 ns)."""
    def e2e(src, dst, at_ns):
        event = {"kind": "link", "src": src, "dst": dst, "at_s": at_ns * NS, "bandwidth_factor": 0.5}
        return latencies_ns(stitch_point(one_expert(tmp_path, [event]), hand_model()))[1][0]

    assert e2e(0, 2, 0) == pytest.approx(221)
    assert e2e(0, 1, 0) == pytest.approx(220)
    assert e2e(0, 2, 6) == pytest.approx(220)


def test_a_transfer_in_flight_is_retimed_when_its_link_degrades(tmp_path):
    """Cold b on chiplet 1 (stack 1 of two) is copied from DDR (attached at chiplet 0) over link 0->1, which
    limits it to 16 B/ns: from 8 ns (gate 5, prompt 3 -> 1 one hop 3) its 944 B take 59 ns, + 11 ns of
    latency: in HBM at 78, prefill [78, 148], decodes [148, 288]. Link 0-1 at a quarter from 20 ns: 12 ns x
    16 = 192 B are through, the other 752 B take 752 / 4 = 188 ns: in HBM at 20 + 188 + 11 = 219, e2e 429."""
    def run(events):
        p = params(tmp_path, [(0, 1, 4, 3)], ddr_gib=1.0, serving={"expert_load": "whole"})
        p["hardware"]["memory"]["hbm"]["stacks"] = 2
        if events:
            p["failures"] = {"events": events}
        return stitch_point(p, hand_model())

    assert latencies_ns(run(None))[1][0] == pytest.approx(288)
    slow = run([{"kind": "link", "src": 1, "dst": 0, "at_s": 20 * NS, "bandwidth_factor": 0.25}])
    assert loads_ns(slow) == [pytest.approx(("hbm", "b", 8, 219, 944))]
    assert latencies_ns(slow)[1][0] == pytest.approx(429)
    assert slow.summary["failure"]["events"] == [{"event": 0, "kind": "link", "src": 1, "dst": 0,
                                                  "at_s": 20 * NS, "bandwidth_factor": 0.25}]


def test_no_failure_gives_the_summary_of_a_run_without_the_key(tmp_path):
    absent = stitch_point(one_expert(tmp_path, None), hand_model())
    empty = stitch_point(one_expert(tmp_path, []), hand_model())
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_summary(a, absent.summary)
    write_summary(b, empty.summary)
    assert a.read_bytes() == b.read_bytes() and "failure" not in absent.summary
    assert absent.engine.failures is None and empty.engine.failures is None


def busy_params(**failures):
    """Four hand-sized experts on a 2x3 grid, 100 requests at 2 per us (a run of ~47 us); chiplet 1 fails at
    15 us, link 4-5 degrades at 20 us, chiplet 0 (also the router's) fails at 30 us."""
    return {"seed": 3,
            "eoe": {"experts": [{"name": n, **TINY} for n in ("a", "b", "c", "d")],
                    "router": {"kind": "topk", "k": 2},
                    "requests": {"rate_per_s": 2e6, "count": 100,
                                 "prompt_tokens": {"dist": "uniform", "min": 4, "max": 32},
                                 "output_tokens": {"dist": "uniform", "min": 2, "max": 16}}},
            "hardware": {"package": {"grid": [2, 3]}},
            "mapping": {"strategy": "one_to_one", "cache_policy": "lru", "prefetch": 1},
            "failures": {"events": [{"kind": "chiplet", "chiplet": 1, "at_s": 15e-6},
                                    {"kind": "chiplet", "chiplet": 0, "at_s": 30e-6},
                                    {"kind": "link", "src": 4, "dst": 5, "at_s": 20e-6, "bandwidth_factor": 0.2}],
                         **failures}}


@pytest.fixture(scope="module")
def busy():
    return stitch_point(busy_params(policy="least_loaded"), hand_model())


def test_no_request_is_lost_and_no_step_runs_on_a_failed_chiplet(busy):
    e = busy.engine
    first, end, arrival = e.rec.first, e.rec.done, e.requests.arrival_s
    assert np.isfinite(end).all() and (first >= arrival).all() and (first <= end).all()
    assert busy.summary["requests"] == 100 and busy.summary["failure"]["lost_requests"] == 0
    st = e.rec.steps_array()
    for chip, at in ((1, 15e-6), (0, 30e-6)):
        on_chip = np.array([chip in e.instances[i].chips for i in st["inst"]])
        assert on_chip.any() and not (on_chip & (st["t1"] > at)).any()
    ev = {x["event"]: x for x in busy.summary["failure"]["events"]}
    assert ev[0]["sequences_moved"] > 0 and ev[1]["router_moved"] and e.router_chiplet == ev[1]["replacement"]
    assert ev[2]["kind"] == "link"
    # least_loaded co-locates: each failed chiplet's expert joins an instance already serving another expert
    for x in (ev[0], ev[1]):
        holder = next(i for i in e.instances if i.alive and x["replacement"] in i.chips)
        assert len(holder.models) == 2


def test_failures_are_deterministic(busy):
    again = stitch_point(busy_params(policy="least_loaded"), hand_model())
    assert json.dumps(again.summary, sort_keys=True) == json.dumps(busy.summary, sort_keys=True)


def test_throughput_over_time_counts_every_completion(busy):
    f = busy.summary["failure"]
    series = f["throughput_over_time"]
    assert sum(series["requests_per_s"]) * f["bin_s"] == pytest.approx(100)
    assert sum(series["no_failure_requests_per_s"]) * f["bin_s"] == pytest.approx(100)
    assert any(abs(x - f["first_failure_s"]) < 1e-15 for x in series["bin_start_s"])  # an edge on the failure
    tokens = busy.engine.requests.output_tokens.sum()
    assert sum(series["tokens_per_s"]) * f["bin_s"] == pytest.approx(tokens)


def test_recovery_time_is_measured_against_the_no_failure_run():
    """Completions every 0.1 s; with the failure none in [1.0, 1.5), then the delayed ones at 1.5 - 1.55.
    Windows of 0.5 s at edges 1.0, 1.1, ...: the rate is back within 10 % of the no-failure rate from 2.1 on
    (the window [1.6, 2.1) no longer holds the burst)."""
    base = np.round(np.arange(0.05, 3.0, 0.1), 9)
    fail = base.copy()
    fail[(base >= 1.0) & (base < 1.5)] = 1.5 + np.arange(5) * 0.01
    out = recovery(fail, base, 0.0, 1.0, 3.0, 3.0, 0.1, 0.5, 10.0)
    assert out["throughput_before_requests_per_s"] == pytest.approx(10.0)
    assert out["recovery_time_s"] == pytest.approx(1.1)
    assert out["throughput_min_requests_per_s"] == pytest.approx(0.0)
    assert out["delayed_requests_max"] == 5
    same = recovery(base, base, 0.0, 1.0, 3.0, 3.0, 0.1, 0.5, 10.0)
    assert same["recovery_time_s"] == 0.0 and same["delayed_requests_max"] == 0


@pytest.mark.parametrize("failures, fragments", [
    ({"events": [{"kind": "chiplet", "chiplet": 4, "at_s": 0}]}, ["failures.events[0].chiplet", "4", "0..3"]),
    ({"events": [{"kind": "link", "src": 0, "dst": 3, "at_s": 0, "bandwidth_factor": 0.5}]},
     ["failures.events[0]", "src 0, dst 3", "adjacent"]),
    ({"events": [{"kind": "chiplet", "chiplet": 1, "at_s": 0}, {"kind": "chiplet", "chiplet": 1, "at_s": 1}]},
     ["failures.events[1].chiplet", "1", "at most once"]),
    ({"events": [{"kind": "chiplet", "chiplet": 0, "at_s": 0}], "bin_s": 0}, ["failures.bin_s", "0", "> 0"]),
])
def test_events_the_package_cannot_have_are_config_errors(tmp_path, failures, fragments):
    p = one_expert(tmp_path, None)
    p["failures"] = failures
    with pytest.raises(ConfigError) as info:
        check_point(p)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_spare_policy_without_an_idle_chiplet_is_a_config_error(tmp_path):
    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a", "b", "c"), mapping={"router_chiplet": 2})
    p["failures"] = {"events": [{"kind": "chiplet", "chiplet": 0, "at_s": 0}], "policy": "spare"}
    with pytest.raises(ConfigError, match=r"failures.policy: 'spare' but no chiplet is free.*allowed: least_loaded"):
        check_point(p)


def test_a_failure_that_leaves_a_stack_short_of_a_groups_experts_is_a_config_error(tmp_path):
    """Top-3 over a, b, c (944 B each; KV 512 B per 16-token block): every request runs all three at once. On
    the 2x2 grid a reads stack 0, b and c stack 1 (chiplets 1 and 3); the longest request is 24 tokens, 2
    blocks. A 4000-B stack holds b + c and their KV: 2 x (944 + 1024) = 3936 B. When chiplet 0 fails,
    least_loaded moves a onto chiplet 1, so stack 1 must hold a, b and c and their KV at once: 5904 B. That
    study stalled mid-run (the requests waited for each other for ever); it is refused at planning, naming
    the event, the stack and what it must hold. With 5904 B it runs."""
    rows = [(0, 0, 16, 8), (100e-9, 2, 16, 8)]

    def study(capacity_b, events):
        p = params(tmp_path, rows, experts=("a", "b", "c"), router={**TOPK, "k": 3},
                   mapping={"router_chiplet": 3, "cache_policy": "lru", "hot_set": []}, serving={"kv_watermark": 0.0})
        p["hardware"]["memory"]["hbm"].update(stacks=2, capacity_gib=capacity_b / 2**30)
        if events:
            p["failures"] = {"events": events, "policy": "least_loaded"}
        return p

    fail_0 = [{"kind": "chiplet", "chiplet": 0, "at_s": 100 * NS}]
    check_point(study(4000, None))
    with pytest.raises(ConfigError) as info:
        check_point(study(4000, fail_0))
    msg = str(info.value)
    assert msg.startswith("failures.events[0]: chiplet 0 failing is not allowed with failures.policy 'least_loaded'")
    assert "its experts move to chiplet 1" in msg and "stack 1 must hold the 3 experts" in msg
    assert "capacity_gib >= 5.499e-06" in msg  # 5904 B = 5.4985e-06 GiB, rounded up
    r = stitch_point(study(5904, fail_0), hand_model())
    assert r.summary["unfinished_requests"] == 0 and r.summary["failure"]["events"][0]["replacement"] == 1


def test_a_request_moved_while_waiting_for_its_expert_keeps_it_once_loaded_on_the_new_stack(tmp_path):
    """a (chiplet 0, stack 0) and c (chiplet 3, stack 1) are cold, the stacks hold one expert each (1500 B), no
    DDR. R0 (a) at 0 waits for a's load into stack 0 [10, 1029.02]; chiplet 0 fails at 100 and least_loaded moves
    a to chiplet 1 (stack 1), where a is loaded too [100, 1089]. Both copies leave the DDR at 1019 (one SSD read);
    the one into stack 1 runs at the link's 16 GB/s, the one into stack 0 at the DDR's 944 - 16 GB/s left: 944 B
    in 1.017 ns + 9 ns. (Its 944 B were reserved when a still read stack 0; they were copied as 0 B once a's
    replicas no longer read it, ending at 1028 - a copy of nothing.) R2 (c) at 500 needs c in stack 1: its load waits
    for room. When a lands there, R0 (older) wants it: prefill [1089, 1159], decodes to 1299. Only then may c's
    load evict a: SSD 1009 + copy 70 -> 2378, R2's token at 2448, done 2588. Before, R0 still wanted a on
    stack 0 only: c's load evicted a as it landed, R0's reload of a evicted c, and so on for ever."""
    rows = [(0, 0, 4, 3), (500 * NS, 2, 4, 3)]
    p = params(tmp_path, rows, experts=("a", "b", "c"), mapping={"cache_policy": "lru", "router_chiplet": 3})
    p["hardware"]["memory"]["hbm"].update(stacks=2, capacity_gib=1500 / 2**30)
    p["serving"] = {"expert_load": "whole", "kv_watermark": 0.0}
    p["failures"] = {"events": [{"kind": "chiplet", "chiplet": 0, "at_s": 100 * NS}], "policy": "least_loaded"}
    e = Engine(p, hand_model())
    attach_failures(e, p["failures"])

    def still_running() -> None:  # the loads evicting each other never end: stop them here
        if e.rec.completed < len(rows):
            raise SimulationError("requests still unfinished at 20 us")

    e.at(20e-6, still_running)
    e.run()
    loads = [(x["expert"], x["stack"], x["issue_s"] / NS, x["hbm_ready_s"] / NS) for x in e.rec.expert_loads]
    assert loads == [("a", 0, 10, pytest.approx(1019 + 9 + 944 / 928)), ("a", 1, 100, pytest.approx(1089)),
                     ("c", 1, pytest.approx(505), pytest.approx(2378))]
    assert e.rec.first / NS == pytest.approx([1159, 2448]) and e.rec.done / NS == pytest.approx([1299, 2588])


def test_least_loaded_never_puts_two_shards_of_a_replica_on_one_chiplet(tmp_path):
    """a runs tensor-parallel on chiplets 0 and 1, b on 3 and 2 (twice as popular). When chiplet 0 fails, a's
    own chiplet 1 is the least loaded in use, but two shards of a on one chiplet are no replica (its ring of
    collectives had no link: a ValueError mid-run): a moves onto b's instance, by load and then hops chiplet 2."""
    rows = [(0, 1, 4, 3), (0, 1, 4, 3), (0, 0, 4, 3)]
    p = params(tmp_path, rows, experts=("a", "b"),
               mapping={"strategy": "one_to_many", "chiplets_per_expert": 2, "router_chiplet": 3,
                        "hot_set": ["a", "b"]})
    p["failures"] = {"events": [{"kind": "chiplet", "chiplet": 0, "at_s": 100 * NS}], "policy": "least_loaded"}
    assert check_point(p).mapping.placements == {"a": ((0, 1),), "b": ((3, 2),)}
    r = stitch_point(p, hand_model())
    assert r.summary["failure"]["events"][0]["replacement"] == 2
    assert [(i.chips, sorted(i.models), i.alive) for i in r.engine.instances] == [
        ((0, 1), ["a"], False), ((3, 2), ["a", "b"], True)]
    assert r.summary["unfinished_requests"] == 0


def test_a_static_hot_set_gives_way_to_an_expert_a_failure_moves_onto_its_stack(tmp_path):
    """Static policy: a (chiplet 0) is pinned in stack 0, b and c (chiplets 1 and 3) in stack 1, whose 2500 B
    leave one 512-B KV block beside them. R0 (a), R1 (b), R2 and R3 (c) arrive at 0. Chiplet 0 fails at 100
    (R0's decode [80, 220] is lost) and least_loaded moves a onto b's chiplet 1: stack 1 must now load a beside
    b and c, 944 B more than it has. Its hot set gives way, least popular first: b (R1's only) is unpinned
    and dropped when R1 ends at 425, a is copied from DDR [425, 495]. The one KV block serves R2 [5, 215], R1
    [215, 425], R3 [425, 635], then R0: its 4 + 1 tokens again [635, 705], its last token at 775. Before,
    b and c stayed pinned and a's load waited for ever."""
    rows = [(0, 0, 4, 3), (0, 1, 4, 3), (0, 2, 4, 3), (0, 2, 4, 3)]
    p = params(tmp_path, rows, experts=("a", "b", "c"), mapping={"cache_policy": "static", "router_chiplet": 3},
               ddr_gib=1.0)
    del p["mapping"]["hot_set"]
    p["hardware"]["memory"]["hbm"].update(stacks=2, capacity_gib=2500 / 2**30)
    p["failures"] = {"events": [{"kind": "chiplet", "chiplet": 0, "at_s": 100 * NS}], "policy": "least_loaded"}
    r = stitch_point(p, hand_model())
    assert [sorted(m.hot) for m in r.engine.stacks] == [["a"], ["c"]]
    assert loads_ns(r) == [pytest.approx(("hbm", "a", 100, 495, 944))]
    assert latencies_ns(r)[1] == pytest.approx([775, 425, 215, 635])


def test_a_sequence_moved_onto_a_spare_on_its_stack_keeps_its_expert_pinned_there(tmp_path):
    """One 1500-B stack holds a (944 B) and one KV block. R1 (b) arrives at 50: b's load [58, ...] waits for
    room, a being pinned by R0 (prefill [10, 80], decodes [80, 220]). Chiplet 0 fails at 100: R0 moves onto the
    spare, chiplet 2, on the same stack, with its KV, and re-runs its decodes [100, 240]. a stays pinned through
    the move: b's load evicts it only once R0 is done, lands at 250 (streamed: R1's prefill starts as it flows,
    [240, 310]) and R1's decodes end at 450. Before, the move unpinned a for a moment, b's load retried then
    evicted it, and R0 - running, with its KV - waited for a's reload beside b for ever."""
    p = params(tmp_path, [(0, 0, 4, 3), (50 * NS, 1, 4, 3)], experts=("a", "b"),
               mapping={"cache_policy": "lru", "hot_set": ["a"]}, ddr_gib=1.0)
    p["hardware"]["memory"]["hbm"].update(stacks=1, capacity_gib=1500 / 2**30)
    p["failures"] = {"events": fail_chiplet_0(100), "policy": "spare"}
    r = stitch_point(p, hand_model())
    assert [(i.chips, i.alive) for i in r.engine.instances] == [((0,), False), ((1,), True), ((2,), True)]
    assert loads_ns(r) == [pytest.approx(("hbm", "b", 58, 250, 944))]
    ttft, e2e = latencies_ns(r)
    assert ttft == pytest.approx([80, 260]) and e2e == pytest.approx([240, 400])
