"""Chiplet failures and link degradations in the end-to-end stitch (eoesim.stitch.failures).

Hand-computed cases use the hand model of test_stitch_e2e (every GEMM instance 10 ns, so a prefill or a
decode step of the hand-sized expert computes for 70 ns; DDR -> HBM of its 944 weight bytes 9 + 1 ns;
SSD -> DDR 56 + 944 ns; a link 16 B/ns after 2 ns per hop). One expert ``a`` on chiplet 0 of a 2x2 grid,
the router on chiplet 3, one request at t = 0 with a 4-token prompt and 3 output tokens. Without failure:
route [0, 5], prompt transfer 3 -> 0 (2 hops, 16 B) [5, 10], prefill [10, 80], both decode steps in one op
[80, 220]: e2e 220 ns.
"""
import json

import numpy as np
import pytest

from eoesim.errors import ConfigError
from eoesim.stitch.e2e import check_point, stitch_point, write_summary
from eoesim.stitch.failures import recovery, route_links
from eoesim.eoe.hardware import build_hardware
from eoesim.stitch.summary import request_times
from tests.unit.test_stitch_e2e import hand_model, ops_of, params

NS = 1e-9


def one_expert(tmp_path, events, ddr_gib=1.0, policy="spare", **kw):
    p = params(tmp_path, [(0, 0, 4, 3)], experts=("a",), ddr_gib=ddr_gib,
               mapping={"hot_set": ["a"]}, **kw)
    if events is not None:
        p["failures"] = {"events": events, "policy": policy}
    return p


def e2e_ns(result):
    first, end = request_times(result.graph, result.schedule)
    return first[0] / NS, end[0] / NS


def test_request_in_flight_when_its_chiplet_fails_completes_on_the_spare_after_the_reload(tmp_path):
    """Chiplet 0 fails at 100 ns, mid-decode [80, 220]: the decode is aborted, expert a (in HBM and DDR)
    is re-loaded DDR -> HBM [100, 110] for spare chiplet 1 (one hop from 0, lower id than chiplet 2), and
    the decode re-runs there [110, 250]: e2e 250 ns = 220 + 10 (reload) + 20 (decode work lost)."""
    r = stitch_point(one_expert(tmp_path, [{"kind": "chiplet", "chiplet": 0, "at_s": 100 * NS}]), hand_model())
    ttft, e2e = e2e_ns(r)
    assert ttft == pytest.approx(80) and e2e == pytest.approx(250)
    got = {(k, res): (round(s, 6), round(f, 6)) for k, res, s, f in ops_of(r)}
    assert got[("decode", "chiplet 1 (0, 1)")] == (110, 250)
    reload = [i for i in range(r.graph.n_ops) if r.graph.req[i] == -1]
    assert [r.graph.resources[r.graph.res[i]].name for i in reload] == ["ddr"]
    assert (r.schedule.start[reload[0]] / NS, r.schedule.finish[reload[0]] / NS) == pytest.approx((100, 110))
    f = r.summary["failure"]
    assert f["lost_requests"] == 0 and f["requests_in_flight_at_failure"] == 1
    assert f["events"][0] == {"event": 0, "kind": "chiplet", "chiplet": 0, "at_s": 100 * NS, "replacement": 1,
                              "router_moved": False, "ops_remapped": 0, "ops_reexecuted": 1, "reload_ops": 1,
                              "reload_done_s": pytest.approx(110 * NS)}
    assert f["remapped_experts"] == [{"expert": "a", "from_chiplet": 0, "to_chiplet": 1, "at_s": 100 * NS,
                                      "bytes": 944.0, "reloaded_from": "ddr"}]
    assert f["aborted_busy_s"] == pytest.approx(20 * NS)
    util = r.summary["utilization"]["per_chiplet"]  # chiplet 0: prefill 70 + aborted 20; chiplet 1: decode 140
    assert util[0] * r.summary["span_s"] == pytest.approx(90 * NS) and util[1] * r.summary["span_s"] == pytest.approx(
        140 * NS)


def test_failure_during_prefill_reexecutes_it_and_remaps_the_decode_not_yet_started(tmp_path):
    """Fails at 50 ns: prefill [10, 80] aborted, reload [50, 60], prefill on chiplet 1 [60, 130], then the
    decode (lowered onto chiplet 0, not started) is re-mapped: [130, 270]."""
    r = stitch_point(one_expert(tmp_path, [{"kind": "chiplet", "chiplet": 0, "at_s": 50 * NS}]), hand_model())
    assert e2e_ns(r) == pytest.approx((130, 270))
    ev = r.summary["failure"]["events"][0]
    assert (ev["ops_reexecuted"], ev["ops_remapped"]) == (1, 1)


def test_expert_not_in_ddr_is_reloaded_from_the_ssd(tmp_path):
    """No DDR: the reload reads the SSD (56 + 944 ns) then DDR -> HBM (10 ns): [100, 1110]; decode
    [1110, 1250]."""
    r = stitch_point(one_expert(tmp_path, [{"kind": "chiplet", "chiplet": 0, "at_s": 100 * NS}], ddr_gib=0.0),
                     hand_model())
    assert e2e_ns(r)[1] == pytest.approx(1250)
    assert r.summary["failure"]["remapped_experts"][0]["reloaded_from"] == "ssd"


def test_least_loaded_colocates_on_a_chiplet_in_use(tmp_path):
    """least_loaded never picks an idle chiplet: with only a (chiplet 0) and the router (3) in use, the
    work goes to the router chiplet, where the decode re-runs after the reload: [110, 250]."""
    r = stitch_point(one_expert(tmp_path, [{"kind": "chiplet", "chiplet": 0, "at_s": 100 * NS}],
                                policy="least_loaded"), hand_model())
    assert r.summary["failure"]["events"][0]["replacement"] == 3
    got = {(k, res): (round(s, 6), round(f, 6)) for k, res, s, f in ops_of(r)}
    assert got[("decode", "chiplet 3 (1, 1)")] == (110, 250)


def test_degraded_link_slows_the_transfer_routed_across_it(tmp_path):
    """The prompt transfer 3 -> 0 routes 3-2 then 2-0 (x first); link 0-2 at half bandwidth doubles its
    1 ns serialization: transfer [5, 11], e2e 221 ns. A link off the route (0-1) changes nothing."""
    assert route_links(build_hardware({"package": {"grid": [2, 2]}}), 3, 0) == [frozenset({2, 3}), frozenset({0, 2})]
    slow = stitch_point(one_expert(tmp_path, [{"kind": "link", "src": 0, "dst": 2, "at_s": 0.0,
                                                "bandwidth_factor": 0.5}]), hand_model())
    assert e2e_ns(slow)[1] == pytest.approx(221)
    assert slow.summary["failure"]["events"][0]["transfers_slowed"] == 1
    other = stitch_point(one_expert(tmp_path, [{"kind": "link", "src": 0, "dst": 1, "at_s": 0.0,
                                                 "bandwidth_factor": 0.5}]), hand_model())
    assert e2e_ns(other)[1] == pytest.approx(220)
    late = stitch_point(one_expert(tmp_path, [{"kind": "link", "src": 0, "dst": 2, "at_s": 6 * NS,
                                                "bandwidth_factor": 0.5}]), hand_model())
    assert e2e_ns(late)[1] == pytest.approx(220)  # the transfer started before the degradation


def test_no_failure_gives_the_summary_of_a_stitch_without_the_key(tmp_path):
    absent = stitch_point(one_expert(tmp_path, None), hand_model())
    empty = stitch_point(one_expert(tmp_path, []), hand_model())
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_summary(a, absent.summary)
    write_summary(b, empty.summary)
    assert a.read_bytes() == b.read_bytes() and "failure" not in absent.summary
    assert absent.graph.disruptions is None and absent.schedule.disrupted is None


def busy_params(**failures):
    return {"seed": 3,
            "eoe": {"experts": [{"name": n, "preset": "tiny-25m"} for n in ("a", "b", "c", "d")],
                    "router": {"kind": "topk", "k": 2},
                    "requests": {"rate_per_s": 400, "count": 600}},
            "hardware": {"package": {"grid": [2, 3]}, "chiplet": {"array": [8, 8]}},
            "mapping": {"strategy": "one_to_one", "cache_policy": "lru", "prefetch": 1},
            "stitch": {"decode_chunk_tokens": 16},
            "failures": {"events": [{"kind": "chiplet", "chiplet": 1, "at_s": 0.5},
                                    {"kind": "chiplet", "chiplet": 0, "at_s": 0.8},  # the router chiplet
                                    {"kind": "link", "src": 4, "dst": 5, "at_s": 0.6, "bandwidth_factor": 0.2}],
                         **failures}}


@pytest.fixture(scope="module")
def busy():
    return stitch_point(busy_params(policy="least_loaded"))


def test_no_request_is_lost_and_no_op_runs_on_a_failed_chiplet(busy):
    g, s = busy.graph, busy.schedule
    first, end = request_times(g, s)
    assert np.isfinite(end).all() and (end >= g.requests.arrival_s).all() and (first <= end).all()
    assert busy.summary["requests"] == 600 and busy.summary["failure"]["lost_requests"] == 0
    for res, at in ((1, 0.5), (0, 0.8)):
        assert not ((g.res == res) & (s.finish > at)).any()
    ev = {e["event"]: e for e in busy.summary["failure"]["events"]}
    assert ev[0]["ops_remapped"] + ev[0]["ops_reexecuted"] > 0 and ev[1]["router_moved"]
    assert ev[2]["transfers_slowed"] > 0
    for dst, src in zip(g.dep_dst.tolist(), g.dep_src.tolist()):  # every dependency honoured after the moves
        assert s.start[dst] >= s.finish[src] - 1e-15


def test_failures_are_deterministic(busy):
    again = stitch_point(busy_params(policy="least_loaded"))
    assert json.dumps(again.summary, sort_keys=True) == json.dumps(busy.summary, sort_keys=True)


def test_throughput_over_time_counts_every_completion(busy):
    f = busy.summary["failure"]
    series = f["throughput_over_time"]
    assert sum(series["requests_per_s"]) * f["bin_s"] == pytest.approx(600)
    assert sum(series["no_failure_requests_per_s"]) * f["bin_s"] == pytest.approx(600)
    assert any(abs(x - f["first_failure_s"]) < 1e-12 for x in series["bin_start_s"])  # an edge on the failure


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
