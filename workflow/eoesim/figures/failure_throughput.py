"""Figure failure_throughput: completed requests per second over time around a failure, per design point.

One line per design point with failures (its ``summary["failure"]["throughput_over_time"]``), the same
requests stitched without the failure as a thin grey line, and a vertical line at the first failure
(time 0). A point is labelled by its swept values (points.csv), e.g. ``policy=spare``. The CSV holds every
plotted value: point, label, series (with_failure | without_failure), bin start and centre relative to the
failure, and the throughput.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from eoesim.figures.style import FigureError, new_figure, save_figure, series_style

SERIES = {"with_failure": "requests_per_s", "without_failure": "no_failure_requests_per_s"}


def point_labels(points: pd.DataFrame) -> dict[str, str]:
    """point id -> ``key=value, ...`` of its swept values (last part of each dotted key), else the id."""
    swept = [c for c in points.columns if c != "point_id" and not c.endswith("_run_id")]
    labels = {}
    for row in points.to_dict("records"):
        parts = [f"{c.rsplit('.', 1)[-1]}={row[c]}" for c in swept]
        labels[str(row["point_id"])] = ", ".join(parts) or str(row["point_id"])
    return labels


def failure_throughput_frame(summaries: Mapping[str, Mapping[str, Any]], points: pd.DataFrame) -> pd.DataFrame:
    """Tidy rows of every point that has failures (``summaries``: point id -> summary.json content)."""
    labels = point_labels(points)
    rows = []
    for pid, summary in summaries.items():
        failure = summary.get("failure")
        if not failure:
            continue
        tf, bin_s = failure["first_failure_s"], failure["bin_s"]
        series = failure["throughput_over_time"]
        for name, key in SERIES.items():
            for start, value in zip(series["bin_start_s"], series[key]):
                rows.append({"point": pid, "label": labels.get(pid, pid), "series": name,
                             "bin_start_from_failure_s": start - tf, "time_from_failure_s": start - tf + bin_s / 2,
                             "throughput_requests_per_s": value})
    return pd.DataFrame(rows)


def plot_failure_throughput(frame: pd.DataFrame, stem: Path | str) -> dict[str, Path]:
    if frame.empty:
        raise FigureError("figure failure_throughput: no design point of the study has failures")
    fig, ax = new_figure("single")
    for i, (label, rows) in enumerate(frame.groupby("label", sort=True)):
        base = rows[rows["series"] == "without_failure"]
        ax.plot(base["time_from_failure_s"], base["throughput_requests_per_s"], color="0.6", linewidth=0.8,
                marker="", linestyle="-", label="without failure" if i == 0 else None, zorder=1)
        with_f = rows[rows["series"] == "with_failure"]
        style = {**series_style(i), "marker": ""}
        ax.plot(with_f["time_from_failure_s"], with_f["throughput_requests_per_s"], label=label, zorder=2,
                **style)
    ax.axvline(0.0, color="black", linewidth=0.8, linestyle=":", label="failure", zorder=3)
    ax.set_xlabel("Time from failure (s)")
    ax.set_ylabel("Throughput (requests/s)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    return save_figure(fig, frame, stem)
