"""Figure ``training_colocation``: one package for training and serving together, or split between them.

Data: ``training/summary.csv``. x: the serving capacity left, in chiplet-equivalents - shared: every chiplet
serves (1 - ``training.share``) of its time; split: the chiplets not given to training. Panel (a): the EoE
training throughput (tokens/s) the training job achieves with the rest; panel (b): the serving job's p99 time to
first token beside it (from ``serving.json``, the serving engine run with the training's background load); panel
(c): the share of serving requests meeting ``serving.slo``. One line per arrangement (shared, split). The CSV holds
every plotted value and the serving SLO attainment (share of requests meeting ``serving.slo``) with the SLO used.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from eoesim.errors import ParseError
from eoesim.figures.style import FigureError, new_figure, save_figure, series_style

NEEDED = ["point_id", "share", "serving_chiplets", "package_chiplets", "eoe_tokens_per_s", "serving_ttft_p99_s",
          "serving_slo_attainment", "serving_slo_ttft_s", "serving_slo_tpot_s"]


def colocation_frame(summary: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in NEEDED if c not in summary.columns]
    if missing:
        raise ParseError("training/summary.csv", f"missing columns {missing}; re-run rules serve_beside_training and "
                                                 "summarize_training")
    rows = []
    for rec in summary.drop_duplicates("point_id").to_dict("records"):
        if pd.isna(rec["serving_ttft_p99_s"]):
            continue  # the package does not serve at this point
        shared = rec["share"] < 1
        capacity = rec["package_chiplets"] * (1 - rec["share"]) if shared else rec["serving_chiplets"]
        rows.append({"point_id": rec["point_id"], "arrangement": "shared" if shared else "split",
                     "training_share": rec["share"], "serving_chiplet_equivalents": capacity,
                     "training_tokens_per_s": rec["eoe_tokens_per_s"], "serving_ttft_p99_s": rec["serving_ttft_p99_s"],
                     "serving_slo_attainment": rec["serving_slo_attainment"],
                     "serving_slo_ttft_s": rec["serving_slo_ttft_s"], "serving_slo_tpot_s": rec["serving_slo_tpot_s"]})
    if not rows:
        raise FigureError("figure training_colocation: no design point shares its package between training and serving")
    return pd.DataFrame(rows).sort_values(["arrangement", "serving_chiplet_equivalents"], ignore_index=True)


def plot_training_colocation(frame: pd.DataFrame, stem: Path | str) -> dict[str, Path]:
    fig, (ax_a, ax_b, ax_c) = new_figure("double", height_in=2.6, ncols=3)
    for i, (name, rows) in enumerate(frame.groupby("arrangement", sort=True)):
        x = rows["serving_chiplet_equivalents"]
        ax_a.plot(x, rows["training_tokens_per_s"], label=name, **series_style(i))
        ax_b.plot(x, rows["serving_ttft_p99_s"], label=name, **series_style(i))
        ax_c.plot(x, rows["serving_slo_attainment"], label=name, **series_style(i))
    for ax in (ax_a, ax_b, ax_c):
        ax.set_xlabel("Serving capacity left (chiplet-equivalents)")
        ax.set_ylim(bottom=0)
    ax_a.set_ylabel("Training throughput (tokens/s)")
    ax_b.set_ylabel("Serving p99 TTFT (s)")
    ax_c.set_ylabel("Serving SLO attainment")
    ax_c.set_ylim(0, 1.05)
    ax_a.legend(frameon=False)
    return save_figure(fig, frame, stem)
