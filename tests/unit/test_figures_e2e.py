"""The e2e figures' data: latency breakdown by hand, load-curve rates and re-stitching, timeline windows.

Latencies come from the hand model of test_stitch_e2e: each GEMM instance takes 10 ns, so an iteration of one
sequence of the hand-sized expert computes for 70 ns (two sequences batched: 90 ns); HBM moves 1e12 B/s
unless a test slows it, an expert load SSD -> DDR -> HBM takes 1009 + 10 ns, a small message 2 ns per hop
+ 16 B/ns. Expert a on chiplet 0, b on chiplet 1, the router (5 ns gate) on chiplet 3.
"""
import io

import pandas as pd
import pytest
from figure_artists import bar_values, broken_bars, data_lines, line_xy

from eoesim.errors import ConfigError
from eoesim.figures.latency_breakdown import breakdown_frame, plot_latency_breakdown
from eoesim.figures.latency_vs_rate import curve_frame, plot_latency_vs_rate
from eoesim.figures.point_labels import point_labels, point_styles
from eoesim.figures.timeline_excerpt import (
    busiest_window,
    check_window,
    excerpt,
    kind_style,
    lanes,
    plot_timeline,
    timeline_point,
    trace_events,
    trace_lanes,
)
from eoesim.serving.columns import summary_row
from eoesim.serving.metrics import BREAKDOWN_CATEGORIES
from eoesim.serving.trace import chrome_trace
from eoesim.stitch.components import TableComponentModel
from eoesim.stitch.e2e import stitch_point
from eoesim.stitch.load_curve import capacity_per_s, params_at_rate, rates_per_s, study_rate_per_s
from tests.unit.test_stitch_e2e import hand_model, latencies_ns
from tests.unit.test_stitch_e2e import params as e2e_params

NS = 1e-9


def params(tmp_path, rows, hot_set=(), **extra):
    p = e2e_params(tmp_path, rows, **extra)
    p["mapping"]["hot_set"] = list(hot_set)
    return p


def breakdown_ns(result):
    return {k: v / NS for k, v in result.summary["latency_breakdown_s"].items()}


# --- latency breakdown ---------------------------------------------------------------------------------
def test_single_request_on_an_idle_system_breaks_down_into_its_critical_path(tmp_path):
    """Cold expert: gate 5, prompt 5, then the prefill waits for the load (in HBM at 1029) and computes its
    only layer: 1019 ns of load beyond its own 70 ns, then 2 decodes 140 ns = 1239 ns."""
    r = stitch_point(params(tmp_path, [(0, 0, 4, 3)]), hand_model())
    b = breakdown_ns(r)
    assert b == pytest.approx({"routing": 5, "expert_load": 1019, "compute": 210, "memory": 0, "network": 5,
                               "composition": 0, "queueing": 0}, abs=1e-6)
    assert sum(b.values()) == pytest.approx(latencies_ns(r)[1][0]) == pytest.approx(1239)
    row = summary_row("p", r.summary)
    assert row["breakdown_compute_s"] == pytest.approx(210 * NS) and row["breakdown_queueing_s"] == 0
    assert row["breakdown_expert_load_s"] == pytest.approx(1019 * NS)


def test_memory_bound_iterations_split_into_compute_and_memory(tmp_path):
    """HBM at 1e9 B/s: the prefill moves 880 B of weights + 4 x 32 B of KV (1008 ns > 70 ns compute), the
    two decode iterations 2 x 880 + (5 + 6) x 32 read + 2 x 32 written (2176 ns > 140 ns): compute 210 ns,
    memory the rest; e2e 5 + 5 + 1008 + 2176 = 3194 ns."""
    model = TableComponentModel(default_cycles=10, memory_bandwidth_bytes_per_s={"hbm": 1e9, "ddr": 944e9},
                                memory_latency_s={"ddr": 9e-9}, ssd_bandwidth_bytes_per_s=1e9, ssd_latency_s=56e-9,
                                link_bandwidth_bytes_per_s=16e9, hop_latency_s=2e-9)
    r = stitch_point(params(tmp_path, [(0, 0, 4, 3)], hot_set=["a"]), model)
    b = breakdown_ns(r)
    assert b["compute"] == pytest.approx(210)
    assert b["memory"] == pytest.approx((1008 - 70) + (2176 - 140))
    assert b["routing"] == pytest.approx(5) and b["network"] == pytest.approx(5) and b["queueing"] == 0
    assert sum(b.values()) == pytest.approx(latencies_ns(r)[1][0]) == pytest.approx(3194)


def test_contending_requests_share_iterations_or_wait_in_the_queue(tmp_path):
    """Two requests for expert a at t = 0 (as in test_stitch_e2e). Batched, each spends gate 5, prompt 5, a
    prefill of two (90 ns) and two decode iterations of two (180 ns): 280 ns, no queueing. With max_num_seqs
    1 the first is served alone (220 ns) while the second waits from 10 to 220 ns before its 210 ns of
    compute (430 ns): the mean is routing 5, network 5, compute 210, queueing 105 = 325 ns."""
    rows = [(0, 0, 4, 3), (0, 0, 4, 3)]
    r = stitch_point(params(tmp_path, rows, hot_set=["a"]), hand_model())
    assert breakdown_ns(r) == pytest.approx({"routing": 5, "expert_load": 0, "compute": 270, "memory": 0,
                                             "network": 5, "composition": 0, "queueing": 0}, abs=1e-6)
    one = stitch_point(params(tmp_path, rows, hot_set=["a"], serving={"max_num_seqs": 1}), hand_model())
    assert breakdown_ns(one) == pytest.approx({"routing": 5, "expert_load": 0, "compute": 210, "memory": 0,
                                               "network": 5, "composition": 0, "queueing": 105}, abs=1e-6)
    mean = one.summary["latency_breakdown_s"]
    assert sum(mean.values()) == pytest.approx(one.summary["e2e_latency_s"]["mean"]) == pytest.approx(325 * NS)


def test_breakdown_sums_to_the_mean_latency_under_load_and_composition(tmp_path):
    """Many requests, two-expert representation averaging, a small HBM that makes experts miss: whatever the
    mix, the categories add up to the mean e2e latency and none is negative."""
    p = params(tmp_path, [(0, 0, 4, 3)], router={"kind": "topk", "k": 2}, mapping={"cache_policy": "lru"})
    p["eoe"]["requests"] = {"rate_per_s": 5e6, "count": 40, "prompt_tokens": {"dist": "uniform", "min": 2, "max": 20},
                            "output_tokens": {"dist": "uniform", "min": 1, "max": 8}}
    p["hardware"]["memory"]["hbm"]["capacity_gib"] = (944 + 2**14) / 2**30
    s = stitch_point(p, hand_model()).summary
    b = s["latency_breakdown_s"]
    assert set(b) == set(BREAKDOWN_CATEGORIES) and min(b.values()) >= 0
    assert sum(b.values()) == pytest.approx(s["e2e_latency_s"]["mean"])
    assert b["expert_load"] > 0 and b["composition"] > 0 and b["compute"] > 0


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


def test_breakdown_figure_plots_the_summary_values(tmp_path, drawn):
    summary = pd.DataFrame([{"point": pid, "e2e_latency_mean_s": 0.1 * (i + 1),
                             **{f"breakdown_{c}_s": 0.1 * (i + 1) * (j + 1) / 28 for j, c in
                                enumerate(BREAKDOWN_CATEGORIES)}} for i, pid in enumerate(POINTS["point_id"])])
    frame = breakdown_frame(summary, point_labels(POINTS, "s"))
    paths = plot_latency_breakdown(frame, tmp_path / "latency_breakdown")
    ax_abs, ax_rel = drawn[-1].get_axes()[:2]
    for j, (ms, pct) in enumerate(zip(bar_values(ax_abs), bar_values(ax_rel))):
        seconds = summary[f"breakdown_{BREAKDOWN_CATEGORIES[j]}_s"].to_numpy()  # one bar per point, in order
        assert ms == pytest.approx(1e3 * seconds)
        assert pct == pytest.approx(100 * seconds / summary["e2e_latency_mean_s"].to_numpy())
    got = pd.read_csv(paths["csv"])
    for row in got.to_dict("records"):
        src = summary.set_index("point").loc[row["point"]]
        assert row["latency_s"] == pytest.approx(src[f"breakdown_{row['category']}_s"])
    assert got.groupby("label")["latency_s"].sum().to_dict() == pytest.approx({"32x32 ws": 0.1, "64x64 os": 0.2})
    assert paths["pdf"].stat().st_size > 0 and paths["png"].stat().st_size > 0
    with pytest.raises(Exception, match="re-run rules stitch_e2e"):
        breakdown_frame(summary.drop(columns="breakdown_memory_s"), point_labels(POINTS, "s"))


def test_latency_vs_rate_figure_plots_every_curve(tmp_path, drawn):
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
    ttft, tpot, e2e = drawn[-1].get_axes()[:3]
    x, y = line_xy(ttft, "64x64 os")
    assert x.tolist() == [1.0, 2.0, 4.0] and y == pytest.approx([10.0, 20.0, 1000.0])  # ms
    assert line_xy(tpot, "32x32 ws")[1] == pytest.approx([1.0, 1.0, 10.0])
    assert line_xy(e2e, "32x32 ws")[1] == pytest.approx([100.0, 200.0, 3000.0])
    study_rate_marks = [x for name, x, _ in data_lines(ttft) if name not in ("32x32 ws", "64x64 os")]
    assert [m.tolist() for m in study_rate_marks] == [[2.0, 2.0]]


def test_line_styles_follow_the_sweep_structure():
    """Colour = the first swept key's value, marker = the other keys' values; one key: colour per point."""
    grid = pd.DataFrame({"point_id": list("abcd"), "hardware.chiplet.array": ["[8, 8]", "[8, 8]", "[16, 16]",
                                                                              "[16, 16]"],
                         "hardware.chiplet.dataflow": ["os", "ws", "os", "ws"]})
    assert point_styles(grid, 7) == {"a": (0, 0), "b": (0, 1), "c": (1, 0), "d": (1, 1)}
    one = pd.DataFrame({"point_id": [f"p{i}" for i in range(9)], "eoe.router.k": range(9)})
    styles = point_styles(one, 7)
    assert len({(c % 7, m) for c, m in styles.values()}) == 9  # past the palette the marker changes


def test_a_null_swept_value_is_labelled_and_styled():
    """points.csv writes a null swept value (training.chiplets: null = shared) as an empty cell."""
    points = pd.read_csv(io.StringIO('point_id,training.share,training.chiplets\na,0.5,\nb,1.0,8\n'),
                         dtype={"point_id": str})
    assert point_labels(points, "s") == {"a": "share0.5 chiplets=none", "b": "share1 chiplets8"}
    assert point_styles(points, 7) == {"a": (0, 0), "b": (1, 1)}


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


def test_timeline_figure_plots_the_trace_events_in_the_window(tmp_path, drawn):
    """Two requests for a served one at a time (max_num_seqs 1, as above): instance 0 runs the first's prefill
    [10, 80], its decodes one iteration per event while the second waits [80, 150], [150, 220], then the
    second's prefill [220, 290] and its two decodes in one event [290, 430]. In the window [100, 300] ns the
    excerpt clips the first and last; b's instance and the memory tiers stay idle and are left out."""
    rows = [(0, 0, 4, 3), (0, 0, 4, 3)]
    r = stitch_point(params(tmp_path, rows, hot_set=["a"], serving={"max_num_seqs": 1}), hand_model())
    trace = chrome_trace(r.engine)
    events = trace_events(trace)
    assert len(events) == trace["otherData"]["events_total"] == 5  # every step (no load: a is hot)
    assert trace_lanes(trace) == ["instance 0 chiplets [0] a", "instance 1 chiplets [1] b", "SSD -> DDR",
                                  "DDR -> hbm0"]
    window = (100 * NS, 300 * NS)
    got_rows = excerpt(events, window)
    shown = lanes(trace_lanes(trace), got_rows)
    assert shown == ["instance 0 chiplets [0] a"]
    assert list(zip(got_rows["kind"], (got_rows["start_s"] / NS).round(6), (got_rows["end_s"] / NS).round(6))) == [
        ("decode", 100, 150), ("decode", 150, 220), ("prefill", 220, 290), ("decode", 290, 300)]
    paths = plot_timeline(got_rows, shown, window, tmp_path / "timeline", "32x32 ws")
    got = pd.read_csv(paths["csv"])
    assert len(got) == 4 and paths["png"].stat().st_size > 0
    kind_of = {kind_style(k)["facecolor"].lower(): k for k in ("prefill", "decode")}
    bars = {kind_of[colour]: sorted((round(x * 1e6, 6), round(w * 1e6, 6)) for x, w in spans)  # ms -> ns
            for colour, spans in broken_bars(drawn[-1].get_axes()[0])}
    assert bars == {"decode": [(0, 50), (50, 70), (190, 10)], "prefill": [(120, 70)]}  # since the window start
    with pytest.raises(ConfigError, match="holds no op"):
        excerpt(events, (1.0, 2.0))
