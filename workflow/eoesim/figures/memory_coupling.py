"""Figure: one decoder layer's cycles per chiplet configuration, compute-only (SCALE-Sim) vs memory-coupled
(SCALE-Sim DRAM traces through the memory tier, eoesim.stitch.coupling).

Bars per configuration (array size x dataflow), grouped by array size; the layer's cycles are the sum over
its GEMMs of cycles x instances. The plotted CSV has one row per (configuration, model).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from eoesim.figures.style import FigureError, new_figure, save_figure, series_style
from eoesim.stitch.coupling import config_totals

MODELS = {"compute_only_layer_cycles": "compute only", "memory_coupled_layer_cycles": "memory coupled"}


def figure_data(table: pd.DataFrame) -> pd.DataFrame:
    """Tidy plotted data: config, array_rows, array_cols, dataflow, model, layer_cycles, fidelity."""
    if table.empty:
        raise FigureError("memory_coupling: the coupling table is empty")
    totals = config_totals(table).sort_values(["array_rows", "array_cols", "dataflow"], kind="stable")
    fidelity = "+".join(sorted(table["fidelity"].astype(str).unique()))
    out = totals.melt(id_vars=["config", "array_rows", "array_cols", "dataflow"], value_vars=list(MODELS),
                      var_name="model", value_name="layer_cycles")
    out["model"] = out["model"].map(MODELS)
    out["memory_fidelity"] = fidelity
    return out.reset_index(drop=True)


def plot(table: pd.DataFrame, stem: Path) -> dict[str, Path]:
    data = figure_data(table)
    configs = list(dict.fromkeys(data["config"]))
    fig, ax = new_figure("single")
    x = np.arange(len(configs))
    width = 0.38
    for i, model in enumerate(MODELS.values()):
        sel = data[data["model"] == model].set_index("config").loc[configs]
        ax.bar(x + (i - 0.5) * width, sel["layer_cycles"] / 1e3, width, label=model, color=series_style(i)["color"],
               hatch="//" if i else None, edgecolor="black", linewidth=0.4)
    ax.set_xticks(x, [c.split(" ")[1] for c in configs])
    sizes = data.drop_duplicates("config").set_index("config").loc[configs]
    for size, grp in sizes.groupby(["array_rows", "array_cols"], sort=False):
        pos = [configs.index(c) for c in grp.index]
        ax.annotate(f"{size[0]}x{size[1]} array", xy=(np.mean(pos), 0), xycoords=("data", "axes fraction"),
                    xytext=(0, -15), textcoords="offset points", ha="center", va="top")
        if pos[0] > 0:
            ax.axvline(pos[0] - 0.5, color="0.6", linewidth=0.6)
    ax.set_xlabel("dataflow", labelpad=16)
    ax.set_ylabel("cycles per decoder layer (thousands)")
    ax.set_xlim(-0.6, len(configs) - 0.4)
    ax.grid(axis="x", visible=False)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    return save_figure(fig, data, stem)
