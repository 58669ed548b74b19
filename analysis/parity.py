"""Parity plots (surrogate vs simulator) of a pack on a table of real results."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from eoesim.analysis.surrogate import OutOfDomainWarning, Surrogate


def parity_plot(model: Surrogate, frame: pd.DataFrame, out_dir: Path, metrics=None, fmt: str = "png") -> list[Path]:
    """One figure per metric: predicted vs measured on log axes, in-domain rows filled, others hollow.

    ``frame`` holds the surrogate's input columns and the measured metric columns (e.g. a training
    frame, or a study table mapped to the pack's column names). Returns the written paths
    (``<out_dir>/parity_<pack>_<metric>.<fmt>``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        pred = model.predict(frame)
    paths = []
    for metric in metrics or model.outputs:
        if metric not in frame:
            continue
        y, p = frame[metric].to_numpy(float), pred[metric].to_numpy(float)
        ok = np.isfinite(y) & np.isfinite(p) & (y > 0) & (p > 0)
        if not ok.any():
            continue
        inside = pred["in_domain"].to_numpy() & ok
        fig, ax = plt.subplots(figsize=(4.2, 4.0))
        ax.scatter(y[inside], p[inside], s=14, label="in domain")
        ax.scatter(y[ok & ~inside], p[ok & ~inside], s=14, facecolors="none", edgecolors="C3", label="outside")
        lo, hi = min(y[ok].min(), p[ok].min()), max(y[ok].max(), p[ok].max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"simulated {metric}")
        ax.set_ylabel(f"surrogate {metric}")
        err = 100 * np.abs(p[inside] - y[inside]) / y[inside]
        ax.set_title(f"{model.pack or model.simulator}: MAPE {err.mean():.2f}% (in domain, in sample)"
                     if inside.any() else model.pack or model.simulator, fontsize=8)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = out_dir / f"parity_{model.pack or model.simulator}_{metric}.{fmt}"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths
