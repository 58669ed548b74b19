"""How a simulator's real study table becomes a pack's calibration dataset: the shape every surrogate module
declares for its pack (``Surrogate.study_table``), and the helpers those declarations share.

A ``StudyTable`` says which planned points the pack's dataset cannot hold (settings the dataset kept fixed, so
the pack's form has no input for them), how the table's rows become the dataset's columns, and why a whole set
of runs cannot pin the form's parameters down. ``eoesim.analysis.study_calibration`` applies them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pandas as pd

from eoesim.analysis.surrogate import MIN_TRAINING_ROWS
from eoesim.errors import ConfigError

Point = Mapping[str, Any]
Runs = Mapping[str, Point]


def nothing_unmet(point: Point) -> list[str]:
    """Every setting of the simulator is an input of the pack (or none varies in a study)."""
    return []


def too_few_rows(rows: int) -> list[str]:
    """A pack whose dataset has one row per run (per trace flow for MQSim) needs enough runs to be fitted."""
    if rows >= MIN_TRAINING_ROWS:
        return []
    return [f"the study's runs give {rows} training row(s) and a fit needs at least {MIN_TRAINING_ROWS}; allowed: "
            f"a sweep over at least {MIN_TRAINING_ROWS} values of the simulator's load "
            "(see config/studies/calibrate.yaml)"]


def one_row_per_run(runs: Runs) -> list[str]:
    """The dataset has one row per run: enough runs to fit."""
    return too_few_rows(len(runs))


@dataclass(frozen=True)
class StudyTable:
    """How a simulator's study table becomes one pack's calibration dataset."""

    #: the point's settings that differ from what the dataset held fixed (empty: the run maps)
    unmet: Callable[[Point], list[str]]
    to_dataset: Callable[[pd.DataFrame, Runs], pd.DataFrame]
    #: why the planned runs together cannot identify the form's parameters (empty: they can)
    unidentified: Callable[[Runs], list[str]] = one_row_per_run


def differs(label: str, value: Any, allowed: Any, why: str = "") -> list[str]:
    """``label = value; allowed: ...`` unless ``value`` is the calibrated one."""
    return [] if value == allowed else [f"{label} = {value!r}; allowed: {allowed!r}{why}"]


def run_params(runs: Runs, run_id: str, simulator: str) -> Point:
    """The planned point of a run of the table; an error for a run the study does not plan (stale table)."""
    if run_id not in runs:
        raise ConfigError(f"calibrate {simulator}: run {run_id} of the table is not a run of the study "
                          "(stale table?); allowed: the study's planned runs")
    return runs[run_id]
