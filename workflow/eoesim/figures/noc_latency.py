"""Figure 3: gem5 Garnet average packet latency vs injection rate per mesh and traffic pattern.

Real runs are markers: the study's own gem5 runs (``fidelity == simulate``) when it has any, else the
gem5 runs of the shipped calibration dataset (``analysis/calibration/garnet``), restricted to the
router design (VCs, link and router latency) the study uses when the dataset has it. Only
steady-state runs are plotted (gem5 reports a run-length-dependent latency above saturation; see
``surrogate_garnet.training_frame``). The calibrated surrogate is a line per (mesh, pattern), and
its fitted saturation injection rate is a dashed vertical line. Packets are single flits, so
packets/node/cycle = flits/node/cycle.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from eoesim.analysis.surrogate import OutOfDomainWarning, Surrogate
from eoesim.analysis.surrogate_garnet import MAX_LOAD_FRACTION, training_frame
from eoesim.figures.components import STUDY_SOURCE, calibration_source, key_handles, plot_domain_line, simulated_rows
from eoesim.figures.style import FigureError, new_figure, save_figure, series_style

RATE = "injection_rate_flits_per_node_per_cycle"
LATENCY = "avg_packet_latency_cycles"
DESIGN = ("vcs_per_vnet", "link_latency", "router_latency")
CURVE = ("mesh_rows", "mesh_cols", "pattern")
#: the surrogate line ends at this fraction of the fitted saturation rate (latency diverges at 1)
LINE_END = 0.97
LINE_POINTS = 80
SATURATION_LINE = (0, (4, 2))
CALIBRATION_DATASET = "analysis/calibration/garnet/calibration.csv"


def calibration_points(raw: pd.DataFrame) -> pd.DataFrame:
    """The steady-state gem5 runs of the calibration dataset on a plain XY mesh (not its chiplet packages), in the
    figure's columns."""
    frame = training_frame(raw)
    frame = frame[~frame["saturated"].astype(bool) & frame[LATENCY].notna() & (frame["topology"] == "Mesh_XY")]
    out = frame[list(CURVE) + list(DESIGN)].copy()
    out[RATE] = frame["injection_rate"].to_numpy(float)
    out[LATENCY] = frame[LATENCY].to_numpy(float)
    out["source"] = calibration_source("gem5 Garnet", CALIBRATION_DATASET)
    return out.reset_index(drop=True)


def study_points(table: pd.DataFrame | None) -> pd.DataFrame:
    """The study's own steady-state gem5 Garnet runs on a square XY mesh (the network total rows)."""
    rows = simulated_rows(table)
    if rows.empty:
        return rows
    if "vnet" in rows:
        rows = rows[rows["vnet"] == "all"]
    if "topology" in rows:
        rows = rows[rows["topology"] == "Mesh_XY"]
    if "saturated" in rows:
        rows = rows[~rows["saturated"].fillna(False).astype(bool)]
    out = pd.DataFrame({
        "mesh_rows": rows["mesh_rows"].astype(int),
        "mesh_cols": (rows["num_cpus"] // rows["mesh_rows"]).astype(int),
        "pattern": rows["synthetic"],
        "vcs_per_vnet": rows["vcs_per_vnet"], "link_latency": rows["link_latency_cycles"],
        "router_latency": rows["router_latency_cycles"],
        RATE: rows["injection_rate"].astype(float), LATENCY: rows["average_packet_latency_cycles"].astype(float),
        "source": STUDY_SOURCE,
    })
    return out.reset_index(drop=True)


def _study_design(table: pd.DataFrame | None) -> tuple | None:
    """(vcs, link latency, router latency) of the study's first garnet row, in either table layout."""
    if table is None or table.empty:
        return None
    row = table.iloc[0]
    names = [(c, f"{c}_cycles") for c in DESIGN]
    try:
        return tuple(float(row[a] if a in row.index else row[b]) for a, b in names)
    except KeyError:
        return None


def measured_points(table: pd.DataFrame | None, raw: pd.DataFrame) -> pd.DataFrame:
    """The study's real runs if any, else the calibration runs of the study's router design.

    Without the study's design in the dataset, the dataset's most frequent design is used.
    """
    study = study_points(table)
    if not study.empty:
        return study
    cal = calibration_points(raw)
    keys = cal[list(DESIGN)].astype(float).apply(tuple, axis=1)
    design = _study_design(table)
    if design is None or not (keys == design).any():
        design = keys.value_counts().index[0]
    return cal[(keys == design).to_numpy()].reset_index(drop=True)


def surrogate_curves(model: Surrogate, points: pd.DataFrame) -> pd.DataFrame:
    """Per (mesh, pattern, design) of ``points``: the surrogate latency from ~0 to 0.97 x saturation.

    Columns: the curve keys, ``RATE``, ``LATENCY``, ``in_domain`` (<= 0.9 x saturation and inside
    the pack's ranges) and ``saturation_injection_rate`` (the pack's fitted value for that design).
    """
    groups = points[list(CURVE) + list(DESIGN)].drop_duplicates()
    parts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        for _, g in groups.iterrows():
            query = pd.DataFrame([g.to_dict()])
            query["injection_rate"] = 0.01
            sat = float(model.predict(query, check=False)["saturation_injection_rate"].iloc[0])
            rates = np.linspace(0.005, LINE_END * sat, LINE_POINTS)
            grid = pd.DataFrame({c: g[c] for c in query.columns if c != "injection_rate"}, index=range(len(rates)))
            grid["injection_rate"] = rates
            pred = model.predict(grid)
            part = grid[list(CURVE) + list(DESIGN)].copy()
            part[RATE] = rates
            part[LATENCY] = pred[LATENCY].to_numpy(float)
            part["in_domain"] = pred["in_domain"].to_numpy(bool) & (rates <= MAX_LOAD_FRACTION * sat)
            part["saturation_injection_rate"] = sat
            parts.append(part)
    return pd.concat(parts, ignore_index=True)


def figure_data(points: pd.DataFrame, curves: pd.DataFrame) -> pd.DataFrame:
    """The tidy plotted data: measured markers, surrogate lines and saturation markers (``kind``)."""
    measured = points.assign(kind="measured", in_domain=np.nan)
    line = curves.drop(columns="saturation_injection_rate").assign(kind="surrogate", source="surrogate garnet pack")
    sat = curves.drop_duplicates(list(CURVE) + list(DESIGN))[list(CURVE) + list(DESIGN)].copy()
    sat[RATE] = curves.drop_duplicates(list(CURVE) + list(DESIGN))["saturation_injection_rate"].to_numpy()
    sat = sat.assign(kind="saturation", source="surrogate garnet pack (fitted saturation rate)")
    cols = ["kind", "source", *CURVE, *DESIGN, RATE, LATENCY, "in_domain"]
    return pd.concat([measured, line, sat], ignore_index=True).reindex(columns=cols)


def plot(data: pd.DataFrame, stem):
    """Draw figure 3 from :func:`figure_data`'s frame and write it (PDF, PNG, CSV) at ``stem``."""
    if data.empty or not (data["kind"] == "measured").any():
        raise FigureError("noc_latency: no real gem5 Garnet run to plot")
    meshes = data[["mesh_rows", "mesh_cols"]].drop_duplicates().sort_values(["mesh_rows", "mesh_cols"])
    patterns = sorted(data["pattern"].unique())
    fig, axes = new_figure("double", height_in=2.5, ncols=len(meshes), squeeze=False)
    for ax, (_, mesh) in zip(axes[0], meshes.iterrows()):
        on = (data["mesh_rows"] == mesh["mesh_rows"]) & (data["mesh_cols"] == mesh["mesh_cols"])
        measured_max = data.loc[on & (data["kind"] == "measured"), LATENCY].max()
        for i, pattern in enumerate(patterns):
            style = series_style(i)
            sel = on & (data["pattern"] == pattern)
            pts = data[sel & (data["kind"] == "measured")]
            ax.plot(pts[RATE], pts[LATENCY], color=style["color"], marker=style["marker"], linestyle="none")
            line = data[sel & (data["kind"] == "surrogate")]
            if not line.empty:
                plot_domain_line(ax, line[RATE].to_numpy(), line[LATENCY].to_numpy(),
                                 line["in_domain"].astype(bool).to_numpy(), style["color"])
            for rate in data.loc[sel & (data["kind"] == "saturation"), RATE]:
                ax.axvline(rate, color=style["color"], linestyle=SATURATION_LINE, linewidth=0.8, marker="none")
        ax.set_ylim(0, 1.6 * measured_max)
        ax.set_xlim(0, 1.0)
        ax.text(0.03, 0.97, f"{int(mesh['mesh_rows'])}x{int(mesh['mesh_cols'])} mesh", transform=ax.transAxes,
                ha="left", va="top", fontsize=7, bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
        ax.set_xlabel("injection rate (flits/node/cycle)")
    axes[0][0].set_ylabel("avg. packet latency (cycles)")
    handles = [Line2D([], [], color=series_style(i)["color"], marker=series_style(i)["marker"], label=p)
               for i, p in enumerate(patterns)]
    measured_label = ("gem5 run (study)" if (data.loc[data["kind"] == "measured", "source"] == STUDY_SOURCE).all()
                      else "gem5 run (calibration)")
    handles += key_handles(measured_label)
    handles.append(Line2D([], [], color="0.3", linestyle=SATURATION_LINE, linewidth=0.8,
                           label="fitted saturation"))
    fig.legend(handles=handles, loc="outside upper center", ncol=5)
    return save_figure(fig, data, stem)
