"""Figure failure_throughput: its data are exactly the summaries' throughput series."""
import pandas as pd
import pytest
from figure_artists import line_xy

from eoesim.figures.failure_throughput import failure_throughput_frame, plot_failure_throughput
from eoesim.figures.style import FigureError


def summary(tf, values, base):
    return {"failure": {"first_failure_s": tf, "bin_s": 0.5, "throughput_over_time": {
        "bin_start_s": [tf - 0.5, tf, tf + 0.5], "requests_per_s": values, "no_failure_requests_per_s": base}}}


def test_frame_holds_the_plotted_series_and_the_figure_is_written(tmp_path, drawn):
    points = pd.DataFrame({"point_id": ["p1", "p2", "p3"], "failures.policy": ["spare", "least_loaded", "spare"],
                           "scalesim_run_id": ["r", "r", "r"]})
    summaries = {"p1": summary(2.0, [4.0, 1.0, 6.0], [4.0, 4.0, 4.0]), "p2": summary(2.0, [4.0, 0.0, 2.0], [4, 4, 4]),
                 "p3": {"requests": 10}}
    frame = failure_throughput_frame(summaries, points)
    assert set(frame["point"]) == {"p1", "p2"}
    p1 = frame[(frame["point"] == "p1") & (frame["series"] == "with_failure")]
    assert p1["throughput_requests_per_s"].tolist() == [4.0, 1.0, 6.0]
    assert p1["time_from_failure_s"].tolist() == pytest.approx([-0.25, 0.25, 0.75])
    assert set(frame["label"]) == {"policy=spare", "policy=least_loaded"}
    paths = plot_failure_throughput(frame, tmp_path / "failure_throughput")
    assert pd.read_csv(paths["csv"]).equals(frame)
    assert paths["png"].stat().st_size > 0 and paths["pdf"].read_bytes()[:4] == b"%PDF"
    ax = drawn[-1].get_axes()[0]
    x, y = line_xy(ax, "policy=spare")
    assert x == pytest.approx([-0.25, 0.25, 0.75]) and y.tolist() == [4.0, 1.0, 6.0]
    assert line_xy(ax, "policy=least_loaded")[1].tolist() == [4.0, 0.0, 2.0]
    assert line_xy(ax, "without failure")[1].tolist() == [4.0, 4.0, 4.0]
    assert line_xy(ax, "failure")[0].tolist() == [0.0, 0.0]


def test_a_study_without_failures_has_nothing_to_plot(tmp_path):
    frame = failure_throughput_frame({"p": {"requests": 1}}, pd.DataFrame({"point_id": ["p"]}))
    with pytest.raises(FigureError, match="no design point"):
        plot_failure_throughput(frame, tmp_path / "f")
