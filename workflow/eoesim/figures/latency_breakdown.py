"""Figure ``latency_breakdown``: where the mean request's end-to-end latency goes, per design point.

Data: the ``breakdown_<category>_s`` columns of ``e2e/summary.csv`` (see
``eoesim.stitch.summary.latency_breakdown``: critical-path attribution whose categories sum to the mean
e2e latency), labelled by the points' swept values. Top panel: stacked bars in ms (the stack's height
is the mean e2e latency); bottom panel: the same stack as a share of it, so the make-up of short bars
stays readable next to an overloaded point's tall one.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from eoesim.errors import ParseError
from eoesim.figures.style import PALETTE, new_figure, save_figure
from eoesim.serving.metrics import BREAKDOWN_CATEGORIES

#: legend names of the categories
CATEGORY_LABELS = {"routing": "routing", "expert_load": "expert load", "compute": "compute",
                   "memory": "memory (HBM-bound)", "network": "network", "composition": "composition",
                   "queueing": "queueing / wait"}
QUEUE_COLOUR = "#BBBBBB"
#: above this many points the figure is double-column wide
SINGLE_COLUMN_POINTS = 6
#: a bar taller than this many times the median bar is cut (its total written on it)
OUTLIER_FACTOR = 5.0


def breakdown_frame(summary: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Tidy rows (point, label, category, latency_s, e2e_latency_mean_s) in points.csv x category order."""
    cols = [f"breakdown_{c}_s" for c in BREAKDOWN_CATEGORIES]
    missing = [c for c in cols + ["e2e_latency_mean_s"] if c not in summary.columns]
    if missing:
        raise ParseError("e2e/summary.csv", f"missing columns {missing}; re-run rules stitch_e2e and summarize_e2e")
    by_point = summary.set_index("point")
    rows = []
    for pid, label in labels.items():
        if pid not in by_point.index:
            raise ParseError("e2e/summary.csv", f"no row of design point {pid}")
        rec = by_point.loc[pid]
        for c in BREAKDOWN_CATEGORIES:
            rows.append({"point": pid, "label": label, "category": c, "latency_s": float(rec[f"breakdown_{c}_s"]),
                         "e2e_latency_mean_s": float(rec["e2e_latency_mean_s"])})
    return pd.DataFrame(rows)


def _clip_outliers(ax, x: np.ndarray, totals_ms: np.ndarray) -> None:
    """Cut the y axis above the ordinary bars when a few are over OUTLIER_FACTOR x the median (an overloaded
    point would flatten the rest); a cut bar gets its total written above the cut."""
    median = float(np.median(totals_ms))
    ordinary = totals_ms[totals_ms <= OUTLIER_FACTOR * median]
    if median <= 0 or len(ordinary) == len(totals_ms):
        return
    top = 1.25 * float(ordinary.max())
    ax.set_ylim(0, top)
    for xi, t in zip(x, totals_ms):
        if t > top:
            ax.text(xi, top, f"{t / 1e3:.3g} s", ha="center", va="top", fontsize=7,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.6})


def _colour(i: int, category: str) -> str:
    return QUEUE_COLOUR if category == "queueing" else PALETTE[i % len(PALETTE)]


def plot_latency_breakdown(frame: pd.DataFrame, stem: Path | str) -> dict[str, Path]:
    labels = list(dict.fromkeys(frame["label"]))
    wide = len(labels) > SINGLE_COLUMN_POINTS
    fig, (ax_abs, ax_rel) = new_figure("double" if wide else "single", height_in=3.6, nrows=2, sharex=True)
    x = np.arange(len(labels))
    table = frame.pivot(index="label", columns="category", values="latency_s").loc[labels, list(BREAKDOWN_CATEGORIES)]
    total = table.sum(axis=1).to_numpy()
    share = 100 * table.to_numpy() / np.where(total > 0, total, 1)[:, None]
    bottom_abs = np.zeros(len(labels))
    bottom_rel = np.zeros(len(labels))
    for j, c in enumerate(BREAKDOWN_CATEGORIES):
        ms = 1e3 * table[c].to_numpy()
        style = {"color": _colour(j, c), "width": 0.7, "edgecolor": "white", "linewidth": 0.3,
                 "hatch": "///" if c == "queueing" else None}
        ax_abs.bar(x, ms, bottom=bottom_abs, label=CATEGORY_LABELS[c], **style)
        ax_rel.bar(x, share[:, j], bottom=bottom_rel, **style)
        bottom_abs += ms
        bottom_rel += share[:, j]
    _clip_outliers(ax_abs, x, 1e3 * total)
    ax_abs.set_ylabel("mean e2e latency (ms)")
    ax_rel.set_ylabel("share of latency (%)")
    ax_rel.set_ylim(0, 100)
    tilt = len(labels) > 3
    ax_rel.set_xticks(x, labels, rotation=30 if tilt else 0, ha="right" if tilt else "center",
                      rotation_mode="anchor")
    ax_rel.set_xlabel("design point")
    for ax in (ax_abs, ax_rel):
        ax.grid(axis="x", visible=False)
    fig.legend(*ax_abs.get_legend_handles_labels(), loc="outside upper center", ncol=4)
    return save_figure(fig, frame, stem)
