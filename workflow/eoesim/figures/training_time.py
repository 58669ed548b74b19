"""Figure ``training_time``: how long training the EoE takes, against dataset size, expert size and package.

Data: ``training/summary.csv``. Panel (a): the EoE's time to train (all experts and the routers) against the
dataset tokens per expert, log-log, one line per (package grid, expert size). Panel (b): where one optimizer
step of an expert goes (compute, exposed memory, network, pipeline bubble, checkpoint stall, data stall) for
the same series, at the smallest dataset size (a step does not depend on the dataset size). The CSV holds
every plotted value with its panel.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from eoesim.errors import ParseError
from eoesim.figures.style import PALETTE, FigureError, new_figure, save_figure, series_style

STEP_PARTS = {"compute_s": "compute", "memory_s": "memory", "network_s": "network",
              "pipeline_bubble_s": "pipeline bubble", "checkpoint_stall_s": "checkpoint", "data_stall_s": "data"}
NEEDED = ["point_id", "package", "params", "dataset_tokens", "eoe_time_to_train_s", "step_s", *STEP_PARTS]
HOUR_S = 3600.0


def count_label(n: float) -> str:
    """``226k``, ``163M``, ``1.1B``: three significant digits."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g}{suffix}"
    return f"{n:.3g}"


def series_label(package: str, params: float) -> str:
    return f"{package}, {count_label(params)} params/expert"


def training_time_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """Tidy rows: panel a (series, dataset tokens, EoE hours) and panel b (series, step component, seconds)."""
    missing = [c for c in NEEDED if c not in summary.columns]
    if missing:
        raise ParseError("training/summary.csv", f"missing columns {missing}; re-run rule summarize_training")
    if summary.empty:
        raise FigureError("figure training_time: no design point of the study trains")
    frame = summary.assign(series=[series_label(p, n) for p, n in zip(summary["package"], summary["params"])])
    rows = []
    per_point = frame.drop_duplicates("point_id")
    for series, grp in per_point.groupby("series", sort=True):
        for rec in grp.sort_values("dataset_tokens").to_dict("records"):
            rows.append({"panel": "a", "series": series, "dataset_tokens": rec["dataset_tokens"],
                         "time_to_train_h": rec["eoe_time_to_train_s"] / HOUR_S})
        first = frame[frame["point_id"] == grp.sort_values("dataset_tokens")["point_id"].iloc[0]].iloc[0]
        for col, part in STEP_PARTS.items():
            rows.append({"panel": "b", "series": series, "component": part, "step_s": float(first[col])})
    return pd.DataFrame(rows)


def plot_training_time(frame: pd.DataFrame, stem: Path | str) -> dict[str, Path]:
    if frame.empty:
        raise FigureError("figure training_time: no design point of the study trains")
    fig, (ax_a, ax_b) = new_figure("double", height_in=2.8, ncols=2)
    a = frame[frame["panel"] == "a"]
    series = sorted(a["series"].unique())
    for i, name in enumerate(series):
        rows = a[a["series"] == name]
        ax_a.plot(rows["dataset_tokens"], rows["time_to_train_h"], label=name, **series_style(i))
    ax_a.set_xscale("log")
    ax_a.set_yscale("log")
    ax_a.set_xlabel("Dataset per expert (tokens)")
    ax_a.set_ylabel("Time to train the EoE (h)")
    ax_a.legend(frameon=False, fontsize=7)
    b = frame[frame["panel"] == "b"]
    parts = list(STEP_PARTS.values())
    y = np.arange(len(series))
    left = np.zeros(len(series))
    for j, part in enumerate(parts):
        widths = np.array([float(b[(b["series"] == s) & (b["component"] == part)]["step_s"].sum()) for s in series])
        ax_b.barh(y, widths, left=left, color=PALETTE[j % len(PALETTE)], label=part)
        left += widths
    ax_b.set_yticks(y, series, fontsize=7)
    ax_b.set_xlabel("Time per optimizer step (s)")
    ax_b.legend(frameon=False, fontsize=7, loc="lower right")
    return save_figure(fig, frame, stem)
