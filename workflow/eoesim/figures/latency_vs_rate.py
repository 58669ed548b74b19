"""Figure ``latency_vs_rate``: median TTFT, median TPOT and p99 e2e latency vs offered request rate.

One line per design point (its ``e2e/<point>/load_curve.csv``, see ``eoesim.stitch.load_curve``), log-log
so the knee - where queueing takes over as the rate nears the point's bottleneck capacity - shows as the
bend from flat to steep. The study's own rate is a dotted vertical line.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from eoesim.errors import ParseError
from eoesim.figures.style import LINESTYLES, MARKERS, PALETTE, new_figure, plain_log_axis, save_figure

#: (column of load_curve.csv, y label)
METRICS = (("ttft_p50_s", "TTFT p50 (ms)"), ("tpot_p50_s", "TPOT p50 (ms)"),
           ("e2e_latency_p99_s", "e2e latency p99 (ms)"))
COLUMNS = ("point", "rate_per_s", "study_rate", "requests", "throughput_requests_per_s") + tuple(m for m, _ in METRICS)


def line_style(colour: int, shape: int) -> dict:
    """Colour from the palette, marker and dash together (see point_labels.point_styles)."""
    return {"color": PALETTE[colour % len(PALETTE)], "marker": MARKERS[shape % len(MARKERS)],
            "linestyle": LINESTYLES[shape % len(LINESTYLES)]}


def curve_frame(curves: list[pd.DataFrame], labels: dict[str, str]) -> pd.DataFrame:
    """The plotted columns of every point's load curve plus its label, in points.csv order."""
    frames = []
    for curve in curves:
        missing = [c for c in COLUMNS if c not in curve.columns]
        if missing:
            raise ParseError("load_curve.csv", f"missing columns {missing}; re-run rule load_curve")
        frames.append(curve[list(COLUMNS)])
    frame = pd.concat(frames, ignore_index=True)
    unknown = sorted(set(frame["point"]) - set(labels))
    if unknown:
        raise ParseError("load_curve.csv", f"design points {unknown} are not in points.csv")
    frame.insert(1, "label", frame["point"].map(labels))
    order = {pid: i for i, pid in enumerate(labels)}
    return frame.sort_values(["point", "rate_per_s"], key=lambda s: s.map(order) if s.name == "point" else s,
                             ignore_index=True)


def plot_latency_vs_rate(frame: pd.DataFrame, styles: dict[str, tuple[int, int]], stem: Path | str) -> dict[str, Path]:
    """``styles``: point -> (colour, shape) indices (point_labels.point_styles)."""
    fig, axes = new_figure("double", height_in=2.5, ncols=len(METRICS))
    study_rates = sorted(set(frame.loc[frame["study_rate"].astype(bool), "rate_per_s"]))
    for pid, curve in frame.groupby("point", sort=False):
        for ax, (col, _) in zip(axes, METRICS):
            y = 1e3 * curve[col].to_numpy(dtype=float)
            ok = np.isfinite(y) & (y > 0)
            ax.plot(curve["rate_per_s"].to_numpy()[ok], y[ok], label=curve["label"].iloc[0], **line_style(*styles[pid]))
    for ax, (_, ylabel) in zip(axes, METRICS):
        plain_log_axis(ax, "x")
        plain_log_axis(ax, "y")
        ax.set_xlabel("request rate (req/s)")
        ax.set_ylabel(ylabel)
        for r in study_rates:
            ax.axvline(r, color="0.4", linestyle=":", linewidth=0.8, marker="")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=min(len(names), 5), handlelength=2.6)
    return save_figure(fig, frame, stem)
