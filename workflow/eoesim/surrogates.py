"""Calibrated surrogates in place of a simulator: availability, and predicted tables in the adapter's columns.

The adapter maps its point to the pack's inputs (``surrogate_query``) and the pack's outputs to its own
table columns (``surrogate_columns``); the packs themselves live in ``eoesim.analysis`` (analysis/).
Every row carries ``fidelity = surrogate``, ``source`` (pack and training-data hash), ``in_domain`` and
the pack's cross-validated relative error per metric.

A point's settings that the pack has no input for must equal the ones its calibration data held fixed;
``settings_level`` turns them into one categorical query column whose only fitted level is
``CALIBRATED``, so any other value is out of the domain and the message names the setting.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Iterable, Mapping

import pandas as pd

from eoesim.analysis.packs import available_packs, predict_table, simulator_packs
from eoesim.errors import ConfigError, SimulatorUnavailableError
from eoesim.simulators.base import Simulator

#: the value of a query's ``fixed_settings`` column when every setting the pack has no input for equals
#: its calibration value (the packs' only fitted level of that column)
CALIBRATED = "calibrated"
SETTINGS_COLUMN = "fixed_settings"


def _same(value: Any, expected: Any) -> bool:
    if isinstance(value, float) or isinstance(expected, float):
        try:
            return math.isclose(float(value), float(expected), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return value == expected


def settings_level(values: Mapping[str, Any], calibrated: Mapping[str, Any]) -> str:
    """``CALIBRATED``, or ``key=value (calibrated: x)`` for the first of ``calibrated``'s keys whose value differs
    (with ``+N more`` when several do)."""
    differ = [f"{key}={values.get(key)!r} (calibrated: {expected!r})"
              for key, expected in calibrated.items() if not _same(values.get(key), expected)]
    if not differ:
        return CALIBRATED
    return differ[0] + (f" +{len(differ) - 1} more" if len(differ) > 1 else "")


def surrogate_status(sim: Simulator, sample_points: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None,
                     strict: bool = False) -> tuple[bool, str]:
    """Whether ``sim``'s calibrated pack can stand in for it on every one of ``sample_points``, and why (not).

    The surrogate is refused where the job would fail: a point the adapter cannot map to the pack's inputs,
    a prediction that errors, or - with ``strict`` (the study's ``strict_surrogate_domain``) - a point
    outside the pack's domain. Without ``strict`` out-of-domain points are allowed (their rows are labelled
    ``in_domain = False``) and the reason says how many and why.
    """
    packs = [p for p in simulator_packs().get(sim.name, ()) if p in available_packs()]
    if not packs:
        return False, f"no calibrated surrogate pack of {sim.name} is installed"
    ok = f"calibrated surrogate pack {packs[0]!r}"
    if sample_points is None:
        return True, ok
    points = [sample_points] if isinstance(sample_points, Mapping) else list(sample_points)
    outside, why = 0, ""
    for point in points:
        try:
            query = sim.surrogate_query(point)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                table = predict_table(sim.name, query)
        except (SimulatorUnavailableError, ConfigError) as exc:
            return False, str(exc)
        if not table["in_domain"].all():
            outside += 1
            why = why or next((str(w.message) for w in caught), "outside the pack's domain")
    if outside and strict:
        return False, f"{outside} of {len(points)} point(s) outside the domain of {ok} (strict_surrogate_domain): {why}"
    if outside:
        return True, f"{ok}; {outside} of {len(points)} point(s) outside its domain (rows labelled): {why}"
    return True, ok


def predict_runs(sim: Simulator, runs: Mapping[str, Mapping[str, Any]], strict: bool = False) -> pd.DataFrame:
    """Predicted table rows for every run (run id -> the simulator's point), in the adapter's columns.

    Out-of-domain queries warn (``OutOfDomainWarning``) or, with ``strict``, raise ``OutOfDomainError``.
    """
    frames = []
    for run_id, point in runs.items():
        predicted = predict_table(sim.name, sim.surrogate_query(point), strict=strict)
        predicted = predicted.rename(columns=sim.surrogate_columns)
        predicted = sim.annotate_surrogate(predicted, point)
        predicted.insert(0, "run_id", run_id)
        frames.append(predicted)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
