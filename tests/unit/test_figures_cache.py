"""Figures cache_sensitivity and expert_load_cdf: re-stitched variants of a design point under memory pressure.

The points are served without simulator tables (datasheet and SCALE-Sim-surrogate answers) or with a
hand-made MQSim row, so the tests are fast and check the figure logic, not a simulator. The router picks
one expert per request: with two composed picks the static line of a two-expert budget cannot serve (two
waiting groups each get one expert into the two transient slots and wait for the other), so only LRU and
LFU are served with composed pairs under the budget (test_composed_pairs_under_the_budget_are_all_served).
"""
import copy

import numpy as np
import pandas as pd
import pytest
from figure_artists import line_xy

from eoesim.config import build_study
from eoesim.eoe.expert import param_bytes, resolve_experts
from eoesim.eoe.hardware import GIB, build_hardware
from eoesim.errors import ConfigError
from eoesim.figures import cache_sensitivity as cs
from eoesim.figures import expert_load_cdf as el
from eoesim.figures.style import FigureError
from eoesim.plan import plan_study
from eoesim.serving.engine import Engine
from eoesim.stitch.e2e import stitch_point
from eoesim.stitch.study_model import StudyComponentModel
from eoesim.stitch.variants import Restitcher, kv_room_bytes, residency_overrides, with_overrides
from eoesim.stitch.workloads import ssd_reads

EXPERTS = [{"name": n, "preset": "tiny-25m"} for n in ("code", "math", "med", "law")]
STUDY = {
    "study": "cache_fig",
    "eoe": {"experts": EXPERTS, "router": {"kind": "topk", "k": 1},
            "requests": {"rate_per_s": 20, "count": 80, "zipf_skew": 1.1,
                         "prompt_tokens": {"dist": "fixed", "value": 32},
                         "output_tokens": {"dist": "fixed", "value": 8}}},
    "hardware": {"chiplet": {"array": [32, 32]}},
    "mapping": {"strategy": "one_to_one", "cache_policy": "lru", "prefetch": 1},
    "figures": {"cache_sensitivity": {"zipf_skews": [0.0, 1.0, 2.0], "prefetch": [0, 1], "repeats": 2}},
}
EXPERT_BYTES = param_bytes(resolve_experts(EXPERTS)[0])


def study(**figures):
    cfg = copy.deepcopy(STUDY)
    for section, values in figures.items():
        cfg["figures"].setdefault(section, {}).update(values)
    return build_study(cfg, "test")


def restitcher(s, pid=None):
    pid = pid or s.points[0].id
    return Restitcher({"point": pid, "params": s.point(pid).params, "runs": {}})


def test_the_budget_holds_exactly_that_many_experts():
    """HBM = 2 experts + half an expert of KV room (the KV cache shares HBM with the weights), so 2 experts
    fit together and 3 never do; no DDR. Static pins its hot set and must keep room to load any other expert
    while it is in use: the most popular expert (code) stays, one slot is the transient buffer. LRU keeps at
    most 2; both serve every request."""
    params = study().points[0].params
    ov = residency_overrides(params, 2, 0)
    assert ov["hardware.memory.hbm.capacity_gib"] * GIB == 2.5 * EXPERT_BYTES
    assert ov["hardware.memory.ddr.capacity_gib"] == 0
    assert residency_overrides(params, None, None) == {}
    static = stitch_point(with_overrides(params, {**ov, "mapping.cache_policy": "static"}))
    assert static.engine.stacks[0].hot == {"code"} and static.summary["unfinished_requests"] == 0
    lru = stitch_point(with_overrides(params, {**ov, "mapping.cache_policy": "lru"}))
    assert len(lru.engine.stacks[0].resident) <= 2 and lru.summary["cache"]["evictions"] > 0
    assert lru.summary["unfinished_requests"] == 0
    # long requests need more: the KV of the longest request (4000 + 96 tokens = 256 blocks of 16) for each of
    # the 2 experts a composed request runs at once, 2 x 4096 x (2 x 4 layers x 4 heads x 64 x 2 B) = 32 MiB
    long = with_overrides(params, {"eoe.requests.prompt_tokens": {"dist": "fixed", "value": 4000},
                                   "eoe.requests.output_tokens": {"dist": "uniform", "min": 1, "max": 96},
                                   "eoe.router.k": 2})
    assert kv_room_bytes(long) == 2 * 4096 * 4096 > EXPERT_BYTES / 2
    assert residency_overrides(long, 2, 0)["hardware.memory.hbm.capacity_gib"] * GIB == 2 * EXPERT_BYTES + 2**25
    # a two-level tree, top-2 at both levels: a request runs all four experts at once, so four times the KV
    nested = with_overrides(long, {"eoe.morphology": {"kind": "tree", "tree": {
        "root": ["sci", "hum"], "sci": ["code", "math"], "hum": ["med", "law"]}}})
    assert kv_room_bytes(nested) == 4 * 4096 * 4096


@pytest.mark.parametrize("skew", [0.0, 2.5])
@pytest.mark.parametrize("policy", ["static", "lru", "lfu"])
def test_composed_pairs_under_the_budget_are_all_served(policy, skew):
    """Top-2 representation averaging with room for 2 of the 4 experts: a group is admitted once both its
    experts are resident, so loads must evict experts as soon as the last sequence using them ends (or a
    waiting group no longer wants them) - every request completes, with evictions and SSD reads."""
    cfg = copy.deepcopy(STUDY)
    cfg["eoe"]["router"]["k"] = 2
    cfg["eoe"]["requests"]["zipf_skew"] = skew
    params = build_study(cfg, "test").points[0].params
    r = stitch_point(with_overrides(params, {**residency_overrides(params, 2, 0), "mapping.cache_policy": policy}))
    c = r.summary["cache"]
    assert r.summary["unfinished_requests"] == 0 and c["accesses"] == 2 * 80
    assert c["evictions"] > 0 and c["ssd_loads"] > 0 and 0 < c["hit_rate"] < 1


def test_settings_resolve_the_point_and_list_static_once_then_each_prefetch_depth():
    s = study()
    settings = cs.settings(s)
    assert settings.point == s.points[0].id and settings.hbm_experts is None and settings.ddr_experts == 0
    assert settings.pressure.counts(s.points[0].params) == (2, 0)  # null: half of the four experts
    lines = cs.lines(settings, s.points[0].params)
    assert [(x.policy, x.prefetch, x.as_configured) for x in lines] == [
        ("static", 0, False), ("lru", 0, False), ("lru", 1, False), ("lfu", 0, False), ("lfu", 1, False),
        ("lru", 1, True)]
    assert cs.CacheSensitivity.from_dict(settings.to_dict()) == settings


@pytest.fixture(scope="module")
def sweep_frame():
    s = study()
    settings = cs.settings(s)
    return s, settings, cs.sweep(restitcher(s), settings)


@pytest.mark.parametrize("seed", [1, 2])
def test_each_row_is_the_stitch_of_the_same_overrides(sweep_frame, seed):
    """Every (line, skew) is re-stitched with the point's seed (1) and the next (repeats: 2)."""
    s, _, frame = sweep_frame
    assert len(frame) == 6 * 3 * 2
    assert frame.groupby(["series", "zipf_skew"])["seed"].apply(sorted).tolist() == [[1, 2]] * 18
    assert (frame.groupby(["series", "zipf_skew"])["e2e_latency_mean_s"].nunique() == 2).all()  # two streams
    row = frame[(frame["series"] == "LFU + prefetch 1") & (frame["zipf_skew"] == 2.0) & (frame["seed"] == seed)]
    row = row.iloc[0]
    params = copy.deepcopy(dict(s.points[0].params))
    params["seed"] = seed
    params["eoe"]["requests"]["zipf_skew"] = 2.0
    params["mapping"].update(cache_policy="lfu", prefetch=1)
    params["hardware"]["memory"]["hbm"]["capacity_gib"] = 2.5 * EXPERT_BYTES / GIB
    params["hardware"]["memory"]["ddr"]["capacity_gib"] = 0.0
    model = StudyComponentModel(build_hardware(params["hardware"]), {}, {})  # no tables, as in restitcher()
    summary = stitch_point(params, model).summary
    assert summary["unfinished_requests"] == 0
    assert row["hit_rate"] == summary["cache"]["hit_rate"]
    assert row["ssd_loads"] == summary["cache"]["ssd_loads"] and row["accesses"] == 80  # one pick each
    assert row["prefetch_loads"] == summary["cache"]["prefetch_loads"] > 0
    assert row["e2e_latency_mean_s"] == summary["e2e_latency_s"]["mean"]
    assert row["hbm_capacity_gib"] * GIB == 2.5 * EXPERT_BYTES


def test_the_reference_line_is_the_point_as_configured(sweep_frame):
    *_, frame = sweep_frame
    ref = frame[frame["as_configured"]]
    assert set(ref["series"]) == {"as configured (16 GiB HBM)"} and (ref["hit_rate"] == 1.0).all()
    assert ref["hbm_experts"].isna().all() and (ref["hbm_capacity_gib"] == 16.0).all()
    pressed = frame[~frame["as_configured"]]
    assert (pressed["hit_rate"] < 1.0).all() and (pressed["ssd_loads"] > 0).all()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_static_hit_rate_never_falls_as_the_skew_grows_when_requests_go_home(seed):
    """Guaranteed for a static hot set (the most popular experts) when every request runs its home expert
    (router kind fixed, one domain per expert): domains are drawn by inverse CDF from the same uniforms, so a
    request's domain rank can only fall as the skew grows, and the hit rate is the share of requests whose
    domain is hot. The budget of 2 experts keeps one hot (code, domain 0) and one transient slot; requests
    one second apart never overlap, so a cold expert is never found in the transient slot. (With a noisy
    top-k router it holds only in expectation: moving a request's affinity bonus from one hot expert to
    another can change its other, noise-picked expert from hot to cold.)"""
    cfg = copy.deepcopy(STUDY)
    cfg["seed"] = seed
    cfg["eoe"]["router"] = {"kind": "fixed"}
    cfg["eoe"]["requests"].update(rate_per_s=1.0, count=40)
    s = build_study(cfg, "test")
    settings = cs.CacheSensitivity(point=s.points[0].id, zipf_skews=tuple(np.linspace(0, 4, 9)),
                                   policies=("static",), prefetch=(0,), memory_pressure=True, hbm_experts=2,
                                   ddr_experts=0,
                                   requests=None, latency_metric="e2e_latency", latency_stat="mean",
                                   reference=False, repeats=1)
    frame = cs.sweep(restitcher(s), settings)
    hit = frame["hit_rate"].to_numpy()
    assert (np.diff(hit) >= 0).all() and hit[-1] > hit[0]
    domains = [Engine(with_overrides(s.points[0].params, {"eoe.requests.zipf_skew": x})).requests.domain
               for x in settings.zipf_skews]
    assert hit == pytest.approx([float(np.mean(d < 1)) for d in domains])  # hot set = the first expert


def test_the_plot_writes_pdf_png_and_the_plotted_rows(sweep_frame, tmp_path, drawn):
    _, settings, frame = sweep_frame
    paths = cs.plot(frame, tmp_path / "cache_sensitivity", settings)
    assert paths["pdf"].stat().st_size > 5000 and paths["png"].stat().st_size > 20000
    pd.testing.assert_frame_equal(pd.read_csv(paths["csv"]), frame, check_dtype=False)
    top, bottom = drawn[-1].get_axes()[:2]
    for label, rows in frame.groupby("series", sort=False):
        by_skew = rows.groupby("zipf_skew")  # each line: the mean of the two request streams
        x, hit = line_xy(top, label)
        assert x == pytest.approx([0.0, 1.0, 2.0]) and hit == pytest.approx(by_skew["hit_rate"].mean())
        series = list(frame.groupby("series", sort=False).groups).index(label)
        mean_ms = 1e3 * by_skew[settings.latency_column].mean()
        assert bottom.get_lines()[series].get_ydata() == pytest.approx(mean_ms)
        band = bottom.collections[series].get_paths()[0].vertices[:, 1]  # the range of the two streams
        assert band.min() == pytest.approx(1e3 * rows[settings.latency_column].min())
        assert band.max() == pytest.approx(1e3 * rows[settings.latency_column].max())
    assert len(top.collections) == len(bottom.collections) == frame["series"].nunique()


@pytest.mark.parametrize("figures, fragments", [
    ({"cache_sensitivity": {"point": 5}}, ["figures.cache_sensitivity.point", "5", "0..0"]),
    ({"cache_sensitivity": {"point": "0123456789ab"}}, ["figures.cache_sensitivity.point", "'0123456789ab'"]),
    ({"cache_sensitivity": {"hbm_experts": 4}}, ["figures.cache_sensitivity.hbm_experts", "4", "below the 4"]),
])
def test_cross_field_errors_name_key_value_and_allowed(figures, fragments):
    with pytest.raises(ConfigError) as info:
        cs.settings(study(**figures))
    assert all(f in str(info.value) for f in fragments), str(info.value)


@pytest.mark.parametrize("budget", [{"hbm_experts": 4}, {"ddr_experts": 9}])
def test_expert_load_budget_is_checked_on_every_stitched_point(budget):
    s = study(expert_load=budget)
    (key, value), = budget.items()
    with pytest.raises(ConfigError, match=rf"figures\.expert_load\.{key}: {value} is not allowed; allowed: an "
                                          "integer below the 4 experts"):
        el.settings(s, plan_study(s, {}))


def test_a_single_expert_study_leaves_both_figures_out_unless_a_budget_is_given():
    cfg = copy.deepcopy(STUDY)
    cfg["eoe"]["experts"] = EXPERTS[:1]
    cfg["eoe"]["router"] = {"kind": "topk", "k": 1}
    s = build_study(cfg, "test")
    assert cs.settings(s) is None and el.settings(s, plan_study(s, {})) is None
    cfg["figures"]["cache_sensitivity"]["hbm_experts"] = 1
    with pytest.raises(ConfigError, match=r"figures\.cache_sensitivity\.hbm_experts: 1 is not allowed"):
        cs.settings(build_study(cfg, "test"))


def test_without_memory_pressure_the_point_keeps_its_capacities(sweep_frame):
    s = study(cache_sensitivity={"memory_pressure": False, "hbm_experts": 1})
    settings = cs.settings(s)
    line = cs.lines(settings, s.points[0].params)[1]
    assert cs.overrides(settings, s.points[0].params, 0.5, line) == {
        "eoe.requests.zipf_skew": 0.5, "mapping.cache_policy": "lru", "mapping.prefetch": 0}


def test_a_hot_set_the_budget_cannot_hold_is_rejected_naming_the_figure():
    cfg = copy.deepcopy(STUDY)
    cfg["mapping"]["hot_set"] = ["code", "math", "med"]
    with pytest.raises(ConfigError, match=r"^figures\.cache_sensitivity: .*mapping\.hot_set: expert 'med' .*does "
                                          "not fit .*allowed: a smaller hot set or more HBM"):
        cs.settings(build_study(cfg, "test"))


def test_a_hot_set_that_leaves_the_budget_no_room_is_rejected_naming_the_figure():
    """The budget holds 2 experts (and KV room); the static line pins the point's hot set of 2, so a request for
    another expert could never load it: rejected at planning, naming the figure. Before, the figure's static
    line stalled when it ran."""
    cfg = copy.deepcopy(STUDY)
    cfg["mapping"]["hot_set"] = 2
    with pytest.raises(ConfigError, match=r"^figures\.cache_sensitivity: .*'mapping\.cache_policy': 'static'.* "
                                          r"mapping\.hot_set: \['\w+', '\w+'\] pinned in HBM stack 0 under "
                                          r"cache_policy static is not allowed beside the experts a request runs "
                                          r"there \(\w+\)"):
        cs.settings(build_study(cfg, "test"))


def test_a_trace_point_has_no_skew_to_sweep(tmp_path):
    """By default the figure takes the first point with generated requests, and is left out (not an error:
    the study is valid) when every point reads a trace; a trace point named explicitly is an error."""
    trace = tmp_path / "trace.csv"
    trace.write_text("arrival_s,domain,prompt_tokens,output_tokens\n0.0,0,16,4\n")
    cfg = copy.deepcopy(STUDY)
    cfg["eoe"]["requests"] = {"arrival": "trace", "trace_file": str(trace)}
    assert cs.settings(build_study(cfg, "test")) is None
    assert "reads its requests from a trace" in cs.base_point(build_study(cfg, "test"))[1]
    cfg["sweep"] = {"zip": {"eoe.requests.arrival": ["trace", "poisson"],
                            "eoe.requests.trace_file": [str(trace), None]}}
    s = build_study(cfg, "test")
    assert cs.settings(s).point == s.points[1].id
    cfg["figures"]["cache_sensitivity"]["point"] = 0
    with pytest.raises(ConfigError, match=r"figures\.cache_sensitivity\.point: 0 .*allowed: a point with"):
        cs.settings(build_study(cfg, "test"))


# --- expert_load_cdf ----------------------------------------------------------------------------------
MQSIM_POINT = {"ssd": {"channels": 8, "chips_per_channel": 4, "flash": {"technology": "TLC"}}}


def ssd_study():
    cfg = copy.deepcopy(STUDY)
    cfg["sweep"] = {"grid": {"hardware.ssd.read_bandwidth_gb_per_s": [1.0, 7.0],
                             "hardware.chiplet.dataflow": ["os", "ws"]}}
    return build_study(cfg, "test")


def test_points_group_by_ssd_configuration_in_point_order():
    s = ssd_study()
    groups = el.ssd_configurations(plan_study(s, {}))
    assert [g["ssd"]["read_bandwidth_gb_per_s"] for g in groups] == [1.0, 7.0]
    assert [g["points"] for g in groups] == [[p.id for p in s.points[:2]], [p.id for p in s.points[2:]]]
    assert el.stitched_points(el.ExpertLoad("first", True, 2, 0, None), groups[1]) == [s.points[2].id]
    assert el.stitched_points(el.ExpertLoad("all", True, 2, 0, None), groups[1]) == [p.id for p in s.points[2:]]


def test_labels_say_what_set_the_read_time_and_stay_distinct():
    a = {"ssd": {"read_bandwidth_gb_per_s": 1.0, "read_latency_us": 60.0}, "mqsim": MQSIM_POINT, "mqsim_run_id": "a"}
    b = {**a, "ssd": {"read_bandwidth_gb_per_s": 7.0, "read_latency_us": 60.0}, "mqsim_run_id": "b"}
    assert el.labels([a, b], [{"nominal"}, {"nominal"}]) == ["datasheet 1 GB/s, 60 µs", "datasheet 7 GB/s, 60 µs"]
    assert el.labels([a], [{"simulate"}]) == ["MQSim 8x4 TLC (simulate)"]
    assert el.labels([a, b], [{"surrogate"}, {"surrogate"}]) == [
        "MQSim 8x4 TLC (surrogate); datasheet 1 GB/s, 60 µs", "MQSim 8x4 TLC (surrogate); datasheet 7 GB/s, 60 µs"]


@pytest.fixture(scope="module")
def load_frame():
    s = ssd_study()
    plan = plan_study(s, {})
    settings = el.settings(s, plan)
    groups = el.ssd_configurations(plan)
    rs = {pid: restitcher(s, pid) for g in groups for pid in el.stitched_points(settings, g)}
    return s, rs, settings, el.collect(groups, rs, settings)


def test_each_ssd_read_is_timed_from_its_issue_until_the_expert_is_in_hbm(load_frame):
    """Every SSD read of the served point is a row: its issue (a sequence or a prefetch needing the expert on
    a stack), the read itself and the DDR -> HBM copy after it, which ends when the expert is in HBM."""
    s, rs, settings, frame = load_frame
    pid = s.points[0].id
    rows = frame[frame["point"] == pid].sort_values("ssd_start_s", kind="stable", ignore_index=True)
    result = rs[pid].stitch(el.overrides(settings, rs[pid].params))
    cache = result.summary["cache"]
    assert len(rows) == cache["ssd_loads"] > 0 and rows["prefetch"].sum() <= cache["prefetch_loads"]
    reads = sorted((a, b) for tier, _, a, b, _, _ in result.engine.rec.loads if tier == "ssd")
    assert np.array(list(zip(rows["ssd_start_s"], rows["ssd_finish_s"]))) == pytest.approx(np.array(reads))
    assert (rows["issue_s"] <= rows["ssd_start_s"]).all() and (rows["ssd_finish_s"] < rows["hbm_ready_s"]).all()
    assert rows["load_latency_s"].to_numpy() == pytest.approx(
        (rows["ssd_queue_s"] + rows["ssd_service_s"] + rows["ddr_to_hbm_s"]).to_numpy())
    assert set(zip(rows["expert"], rows["issue_s"])) == set(zip(*(ssd_reads(result.engine)[c] for c in
                                                                   ("expert", "issue_s"))))


def test_the_datasheet_read_time_follows_the_ssd_bandwidth(load_frame):
    """A read alone on the SSD takes the expert's bytes at the read bandwidth plus the latencies of the
    devices it crosses (SSD 60 us, DDR); reads that overlap share the SSD and take longer."""
    s, _, _, frame = load_frame
    ddr_s = build_hardware(s.points[0].params["hardware"]).ddr.latency_s
    service = frame.groupby("ssd_read_bandwidth_gb_per_s")["ssd_service_s"].min()
    for bw, lo in service.items():
        assert lo == pytest.approx(60e-6 + ddr_s + EXPERT_BYTES / (bw * 1e9))
    assert list(frame["ssd_config"].unique()) == ["datasheet 1 GB/s, 60 µs", "datasheet 7 GB/s, 60 µs"]
    for _, rows in frame.groupby("ssd_config"):
        assert rows["load_latency_s"].is_monotonic_increasing
        np.testing.assert_allclose(rows["cdf"], np.arange(1, len(rows) + 1) / len(rows))


def test_an_mqsim_row_sets_the_read_time_and_the_label(tmp_path):
    s = study()
    table = tmp_path / "mqsim.csv"
    pd.DataFrame([{"run_id": "r1", "device_response_time_mean_us": 200.0, "throughput_bytes_per_s": 1.0e9,
                   "fidelity": "simulate", "source": "MQSim test row"}]).to_csv(table, index=False)
    pid = s.points[0].id
    r = Restitcher({"point": pid, "params": s.point(pid).params,
                    "runs": {"mqsim": {"run_id": "r1", "table": str(table), "point": MQSIM_POINT}}})
    group = {"ssd": s.points[0].params["hardware"]["ssd"], "mqsim": MQSIM_POINT, "mqsim_run_id": "r1",
             "points": [pid]}
    frame = el.collect([group], {pid: r}, el.ExpertLoad("first", True, 2, 0, None))
    ddr_s = build_hardware(s.points[0].params["hardware"]).ddr.latency_s
    alone = 200e-6 + ddr_s + EXPERT_BYTES / 1e9  # the row's response time and throughput, then the DDR's latency
    assert frame["ssd_service_s"].min() == pytest.approx(alone) and (frame["ssd_service_s"] >= alone * 0.999).all()
    assert set(frame["ssd_config"]) == {"MQSim 8x4 TLC (simulate)"}
    assert frame["provenance"].str.contains("simulate:MQSim test row").all()


def test_no_ssd_reads_is_an_error_naming_the_budget():
    s = study()
    pid = s.points[0].id
    group = {"ssd": s.points[0].params["hardware"]["ssd"], "mqsim": None, "mqsim_run_id": None, "points": [pid]}
    with pytest.raises(FigureError, match="allowed: figures.expert_load.memory_pressure true"):
        el.collect([group], {pid: restitcher(s)}, el.ExpertLoad("first", False, None, 0, None))


def test_the_cdf_plot_writes_pdf_png_and_the_plotted_rows(load_frame, tmp_path, drawn):
    *_, frame = load_frame
    paths = el.plot(frame, tmp_path / "expert_load_cdf")
    assert paths["pdf"].stat().st_size > 5000 and paths["png"].stat().st_size > 20000
    pd.testing.assert_frame_equal(pd.read_csv(paths["csv"]), frame, check_dtype=False)
    ax = drawn[-1].get_axes()[0]
    for name, rows in frame.groupby("ssd_config", sort=False):
        x, cdf = line_xy(ax, f"{name} ({len(rows)} loads)")
        assert x == pytest.approx(1e3 * rows["load_latency_s"]) and cdf == pytest.approx(rows["cdf"])
        assert (np.diff(cdf) > 0).all() and cdf[-1] == pytest.approx(1.0)
