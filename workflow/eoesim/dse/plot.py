"""Figure pareto: latency vs energy per token of every design point, the Pareto front highlighted and
labelled, refined points (simulate fidelity) joined to their sweep estimate by a line.

The plotted data (one row per marker: every point's sweep estimate, and the refined value of each refined
point) is what :func:`plot_data` returns and what the figure's CSV holds. RapidChiplet's chiplet area,
when the table has it, sets the marker size if it differs between points, else the legend states it.

Front points are numbered next to their markers (a number fits where a label would not) and the key
below the axes gives each number's swept values, so labels never overlap data or each other.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.transforms import Bbox

from eoesim.dse.objectives import AREA_OBJECTIVE, ENERGY_OBJECTIVE, LABELS, latency_objective
from eoesim.figures.style import PALETTE, new_figure, save_figure

MAX_LABELS = 8
#: number offsets tried in turn (points from the marker centre) with the alignment that keeps the text off it
OFFSETS = [((4, 3), "left", "bottom"), ((-4, 3), "right", "bottom"), ((4, -3), "left", "top"),
           ((-4, -3), "right", "top"), ((0, 6), "center", "bottom"), ((0, -6), "center", "top"),
           ((8, 8), "left", "bottom"), ((-8, 8), "right", "bottom"), ((8, -8), "left", "top"),
           ((-8, -8), "right", "top"), ((0, 13), "center", "bottom"), ((0, -13), "center", "top")]
SWEEP, REFINED = "sweep", "refined"
ENERGY_MJ = "energy_per_token_mj"


def plot_data(table: pd.DataFrame) -> pd.DataFrame:
    """One row per plotted marker: point_id, label, estimate (sweep | refined), pareto, latency, area when
    the table has it, and energy per token in mJ."""
    latency = latency_objective(list(table.columns))
    cols = [latency, ENERGY_OBJECTIVE] + ([AREA_OBJECTIVE] if AREA_OBJECTIVE in table.columns else [])
    frames = []
    for estimate, suffix, rows in ((SWEEP, "", table), (REFINED, "_refined", table[table["refined"]])):
        frame = rows[["point_id", "label", "pareto"]].copy()
        frame.insert(2, "estimate", estimate)
        for c in cols:
            frame[c] = rows[f"{c}{suffix}"].to_numpy(dtype=float)
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    data[ENERGY_MJ] = data.pop(ENERGY_OBJECTIVE) * 1e3
    return data


def labelled_points(front: pd.DataFrame, refined_ids, latency: str) -> pd.DataFrame:
    """The front points that get a number: refined ones first, then by latency; at most MAX_LABELS,
    numbered in order of latency."""
    chosen = front.assign(_refined=front["point_id"].isin(list(refined_ids)))
    chosen = chosen.sort_values(["_refined", latency], ascending=[False, True]).head(MAX_LABELS)
    return chosen.drop(columns="_refined").sort_values(latency)


def _place_numbers(fig, ax, points: pd.DataFrame, latency: str, marker_boxes) -> None:
    """Put each point's number at the first offset clear of the other numbers and of every marker, else
    at the first offset clear of the other numbers."""
    renderer = fig.canvas.get_renderer()
    placed = []
    for number, (_, row) in enumerate(points.iterrows(), start=1):
        fallback = chosen = None
        for offset, ha, va in OFFSETS:
            text = ax.annotate(str(number), (row[latency], row[ENERGY_MJ]), xytext=offset, textcoords="offset points",
                               ha=ha, va=va, fontsize=6.5, fontweight="bold", color=PALETTE[0], zorder=5)
            text.set_in_layout(False)
            box = text.get_window_extent(renderer).expanded(1.1, 1.1)
            if any(box.overlaps(b) for b in placed):
                text.remove()
            elif not any(box.overlaps(b) for b in marker_boxes):
                chosen = (text, box)
                break
            elif fallback is None:
                fallback = (text, box)
            else:
                text.remove()
        if chosen and fallback:
            fallback[0].remove()
        if chosen or fallback:
            placed.append((chosen or fallback)[1])


def pareto_figure(table: pd.DataFrame, stem: Path | str) -> dict[str, Path]:
    """Draw figure pareto from ``dse/pareto.csv`` and write ``stem``.pdf/.png/.csv."""
    data = plot_data(table)
    latency = latency_objective(list(data.columns))
    sweep = data[data["estimate"] == SWEEP]
    refined = data[data["estimate"] == REFINED]
    front = sweep[sweep["pareto"]]
    numbered = labelled_points(front, refined["point_id"], latency)
    fig, ax = new_figure("single", height_in=2.3 + 0.13 * len(numbered) + 0.3)
    has_area = AREA_OBJECTIVE in data.columns
    varies = has_area and data[AREA_OBJECTIVE].nunique() > 1
    if varies:
        area = data[AREA_OBJECTIVE]
        sizes = 12 + 60 * (area - area.min()) / (area.max() - area.min())
    else:
        sizes = pd.Series(18.0, index=data.index)
    others = sweep[~sweep["pareto"]]
    ax.scatter(others[latency], others[ENERGY_MJ], s=sizes[others.index], facecolors="none",
               edgecolors="0.45", linewidths=0.7, marker="o", zorder=2)
    ax.scatter(front[latency], front[ENERGY_MJ], s=sizes[front.index] * 1.6, color=PALETTE[0], marker="o", zorder=3)
    handles = [Line2D([], [], ls="none", marker="o", mfc="none", mec="0.45", label="Design point"),
               Line2D([], [], ls="none", marker="o", color=PALETTE[0], label="Pareto front")]
    if not refined.empty:
        base = sweep.set_index("point_id")
        for _, row in refined.iterrows():
            ax.plot([base.at[row["point_id"], latency], row[latency]],
                    [base.at[row["point_id"], ENERGY_MJ], row[ENERGY_MJ]],
                    color=PALETTE[1], lw=0.7, ls="--", marker="none", zorder=2)
        ax.scatter(refined[latency], refined[ENERGY_MJ], s=sizes[refined.index] * 3.2, facecolors="none",
                   edgecolors=PALETTE[1], linewidths=1.0, marker="D", zorder=4)
        handles.append(Line2D([], [], ls="--", lw=0.7, marker="D", mfc="none", mec=PALETTE[1], color=PALETTE[1],
                              label="Refined (simulate)"))
    if varies:
        lo, hi = data[AREA_OBJECTIVE].min(), data[AREA_OBJECTIVE].max()
        handles.append(Line2D([], [], ls="none", marker="o", color="0.6", label=f"Size: area {lo:.0f}–{hi:.0f} mm²"))
    elif has_area:
        handles.append(Line2D([], [], ls="none", marker="none",
                              label=f"Area {data[AREA_OBJECTIVE].iloc[0]:.0f} mm² (all points)"))
    values = data[latency]
    if values.min() > 0 and values.max() / values.min() > 20:
        ax.set_xscale("log")
    ax.set_xlabel(LABELS[latency])
    ax.set_ylabel(LABELS[ENERGY_OBJECTIVE])
    ax.margins(x=0.08, y=0.15)
    fig.legend(handles=handles, loc="outside upper center", ncols=2, handletextpad=0.4, columnspacing=1.2)
    key = [Line2D([], [], ls="none", marker=f"${i}$", color=PALETTE[0], markersize=4.5, label=row["label"])
           for i, (_, row) in enumerate(numbered.iterrows(), start=1)]
    if key:
        fig.legend(handles=key, loc="outside lower center", ncols=1, handletextpad=0.3, labelspacing=0.2,
                   fontsize=6.5)
    fig.canvas.draw()
    xy = ax.transData.transform(data[[latency, ENERGY_MJ]].to_numpy())
    r = 3.0 * fig.dpi / 72
    _place_numbers(fig, ax, numbered, latency, [Bbox([[x - r, y - r], [x + r, y + r]]) for x, y in xy])
    number = {pid: i for i, pid in enumerate(numbered["point_id"], start=1)}
    data["number"] = data["point_id"].map(number).where(data["estimate"] == SWEEP).astype("Int64")
    return save_figure(fig, data, stem)
