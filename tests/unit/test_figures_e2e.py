"""The e2e figures' data: latency breakdown by hand, load-curve rates and re-stitching, timeline windows.

Latencies come from a TableComponentModel fed with hand inputs (as in test_stitch_e2e): each GEMM instance
takes 10 cycles at 1 GHz (10 ns), so a prefill or a decode step of the hand-sized expert computes for 70 ns;
HBM moves 1e12 B/s, DDR 944e9 B/s after 9 ns, the SSD 1e9 B/s after 56 ns, a link 16e9 B/s after 2 ns/hop.
"""
import numpy as np
import pandas as pd
import pytest

from eoesim.errors import ConfigError
from eoesim.figures.latency_breakdown import breakdown_frame, plot_latency_breakdown
from eoesim.figures.latency_vs_rate import curve_frame, plot_latency_vs_rate
from eoesim.figures.point_labels import point_labels, point_styles
from eoesim.figures.timeline_excerpt import (busiest_window, check_window, excerpt, lanes, plot_timeline,
                                             timeline_point, trace_events, trace_lanes, KIND_ORDER)
from eoesim.stitch.components import TableComponentModel
from eoesim.stitch.e2e import stitch_point
from eoesim.stitch.lowering import OP_KINDS
from eoesim.stitch.load_curve import capacity_per_s, params_at_rate, rates_per_s, study_rate_per_s
from eoesim.stitch.summary import BREAKDOWN_CATEGORIES, latency_breakdown, request_times, summary_row
from eoesim.stitch.timeline import chrome_trace

NS = 1e-9
TINY = {"layers": 1, "d_model": 8, "heads": 1, "kv_heads": 1, "d_ff": 8, "vocab": 4}


def hand_model(hbm_bytes_per_s=1e12):
    return TableComponentModel(default_cycles=10, memory_bandwidth_bytes_per_s={"hbm": hbm_bytes_per_s, "ddr": 944e9},
                               memory_latency_s={"ddr": 9e-9}, ssd_bandwidth_bytes_per_s=1e9, ssd_latency_s=56e-9,
                               link_bandwidth_bytes_per_s=16e9, hop_latency_s=2e-9)


def params(tmp_path, rows, hot_set=()):
    trace = tmp_path / "trace.csv"
    trace.write_text("arrival_s,domain,prompt_tokens,output_tokens\n" + "".join(f"{a},{d},{p},{o}\n"
                                                                              for a, d, p, o in rows))
    return {"seed": 1,
            "eoe": {"experts": [{"name": n, **TINY} for n in ("a", "b")], "morphology": {"kind": "tree"},
                    "router": {"kind": "fixed", "cost": {"fixed_cycles": 5, "hidden": 0}},
                    "composition": {"kind": "representation_average"},
                    "requests": {"arrival": "trace", "trace_file": str(trace)}},
            "hardware": {"package": {"grid": [2, 2]}, "memory": {"hbm": {"capacity_gib": 1.0},
                                                                 "ddr": {"capacity_gib": 0.0}}},
            "mapping": {"strategy": "one_to_one", "router_chiplet": 3, "cache_policy": "static",
                        "hot_set": list(hot_set)}}


def breakdown_ns(result):
    return [dict(zip(BREAKDOWN_CATEGORIES, row / NS)) for row in latency_breakdown(result.graph, result.schedule)]


def e2e_ns(result):
    _, end = request_times(result.graph, result.schedule)
    return (end - result.graph.requests.arrival_s) / NS


# --- latency breakdown ---------------------------------------------------------------------------------
def test_single_request_on_an_idle_system_breaks_down_into_its_critical_path(tmp_path):
    """Cold expert: route 5 -> SSD read 56+944 -> DDR->HBM 9+1 -> prefill 70 -> 2 decode steps 140 = 1225 ns;
    the 5 ns prompt transfer runs beside the load, so it is off the critical path."""
    r = stitch_point(params(tmp_path, [(0, 0, 4, 3)]), hand_model())
    (b,) = breakdown_ns(r)
    assert b == pytest.approx({"routing": 5, "expert_load": 1010, "compute": 210, "memory": 0, "network": 0,
                               "composition": 0, "queueing": 0}, abs=1e-6)
    assert sum(b.values()) == pytest.approx(e2e_ns(r)[0]) == pytest.approx(1225)
    assert r.summary["latency_breakdown_s"]["expert_load"] == pytest.approx(1010 * NS)
    row = summary_row("p", r.summary)
    assert row["breakdown_compute_s"] == pytest.approx(210 * NS) and row["breakdown_queueing_s"] == 0


def test_memory_bound_phases_split_into_compute_and_memory(tmp_path):
    """HBM at 1e9 B/s: the prefill moves 880 B of weights + 4 x 32 B of KV (1008 ns > 70 ns compute), the
    decode of 2 steps 2 x 880 + 32 x 13 B (2176 ns > 140 ns): compute 210 ns, memory the rest."""
    r = stitch_point(params(tmp_path, [(0, 0, 4, 3)], hot_set=["a"]), hand_model(hbm_bytes_per_s=1e9))
    (b,) = breakdown_ns(r)
    assert b["compute"] == pytest.approx(210)
    assert b["memory"] == pytest.approx((1008 - 70) + (2176 - 140))
    assert b["routing"] == pytest.approx(5) and b["network"] == pytest.approx(5) and b["queueing"] == 0
    assert sum(b.values()) == pytest.approx(e2e_ns(r)[0])


def test_contending_requests_wait_in_the_queue(tmp_path):
    """Two requests for expert a at t=0 (as in test_stitch_e2e). The first's decode is ready at 80 but waits
    for the second's prefill until 150 (70 ns queueing; 290 ns in all). The second routes 5-10 after the
    first (5 ns wait), its transfer ends at 15, its prefill waits for chiplet 0 until 80 and its decode
    until 290: queueing 5 + 65 + 140, routing 5, network 5, compute 210 = 430 ns."""
    r = stitch_point(params(tmp_path, [(0, 0, 4, 3), (0, 0, 4, 3)], hot_set=["a"]), hand_model())
    first, second = breakdown_ns(r)
    assert first == pytest.approx({"routing": 5, "expert_load": 0, "compute": 210, "memory": 0, "network": 5,
                                   "composition": 0, "queueing": 70}, abs=1e-6)
    assert second == pytest.approx({"routing": 5, "expert_load": 0, "compute": 210, "memory": 0, "network": 5,
                                    "composition": 0, "queueing": 210}, abs=1e-6)
    mean = r.summary["latency_breakdown_s"]
    assert sum(mean.values()) == pytest.approx(r.summary["e2e_latency_s"]["mean"])


# --- load curve ----------------------------------------------------------------------------------------
def test_capacity_is_throughput_over_the_busiest_utilization():
    summary = {"throughput": {"requests_per_s": 20.0},
               "utilization": {"chiplets_max": 0.25, "hbm": 0.5, "ddr": 0.0, "ssd": None, "network": 0.1}}
    assert capacity_per_s(summary) == pytest.approx(40.0)
    auto = rates_per_s({"rates_per_s": [], "capacity_fractions": [0.5, 1.0]}, summary, own_rate=20.0)
    assert auto == [(20.0, True), (40.0, False)]  # 0.5 x capacity is the study's own rate
    given = rates_per_s({"rates_per_s": [5, 50]}, summary, own_rate=20.0)
    assert given == [(5.0, False), (20.0, True), (50.0, False)]
    with pytest.raises(ConfigError, match="figures.load_curve"):
        capacity_per_s({"throughput": {"requests_per_s": 1.0}, "utilization": {"hbm": 0.0}})


def test_poisson_point_at_another_rate_only_changes_the_arrivals(tmp_path):
    p = {"eoe": {"requests": {"arrival": "poisson", "rate_per_s": 10.0, "count": 1000, "duration_s": 5.0}}}
    at = params_at_rate(p, 40.0, 50, 10.0, tmp_path)
    assert at["eoe"]["requests"] == {"arrival": "poisson", "rate_per_s": 40.0, "count": 50, "duration_s": None}
    assert p["eoe"]["requests"]["rate_per_s"] == 10.0  # the point itself is untouched
    assert study_rate_per_s(p) == 10.0


def test_trace_point_is_time_scaled_to_the_rate(tmp_path):
    p = params(tmp_path, [(1.0, 0, 4, 3), (3.0, 1, 5, 2), (2.0, 0, 6, 1)])
    own = study_rate_per_s(p)
    assert own == pytest.approx(3 / 2.0)
    at = params_at_rate(p, 2 * own, 2, own, tmp_path)
    rows = pd.read_csv(at["eoe"]["requests"]["trace_file"])
    assert rows["arrival_s"].tolist() == pytest.approx([1.0, 1.5])  # first two by arrival, half the gaps
    assert rows["prompt_tokens"].tolist() == [4, 6]


# --- figures -------------------------------------------------------------------------------------------
POINTS = pd.DataFrame({"point_id": ["aaaaaaaaaaaa", "bbbbbbbbbbbb"], "hardware.chiplet.array": ["[32, 32]", "[64, 64]"],
                       "hardware.chiplet.dataflow": ["ws", "os"], "scalesim_run_id": ["c" * 12, "d" * 12]})


def test_points_are_labelled_by_their_swept_values():
    assert point_labels(POINTS, "s") == {"aaaaaaaaaaaa": "32x32 ws", "bbbbbbbbbbbb": "64x64 os"}
    assert point_labels(POINTS[["point_id", "scalesim_run_id"]], "study") == {"aaaaaaaaaaaa": "study",
                                                                             "bbbbbbbbbbbb": "study"}


def test_breakdown_figure_plots_the_summary_values(tmp_path):
    summary = pd.DataFrame([{"point": pid, "e2e_latency_mean_s": 0.1 * (i + 1),
                             **{f"breakdown_{c}_s": 0.1 * (i + 1) * (j + 1) / 28 for j, c in
                                enumerate(BREAKDOWN_CATEGORIES)}} for i, pid in enumerate(POINTS["point_id"])])
    frame = breakdown_frame(summary, point_labels(POINTS, "s"))
    paths = plot_latency_breakdown(frame, tmp_path / "latency_breakdown")
    got = pd.read_csv(paths["csv"])
    for row in got.to_dict("records"):
        src = summary.set_index("point").loc[row["point"]]
        assert row["latency_s"] == pytest.approx(src[f"breakdown_{row['category']}_s"])
    assert got.groupby("label")["latency_s"].sum().to_dict() == pytest.approx({"32x32 ws": 0.1, "64x64 os": 0.2})
    assert paths["pdf"].stat().st_size > 0 and paths["png"].stat().st_size > 0
    with pytest.raises(Exception, match="re-run rules stitch_e2e"):
        breakdown_frame(summary.drop(columns="breakdown_memory_s"), point_labels(POINTS, "s"))


def test_latency_vs_rate_figure_plots_every_curve(tmp_path):
    curves = [pd.DataFrame({"point": pid, "rate_per_s": [1.0, 2.0, 4.0], "study_rate": [False, True, False],
                            "requests": 10, "throughput_requests_per_s": [1.0, 2.0, 3.0],
                            "ttft_p50_s": [0.01, 0.02, 0.5 * (i + 1)], "tpot_p50_s": [0.001, 0.001, 0.01],
                            "e2e_latency_p99_s": [0.1, 0.2, 3.0]}) for i, pid in enumerate(POINTS["point_id"])]
    frame = curve_frame(curves[::-1], point_labels(POINTS, "s"))
    paths = plot_latency_vs_rate(frame, point_styles(POINTS, 7), tmp_path / "latency_vs_rate")
    got = pd.read_csv(paths["csv"])
    assert got["label"].tolist() == ["32x32 ws"] * 3 + ["64x64 os"] * 3  # points.csv order
    assert got["ttft_p50_s"].tolist() == pytest.approx([0.01, 0.02, 0.5, 0.01, 0.02, 1.0])
    assert paths["png"].stat().st_size > 0


def test_line_styles_follow_the_sweep_structure():
    """Colour = the first swept key's value, marker = the other keys' values; one key: colour per point."""
    grid = pd.DataFrame({"point_id": list("abcd"), "hardware.chiplet.array": ["[8, 8]", "[8, 8]", "[16, 16]", "[16, 16]"],
                         "hardware.chiplet.dataflow": ["os", "ws", "os", "ws"]})
    assert point_styles(grid, 7) == {"a": (0, 0), "b": (0, 1), "c": (1, 0), "d": (1, 1)}
    one = pd.DataFrame({"point_id": [f"p{i}" for i in range(9)], "eoe.router.k": range(9)})
    styles = point_styles(one, 7)
    assert len({(c % 7, m) for c, m in styles.values()}) == 9  # past the palette the marker changes


def test_timeline_point_and_window_checks():
    ids = ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]
    assert timeline_point(ids, 1) == "bbbbbbbbbbbb" and timeline_point(ids, "aaaaaaaaaaaa") == "aaaaaaaaaaaa"
    with pytest.raises(ConfigError, match=r"figures.timeline.point: 2 is not allowed; allowed: an index 0..1"):
        timeline_point(ids, 2)
    with pytest.raises(ConfigError, match="figures.timeline.point: 'cccccccccccc'"):
        timeline_point(ids, "cccccccccccc")
    with pytest.raises(ConfigError, match=r"figures.timeline.window_s: \[2, 1\] is not allowed"):
        check_window([2, 1])


def test_busiest_window_has_the_most_busy_lanes_per_second():
    """Lane x: a lone op at 0-1; lanes x and y: two ops each side by side at 10-11 (2 busy lanes)."""
    ev = pd.DataFrame({"lane": ["x", "x", "y", "x", "y"], "start_s": [0.0, 10.0, 10.0, 11.0, 11.0],
                       "end_s": [1.0, 11.0, 11.0, 12.0, 12.0]})
    assert busiest_window(ev, 2) == (10.0, 11.0)
    assert busiest_window(ev, 4) == (10.0, 12.0)


def test_timeline_figure_plots_the_trace_events_in_the_window(tmp_path):
    r = stitch_point(params(tmp_path, [(0, 0, 4, 3), (0, 0, 4, 3)], hot_set=["a"]), hand_model())
    trace = chrome_trace(r.graph, r.schedule)
    events = trace_events(trace)
    g, s = r.graph, r.schedule
    assert len(events) == g.n_ops + int((g.res2 >= 0).sum())  # every op, plus the HBM traffic of compute phases
    window = (100 * NS, 300 * NS)
    rows = excerpt(events, window)
    shown = lanes(trace_lanes(trace), rows)
    assert shown == ["chiplet 0 (0, 0)", "hbm", "ddr", "ssd", "network"]  # busy chiplets + memories, SSD, network
    paths = plot_timeline(rows, shown, window, tmp_path / "timeline", "32x32 ws")
    got = pd.read_csv(paths["csv"])
    chip0 = got[got["lane"].str.startswith("chiplet 0")]
    # chiplet 0 in [100, 300] ns: prefill 2 (80-150, clipped), decode 1 (150-290), decode 2 (290-430, clipped)
    assert list(zip(chip0["kind"], (chip0["start_s"] / NS).round(6), (chip0["end_s"] / NS).round(6))) == [
        ("prefill", 100, 150), ("decode", 150, 290), ("decode", 290, 300)]
    decode_ops = np.flatnonzero(g.kind == 6)
    assert sorted(s.start[decode_ops] / NS) == pytest.approx([150, 290])
    with pytest.raises(ConfigError, match="holds no op"):
        excerpt(events, (1.0, 2.0))
    assert set(KIND_ORDER) == set(OP_KINDS)  # every op kind has its own colour
