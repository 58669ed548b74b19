"""Figure 4: Ramulator 2 achieved bandwidth and average read latency vs offered load per memory standard.

Real runs are markers: the shipped Ramulator 2 calibration runs (``analysis/calibration/ramulator2``)
of the study's memory configuration (access pattern, channel count, read fraction; the dataset's
sequential / most channels / reads-only one when the study has no memory rows or a configuration the
dataset lacks) plus the study's own Ramulator runs (``fidelity == simulate``) if any. The calibrated
surrogate is a line per standard, dotted where it is outside its validated domain (the knee at the
bandwidth ceiling). Offered and achieved bandwidth are totals over all channels.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

from eoesim.analysis.surrogate import OutOfDomainWarning, Surrogate
from eoesim.figures.components import STUDY_SOURCE, calibration_source, key_handles, plot_domain_line, simulated_rows
from eoesim.figures.style import FigureError, new_figure, save_figure, series_style

CONFIG = ("pattern", "channels", "read_fraction")
OFFERED = "offered_bandwidth_GBps"
ACHIEVED = "achieved_bandwidth_GBps"
LATENCY = "avg_read_latency_ns"
LOAD = "offered_load_frac_of_peak"
CALIBRATION_DATASET = "analysis/calibration/ramulator2/calibration.csv"
#: the surrogate lines span these offered loads (fraction of the peak bandwidth)
LINE_LOADS = np.linspace(0.05, 1.15, 111)


def calibration_points(raw: pd.DataFrame) -> pd.DataFrame:
    """The Ramulator 2 calibration runs in the figure's columns."""
    out = raw[["standard", *CONFIG, LOAD, OFFERED, ACHIEVED, LATENCY]].copy()
    out["source"] = calibration_source("Ramulator 2", CALIBRATION_DATASET)
    return out.reset_index(drop=True)


def study_points(table: pd.DataFrame | None) -> pd.DataFrame:
    """The study's own Ramulator runs (one row per run: the system columns repeat on every channel row)."""
    rows = simulated_rows(table)
    if rows.empty:
        return rows
    rows = rows.drop_duplicates("run_id")
    peak = rows["peak_bandwidth_bytes_per_s"].astype(float)
    offered = rows["offered_bandwidth_bytes_per_s"].astype(float)
    return pd.DataFrame({
        "standard": rows["standard"], "pattern": rows["pattern"], "channels": rows["num_channels"].astype(int),
        "read_fraction": rows["read_fraction"].astype(float), LOAD: offered / peak, OFFERED: offered / 1e9,
        ACHIEVED: rows["system_achieved_bandwidth_bytes_per_s"].astype(float) / 1e9,
        LATENCY: rows["system_avg_read_latency_ns"].astype(float), "source": STUDY_SOURCE,
    }).reset_index(drop=True)


def study_config(table: pd.DataFrame | None) -> tuple | None:
    """(pattern, channels, read fraction) of the study's first memory row, in either table layout."""
    if table is None or table.empty:
        return None
    row = table.iloc[0]
    channels = row["channels"] if "channels" in row.index else row.get("num_channels")
    if channels is None or "pattern" not in row.index or "read_fraction" not in row.index:
        return None
    return str(row["pattern"]), int(channels), float(row["read_fraction"])


def measured_points(table: pd.DataFrame | None, raw: pd.DataFrame) -> pd.DataFrame:
    """Calibration runs of the study's memory configuration plus the study's own real runs."""
    cal = calibration_points(raw)
    keys = list(zip(cal["pattern"], cal["channels"].astype(int), cal["read_fraction"].astype(float)))
    config = study_config(table)
    if config not in set(keys):
        config = min(set(keys), key=lambda k: (k[0] != "sequential", -k[1], -k[2]))
    cal = cal[[k == config for k in keys]]
    study = study_points(table)
    return pd.concat([cal, study], ignore_index=True) if not study.empty else cal.reset_index(drop=True)


def surrogate_curves(model: Surrogate, points: pd.DataFrame) -> pd.DataFrame:
    """Per (standard, pattern, channels, read fraction) of ``points``: surrogate bandwidth and latency."""
    parts = []
    for _, g in points[["standard", *CONFIG]].drop_duplicates().iterrows():
        grid = pd.DataFrame({c: g[c] for c in ("standard", *CONFIG)}, index=range(len(LINE_LOADS)))
        grid[LOAD] = LINE_LOADS
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfDomainWarning)
            pred = model.predict(grid)
        grid[OFFERED] = LINE_LOADS * pred["peak_bandwidth_GBps"].to_numpy(float)
        grid[ACHIEVED] = pred[ACHIEVED].to_numpy(float)
        grid[LATENCY] = pred[LATENCY].to_numpy(float)
        grid["in_domain"] = pred["in_domain"].to_numpy(bool)
        parts.append(grid)
    return pd.concat(parts, ignore_index=True)


def figure_data(points: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """The tidy plotted data: measured markers and surrogate lines (``kind``)."""
    cols = ["kind", "source", "standard", *CONFIG, LOAD, OFFERED, ACHIEVED, LATENCY, "in_domain"]
    return pd.concat([points.assign(kind="measured", in_domain=np.nan),
                      curves.assign(kind="surrogate", source="surrogate ramulator pack")],
                     ignore_index=True).reindex(columns=cols)


def plot(data: pd.DataFrame, stem):
    """Draw figure 4 (bandwidth above, latency below, shared offered-load axis) and write it at ``stem``."""
    if data.empty or not (data["kind"] == "measured").any():
        raise FigureError("memory_load: no real Ramulator run to plot")
    standards = sorted(data["standard"].unique())
    fig, (ax_bw, ax_lat) = new_figure("single", height_in=3.6, nrows=2, sharex=True)
    for i, standard in enumerate(standards):
        style = series_style(i)
        sel = data["standard"] == standard
        pts = data[sel & (data["kind"] == "measured")]
        line = data[sel & (data["kind"] == "surrogate")]
        for ax, col in ((ax_bw, ACHIEVED), (ax_lat, LATENCY)):
            ax.plot(pts[OFFERED], pts[col], color=style["color"], marker=style["marker"], linestyle="none")
            plot_domain_line(ax, line[OFFERED].to_numpy(), line[col].to_numpy(),
                             line["in_domain"].astype(bool).to_numpy(), style["color"])
    ax_bw.set_ylabel("achieved bandwidth (GB/s)")
    ax_lat.set_ylabel("avg. read latency (ns)")
    ax_lat.set_yscale("log")
    ax_lat.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax_lat.yaxis.set_major_formatter(ScalarFormatter())
    ax_lat.yaxis.set_minor_formatter(NullFormatter())
    ax_lat.set_xlabel("offered load (GB/s)")
    ax_bw.set_xlim(left=0)
    ax_bw.set_ylim(bottom=0)
    measured = data[data["kind"] == "measured"]
    config = measured.iloc[0]
    ax_bw.text(0.03, 0.97, f"{config['pattern']}, {int(config['channels'])} ch, "
                           f"{config['read_fraction']:.0%} reads", transform=ax_bw.transAxes, ha="left", va="top",
               fontsize=7)
    ax_lat.legend(handles=[Line2D([], [], color=series_style(i)["color"], marker=series_style(i)["marker"],
                                  label=s) for i, s in enumerate(standards)], loc="lower right", ncol=2)
    label = "Ramulator 2 run" + (" (study)" if (measured["source"] == STUDY_SOURCE).all() else "")
    fig.legend(handles=key_handles(label), loc="outside upper center", ncol=2)
    return save_figure(fig, data, stem)
