"""The training summary table and its two figures, from points trained through the hand model."""
import json

import pandas as pd
import pytest
from figure_artists import bar_values, line_xy
from training_cases import hand_model, point

from eoesim.figures.training_colocation import colocation_frame, plot_training_colocation
from eoesim.figures.training_time import STEP_PARTS, plot_training_time, training_time_frame
from eoesim.training.collect import training_summary
from eoesim.training.point_job import run_training_point
from eoesim.training.serving_side import serve_beside_training


def summary_of(tmp_path, variants, serve=False):
    dirs, rows = [], []
    for i, (training, grid) in enumerate(variants):
        p = point(training, grid=grid, requests={"count": 20, "rate_per_s": 50})
        d = tmp_path / f"{i:012x}"
        run_training_point(p, hand_model(), d)
        if serve:
            serve_beside_training(p, hand_model(), json.loads((d / "summary.json").read_text()), d / "serving.json")
        dirs.append(d)
        rows.append({"point_id": d.name, **{f"training.{k}": v for k, v in training.items()}})
    return training_summary(dirs, pd.DataFrame(rows))


def test_time_to_train_figure_plots_every_point_and_the_step_breakdown(tmp_path, drawn):
    variants = [({"dataset_tokens": t, "checkpoint": {"interval_steps": 5}}, g) for g in ((2, 2), (2, 4))
                for t in (10240, 20480)]
    summary = summary_of(tmp_path, variants)
    assert len(summary) == 4 and {"eoe_time_to_train_s", "package", "step_s", "compute_s"} <= set(summary.columns)
    frame = training_time_frame(summary)
    a = frame[frame["panel"] == "a"]
    assert sorted(a["series"].unique()) == ["2x2 of 128x128 arrays, 227k params/expert",
                                           "2x4 of 128x128 arrays, 227k params/expert"]
    for _, rows in a.groupby("series"):  # time to train is linear in the dataset (experts, checkpoints, router)
        assert rows["time_to_train_h"].iloc[1] == pytest.approx(2 * rows["time_to_train_h"].iloc[0])
    b = frame[frame["panel"] == "b"]
    assert len(b) == 2 * 6
    paths = plot_training_time(frame, tmp_path / "figures" / "training_time")
    assert all(p.exists() for p in paths.values())
    assert len(pd.read_csv(paths["csv"])) == len(frame)
    ax_a, ax_b = drawn[-1].get_axes()[:2]
    series = sorted(a["series"].unique())
    for name in series:
        x, hours = line_xy(ax_a, name)
        rows = a[a["series"] == name]
        assert x.tolist() == rows["dataset_tokens"].tolist() and hours == pytest.approx(rows["time_to_train_h"])
    drawn_parts = bar_values(ax_b)  # one barh call per step component, one bar per series
    per_part = b.pivot_table(index="component", columns="series", values="step_s", aggfunc="sum")
    per_part = per_part.loc[list(STEP_PARTS.values())]  # stacked in this order
    assert len(drawn_parts) == len(per_part)
    for widths, (_, row) in zip(drawn_parts, per_part.iterrows()):
        assert widths == pytest.approx(row[series].to_numpy())


def test_colocation_figure_compares_shared_and_split(tmp_path, drawn):
    variants = [({"dataset_tokens": 10240, "share": 0.5}, (2, 2)), ({"dataset_tokens": 10240, "chiplets": 2}, (2, 2))]
    frame = colocation_frame(summary_of(tmp_path, variants, serve=True))
    assert list(frame["arrangement"]) == ["shared", "split"]
    assert list(frame["serving_chiplet_equivalents"]) == [2.0, 2]
    shared, split = frame.iloc[0], frame.iloc[1]
    assert shared["serving_ttft_p99_s"] > split["serving_ttft_p99_s"]  # the serving chiplet is half busy
    assert (frame["serving_slo_attainment"] == 1.0).all()
    paths = plot_training_colocation(frame, tmp_path / "figures" / "training_colocation")
    assert all(p.exists() for p in paths.values())
    axes = drawn[-1].get_axes()[:3]
    for ax, column in zip(axes, ("training_tokens_per_s", "serving_ttft_p99_s", "serving_slo_attainment")):
        for name in ("shared", "split"):
            row = frame[frame["arrangement"] == name]
            x, y = line_xy(ax, name)
            assert x.tolist() == row["serving_chiplet_equivalents"].tolist() and y == pytest.approx(row[column])
