"""Calibrated surrogates in place of a simulator: availability, and predicted tables in the adapter's columns.

The adapter maps its point to the pack's inputs (``surrogate_query``) and the pack's outputs to its own
table columns (``surrogate_columns``); the packs themselves live in ``eoesim.analysis`` (analysis/).
Every row carries ``fidelity = surrogate``, ``source`` (pack and training-data hash), ``in_domain`` and
the pack's cross-validated relative error per metric.
"""
from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from eoesim.errors import SimulatorUnavailableError
from eoesim.simulators.base import Simulator


def surrogate_status(sim: Simulator, sample_point: Mapping[str, Any] | None) -> tuple[bool, str]:
    """Whether ``sim`` has a calibrated pack and a mapping for points like ``sample_point``, and why not."""
    from eoesim.analysis.packs import SIMULATOR_PACKS, available_packs

    packs = [p for p in SIMULATOR_PACKS.get(sim.name, ()) if p in available_packs()]
    if not packs:
        return False, f"no calibrated surrogate pack of {sim.name} is installed"
    if sample_point is not None:
        try:
            sim.surrogate_query(sample_point)
        except SimulatorUnavailableError as exc:
            return False, str(exc)
    return True, f"calibrated surrogate pack {packs[0]!r}"


def predict_runs(sim: Simulator, runs: Mapping[str, Mapping[str, Any]], strict: bool = False) -> pd.DataFrame:
    """Predicted table rows for every run (run id -> the simulator's point), in the adapter's columns.

    Out-of-domain queries warn (``OutOfDomainWarning``) or, with ``strict``, raise ``OutOfDomainError``.
    """
    from eoesim.analysis.packs import predict_table

    frames = []
    for run_id, point in runs.items():
        predicted = predict_table(sim.name, sim.surrogate_query(point), strict=strict)
        predicted = predicted.rename(columns=sim.surrogate_columns)
        predicted = sim.annotate_surrogate(predicted, point)
        predicted.insert(0, "run_id", run_id)
        frames.append(predicted)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
