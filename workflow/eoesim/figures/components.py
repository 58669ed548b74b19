"""Helpers shared by the component figures (NoC, memory, parity): measured-vs-surrogate plotting bits."""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

#: ``source`` of real rows taken from the study's own simulator runs
STUDY_SOURCE = "study run (fidelity simulate)"


def calibration_source(simulator_label: str, dataset: str) -> str:
    """``source`` of real rows from a shipped calibration dataset (measured with the real simulator)."""
    return f"{simulator_label} calibration run ({dataset})"


def simulated_rows(table: pd.DataFrame | None) -> pd.DataFrame:
    """The study table's rows that a real simulator produced (``fidelity == simulate``); empty if none."""
    if table is None or table.empty or "fidelity" not in table:
        return pd.DataFrame()
    return table[table["fidelity"] == "simulate"].reset_index(drop=True)


def plot_domain_line(ax, x: np.ndarray, y: np.ndarray, inside: np.ndarray, color: str) -> None:
    """A surrogate curve: solid inside its validated domain, dotted (thinner) outside it."""
    ax.plot(x, y, color=color, linestyle=":", linewidth=0.9, marker="none")
    ax.plot(x, np.where(inside, y, np.nan), color=color, linestyle="-", marker="none")


def key_handles(measured_label: str) -> list[Line2D]:
    """Legend entries explaining the encodings: markers = real runs, lines = surrogate."""
    return [Line2D([], [], color="0.3", marker="o", linestyle="none", label=measured_label),
            Line2D([], [], color="0.3", linestyle="-", label="surrogate (validated)"),
            Line2D([], [], color="0.3", linestyle=":", linewidth=0.9, label="surrogate (outside domain)")]
