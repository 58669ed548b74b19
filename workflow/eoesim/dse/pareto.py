"""Pareto fronts of minimised objectives, and the ranking that picks the top-k points to refine.

A point dominates another when it is no worse in every objective and strictly better in at least one.
Points with identical objective vectors do not dominate each other, so duplicates on the front are all
kept (both are optimal; neither is preferred).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from eoesim.errors import EoesimError


def _values(frame: pd.DataFrame, objectives: list[str]) -> np.ndarray:
    missing = [o for o in objectives if o not in frame.columns]
    if missing:
        raise EoesimError(f"Pareto front: objective column(s) {missing} missing; columns: {list(frame.columns)}")
    values = frame[objectives].to_numpy(dtype=float)
    if not np.isfinite(values).all():
        bad = frame.index[~np.isfinite(values).all(axis=1)].tolist()
        raise EoesimError(f"Pareto front: non-finite objective values in rows {bad}")
    return values


def dominated_by(values: np.ndarray) -> np.ndarray:
    """``d[i, j]`` is True when row j dominates row i."""
    no_worse = (values[None, :, :] <= values[:, None, :]).all(axis=2)
    better = (values[None, :, :] < values[:, None, :]).any(axis=2)
    return no_worse & better


def pareto_mask(frame: pd.DataFrame, objectives: list[str]) -> pd.Series:
    """True for the rows no other row dominates (all objectives minimised)."""
    if len(objectives) < 1:
        raise EoesimError("Pareto front: at least one objective is needed")
    values = _values(frame, objectives)
    return pd.Series(~dominated_by(values).any(axis=1), index=frame.index, name="pareto")


def pareto_rank(frame: pd.DataFrame, objectives: list[str]) -> pd.Series:
    """Non-dominated sorting: 0 for the front, 1 for the front of the rest, and so on."""
    values = _values(frame, objectives)
    dom = dominated_by(values)
    rank = np.full(len(values), -1)
    remaining = np.ones(len(values), dtype=bool)
    level = 0
    while remaining.any():
        front = remaining & ~(dom[:, remaining].any(axis=1))
        rank[front] = level
        remaining &= ~front
        level += 1
    return pd.Series(rank, index=frame.index, name="pareto_rank")


def top_k(frame: pd.DataFrame, objectives: list[str], k: int) -> pd.DataFrame:
    """The k best rows: by Pareto rank, then by the sum of min-max normalised objectives (a balanced
    compromise first), then by the order of the frame. Fewer rows than k -> all of them."""
    values = _values(frame, objectives)
    span = values.max(axis=0) - values.min(axis=0)
    norm = np.where(span > 0, (values - values.min(axis=0)) / np.where(span > 0, span, 1.0), 0.0)
    order = pd.DataFrame({"rank": pareto_rank(frame, objectives).to_numpy(), "score": norm.sum(axis=1),
                          "pos": np.arange(len(frame))})
    chosen = order.sort_values(["rank", "score", "pos"], kind="stable").head(max(k, 0))["pos"]
    return frame.iloc[chosen.to_numpy()]
