"""Figure ``training_colocation``: one package for training and serving together, or split between them.

Data: ``training/summary.csv``. x: the serving capacity left, in chiplet-equivalents - shared: every chiplet
serves (1 - ``training.share``) of its time; split: the chiplets not given to training. y: the EoE training
throughput (tokens/s) the training job achieves with the rest. One line per arrangement (shared, split). The
CSV holds every plotted value.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from eoesim.errors import ParseError
from eoesim.figures.style import FigureError, new_figure, save_figure, series_style

NEEDED = ["point_id", "share", "serving_chiplets", "package_chiplets", "eoe_tokens_per_s"]


def colocation_frame(summary: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in NEEDED if c not in summary.columns]
    if missing:
        raise ParseError("training/summary.csv", f"missing columns {missing}; re-run rule summarize_training")
    rows = []
    for rec in summary.drop_duplicates("point_id").to_dict("records"):
        shared = rec["share"] < 1
        capacity = rec["package_chiplets"] * (1 - rec["share"]) if shared else rec["serving_chiplets"]
        rows.append({"point_id": rec["point_id"], "arrangement": "shared" if shared else "split",
                     "training_share": rec["share"], "serving_chiplet_equivalents": capacity,
                     "training_tokens_per_s": rec["eoe_tokens_per_s"]})
    return pd.DataFrame(rows).sort_values(["arrangement", "serving_chiplet_equivalents"], ignore_index=True)


def plot_training_colocation(frame: pd.DataFrame, stem: Path | str) -> dict[str, Path]:
    if frame.empty:
        raise FigureError("figure training_colocation: no design point of the study trains")
    fig, ax = new_figure("single")
    for i, (name, rows) in enumerate(frame.groupby("arrangement", sort=True)):
        ax.plot(rows["serving_chiplet_equivalents"], rows["training_tokens_per_s"], label=name, **series_style(i))
    ax.set_xlabel("Serving capacity left (chiplet-equivalents)")
    ax.set_ylabel("Training throughput (tokens/s)")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False)
    return save_figure(fig, frame, stem)
