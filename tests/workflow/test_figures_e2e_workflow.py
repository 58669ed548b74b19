"""The e2e figure rules on a tiny study: each writes a non-empty PDF, PNG and CSV, and the CSV holds the values
of its source (e2e/summary.csv, the load curves, the chosen point's timeline.json)."""
import json

import pandas as pd
import pytest
import yaml
from snakemake_runner import draw_figures, snakemake

from eoesim.figures.timeline_excerpt import busiest_window, excerpt, trace_events
from eoesim.serving.metrics import BREAKDOWN_CATEGORIES

pytestmark = pytest.mark.slow
REQUESTS = 60
TINY = {
    "study": "tiny",
    "eoe": {"experts": [{"name": n, "layers": 1, "d_model": 32, "heads": 2, "kv_heads": 2, "d_ff": 64, "vocab": 100}
                        for n in ("a", "b")],
            "requests": {"rate_per_s": 200, "count": REQUESTS}},
    "workload": {"scalesim": {"phase": "prefill", "seq_len": 16, "batch": 1}},
    "hardware": {"chiplet": {"dataflow": "os"}},
    "sweep": {"grid": {"hardware.chiplet.array": [[8, 8], [16, 16]]}},
    "figures": {"load_curve": {"requests": REQUESTS, "capacity_fractions": [0.25, 1.0, 2.0]},
                "timeline": {"point": 1, "max_ops": 20}},
}
FIGURES = ("latency_breakdown", "latency_vs_rate", "timeline")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return draw_figures(tmp_path_factory.mktemp("figures_e2e"), TINY, FIGURES)


@pytest.mark.parametrize("name", FIGURES)
def test_figure_rule_writes_pdf_png_and_csv(base, name):
    for ext in ("pdf", "png", "csv"):
        assert (base / "figures" / f"{name}.{ext}").stat().st_size > 0
    assert (base / "figures" / f"{name}.pdf").read_bytes().startswith(b"%PDF")
    assert not pd.read_csv(base / "figures" / f"{name}.csv").empty


def test_breakdown_csv_holds_the_e2e_summary_values(base):
    got = pd.read_csv(base / "figures" / "latency_breakdown.csv", dtype={"point": str})
    summary = pd.read_csv(base / "e2e" / "summary.csv", dtype={"point": str}).set_index("point")
    assert set(got["point"]) == set(summary.index) and len(got) == len(summary) * len(BREAKDOWN_CATEGORIES)
    for row in got.to_dict("records"):
        assert row["latency_s"] == summary.loc[row["point"], f"breakdown_{row['category']}_s"]
        assert json.loads((base / "e2e" / row["point"] / "summary.json").read_text())[
            "latency_breakdown_s"][row["category"]] == pytest.approx(row["latency_s"], rel=1e-12)
    total = got.groupby("point")["latency_s"].sum()
    assert total.to_dict() == pytest.approx(summary["e2e_latency_mean_s"].to_dict(), rel=1e-9)
    assert set(got["label"]) == {"8x8", "16x16"}


def test_load_curve_at_the_study_rate_equals_the_e2e_summary(base):
    """Same request count as the study, so the re-stitch at the study's own rate is the study's stitch."""
    summary = pd.read_csv(base / "e2e" / "summary.csv", dtype={"point": str}).set_index("point")
    got = pd.read_csv(base / "figures" / "latency_vs_rate.csv", dtype={"point": str})
    for pid, curve in got.groupby("point"):
        own = curve[curve["study_rate"]]
        assert own["rate_per_s"].tolist() == [200.0]
        for col in ("ttft_p50_s", "tpot_p50_s", "e2e_latency_p99_s", "throughput_requests_per_s"):
            assert own[col].iloc[0] == summary.loc[pid, col]
        source = pd.read_csv(base / "e2e" / pid / "load_curve.csv", dtype={"point": str})
        assert curve["rate_per_s"].tolist() == sorted(source["rate_per_s"])
        assert curve["e2e_latency_p99_s"].tolist() == source.sort_values("rate_per_s")["e2e_latency_p99_s"].tolist()
        assert len(curve) == 4 and (source["requests"] == REQUESTS).all()  # 3 capacity fractions + the study rate
        auto = sorted(source.loc[~source["study_rate"], "rate_per_s"])
        assert auto == pytest.approx([auto[1] * 0.25, auto[1], auto[1] * 2.0])
        assert curve["e2e_latency_p99_s"].iloc[-1] > curve["e2e_latency_p99_s"].iloc[0]  # past the knee


def test_timeline_csv_is_the_chosen_points_trace_in_the_busiest_window(base):
    points = pd.read_csv(base / "points.csv", dtype={"point_id": str})
    second = points["point_id"].iloc[1]  # figures.timeline.point: 1
    events = trace_events(json.loads((base / "e2e" / second / "timeline.json").read_text()))
    want = excerpt(events, busiest_window(events, 20))
    got = pd.read_csv(base / "figures" / "timeline.csv")
    assert len(got) == len(want) > 0
    for col in ("lane", "kind", "start_s", "end_s"):
        assert got[col].tolist() == want[col].tolist()


def test_an_unknown_timeline_point_fails_before_any_job(tmp_path):
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({**TINY, "figures": {"timeline": {"point": 5}}}))
    proc = snakemake(tmp_path, "-n")
    assert proc.returncode != 0
    assert "figures.timeline.point: 5 is not allowed; allowed: an index 0..1" in proc.stdout + proc.stderr
