"""Figure 7: surrogate parity plots (held-out prediction vs real simulator result) and the error table.

The parity data come from :func:`eoesim.analysis.parity.heldout_predictions` (5-fold cross-validated,
never in-sample); the table from :func:`eoesim.analysis.accuracy.error_table` (the errors stored in
each pack, the ones ``benchmarks/surrogate_accuracy.py`` prints).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from eoesim.figures.style import FigureError, new_figure, save_figure, series_style

#: unit suffix of a metric column -> unit shown on the axis
UNITS = {"cycles": "cycles", "ns": "ns", "us": "µs", "GBps": "GB/s", "MBps": "MB/s", "pct": "%",
         "bits_per_cycle": "bit/cycle", "mm2": "mm²", "W": "W", "mW": "mW", "nJ": "nJ"}
#: metric names whose unit suffix is also the quantity's name
NAMES = {"total_cycles": "total cycles"}
#: parity axes switch to log scale when the data span more than this ratio
LOG_SPAN = 20.0


def split_metric(metric: str) -> tuple[str, str]:
    """``avg_read_latency_ns`` -> (``avg read latency``, ``ns``): the name without its unit suffix, the unit."""
    for suffix in sorted(UNITS, key=len, reverse=True):
        if metric.endswith("_" + suffix):
            name = NAMES.get(metric, metric[: -len(suffix) - 1].replace("_", " "))
            return name, UNITS[suffix]
    return metric.replace("_", " "), ""


def metric_label(metric: str) -> str:
    """``avg_read_latency_ns`` -> ``avg read latency (ns)``; ``total_cycles`` -> ``total cycles``."""
    name, unit = split_metric(metric)
    return f"{name} ({unit})" if unit and not name.endswith(unit) else name


def _pretty_number(value: float) -> str:
    return "–" if not math.isfinite(value) else (f"{value:.2f}" if value < 10 else f"{value:.1f}")


def plot_parity(data: pd.DataFrame, stem):
    """One panel per metric of one pack: held-out prediction vs simulated, filled = inside the domain."""
    if data.empty:
        raise FigureError(f"parity: no held-out prediction to plot for {stem}")
    metrics = list(dict.fromkeys(data["metric"]))
    fig, axes = new_figure("single", height_in=2.0 if len(metrics) > 1 else 2.6, ncols=len(metrics), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        rows = data[data["metric"] == metric]
        inside = rows["in_domain"].astype(bool).to_numpy()
        y, p = rows["measured"].to_numpy(float), rows["predicted_heldout"].to_numpy(float)
        style = series_style(0)
        ax.plot(y[~inside], p[~inside], linestyle="none", marker="o", markerfacecolor="none",
                markeredgecolor=series_style(1)["color"], markeredgewidth=0.7)
        ax.plot(y[inside], p[inside], linestyle="none", marker="o", color=style["color"], alpha=0.8)
        finite = np.concatenate([y, p])
        finite = finite[np.isfinite(finite)]
        lo, hi = finite.min(), finite.max()
        if lo > 0 and hi / lo > LOG_SPAN:
            ax.set_xscale("log")
            ax.set_yscale("log")
            lo, hi = lo / 1.8, hi * 1.3
        else:
            pad = 0.06 * (hi - lo or abs(hi) or 1.0)
            lo, hi = lo - pad, hi + pad
        ax.plot([lo, hi], [lo, hi], color="0.2", linestyle="--", linewidth=0.7, marker="none")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal", adjustable="box")
        name, unit = split_metric(metric)
        unit = f" ({unit})" if unit else ""
        ax.set_xlabel(f"simulated{unit}")
        ax.set_ylabel(f"surrogate{unit}")
        err = rows.loc[rows["in_domain"].astype(bool), "abs_pct_error"]
        stats = f"MAPE {err.mean():.2f}%" if len(err) else "no row in domain"
        ax.text(0.04, 0.96, name, transform=ax.transAxes, ha="left", va="top", fontsize=6.5)
        ax.text(0.96, 0.04, stats, transform=ax.transAxes, ha="right", va="bottom", fontsize=6.5)
    handles = [Line2D([], [], linestyle="none", marker="o", color=series_style(0)["color"], label="in domain"),
               Line2D([], [], linestyle="none", marker="o", markerfacecolor="none",
                      markeredgecolor=series_style(1)["color"], label="outside domain"),
               Line2D([], [], color="0.2", linestyle="--", linewidth=0.7, label="y = x")]
    fig.legend(handles=handles, loc="outside upper center", ncol=3, columnspacing=1.2, handlelength=1.5)
    return save_figure(fig, data, stem)


#: the table's columns: (CSV column, header)
TABLE_COLUMNS = (("pack", "pack"), ("metric", "metric"), ("n_cv", "n"), ("cv_mape_pct", "CV MAPE %"),
                 ("cv_max_ape_pct", "CV max %"), ("held_out_by", "held out by"),
                 ("held_out_mape_pct", "held-out MAPE %"), ("held_out_max_ape_pct", "held-out max %"))


def plot_error_table(table: pd.DataFrame, stem):
    """The error table as a figure (one row per pack and metric; primary metrics marked with *)."""
    if table.empty:
        raise FigureError("surrogate_errors: no surrogate pack to tabulate")
    cells = []
    for _, r in table.iterrows():
        metric = metric_label(r["metric"]) + (" *" if r["primary"] else "")
        metric += " (all rows)" if r["scope"] == "all_rows" else ""
        cells.append([r["pack"], metric, str(int(r["n_cv"])), _pretty_number(r["cv_mape_pct"]),
                      _pretty_number(r["cv_max_ape_pct"]), str(r["held_out_by"]).replace("_", " ") or "–",
                      _pretty_number(r["held_out_mape_pct"]), _pretty_number(r["held_out_max_ape_pct"])])
    fig, ax = new_figure("double", height_in=0.3 + 0.15 * (len(cells) + 1))
    ax.axis("off")
    tab = ax.table(cellText=cells, colLabels=[h for _, h in TABLE_COLUMNS], loc="center", cellLoc="left",
                   colLoc="left", edges="horizontal")
    tab.auto_set_font_size(False)
    tab.set_fontsize(6.5)
    tab.auto_set_column_width(list(range(len(TABLE_COLUMNS))))
    for (row, _), cell in tab.get_celld().items():
        cell.set_height(1.0 / (len(cells) + 1))
        cell.set_linewidth(0.4)
        if row == 0:
            cell.set_text_props(fontweight="bold")
    return save_figure(fig, table, stem)
