"""Design-point labels for figures, from ``points.csv`` (its swept-value columns), never hex ids.

``points.csv`` holds ``point_id``, one column per swept key (lists written as ``[64, 64]``), then
``<simulator>_run_id`` columns. A study without a sweep has one point, labelled by the study name.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import yaml

from eoesim.dse.labels import point_label

RUN_ID_SUFFIX = "_run_id"


def _value(raw: Any) -> Any:
    """A swept value as planned: lists/mappings were written as text (``[64, 64]``), scalars as is."""
    if isinstance(raw, str) and raw[:1] in "[{":
        return yaml.safe_load(raw)
    if pd.isna(raw):  # a null swept value (an empty cell)
        return None
    return raw.item() if hasattr(raw, "item") else raw


def sweep_columns(points: pd.DataFrame) -> list[str]:
    return [c for c in points.columns if c != "point_id" and not c.endswith(RUN_ID_SUFFIX)]


def point_labels(points: pd.DataFrame, study: str) -> dict[str, str]:
    """point id -> short label of its swept values (e.g. ``64x64 ws``), in points.csv order."""
    keys = sweep_columns(points)
    if not keys:
        return {pid: study for pid in points["point_id"]}
    return {row["point_id"]: point_label({k: _value(row[k]) for k in keys})
            for row in points.to_dict("records")}


def point_styles(points: pd.DataFrame, n_colours: int) -> dict[str, tuple[int, int]]:
    """point id -> (colour index, marker/dash index), so a sweep reads at a glance: the colour follows the
    first swept key's value and the marker the other keys' values (e.g. colour = array size, marker =
    dataflow). With one swept key (or none) the colour follows the point and the marker changes every
    ``n_colours`` points, so no two lines look alike."""
    keys = sweep_columns(points)
    ids = points["point_id"].tolist()
    if len(keys) < 2:
        return {pid: (i, i // n_colours) for i, pid in enumerate(ids)}
    text = points[keys].map(str)  # str() of each value: an unset (NaN) value is text too
    first = {v: i for i, v in enumerate(dict.fromkeys(text[keys[0]]))}
    rest = text[keys[1:]].agg("|".join, axis=1)
    other = {v: i for i, v in enumerate(dict.fromkeys(rest))}
    return {pid: (first[a], other[b]) for pid, a, b in zip(ids, text[keys[0]], rest)}
