"""A design point's ComponentModel from the calibrated surrogates alone (no simulator, no workflow run).

For scripts that ask "what if" of many configurations in-process (benchmarks/sensitivity.py): every
simulator with a calibrated pack and a mapping for the point predicts its table row exactly as rule
predict_surrogate does (eoesim.surrogates.predict_runs), and the rows feed a StudyComponentModel, so the
serving engine sees the same numbers a ``fidelity: surrogate`` study would.
"""
from __future__ import annotations

import warnings
from typing import Any, Mapping

from eoesim.analysis.surrogate import OutOfDomainWarning
from eoesim.eoe.hardware import build_hardware
from eoesim.errors import SimulatorUnavailableError
from eoesim.simulators.base import registry
from eoesim.stitch.study_model import StudyComponentModel
from eoesim.surrogates import predict_runs


def surrogate_model(params: Mapping[str, Any]) -> StudyComponentModel:
    """The surrogate-backed component model of one resolved design point (``Study.points[i].params``)."""
    tables, points = {}, {}
    for name, cls in registry().items():
        sim = cls({})
        point = sim.point_params(params)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OutOfDomainWarning)
                tables[name] = predict_runs(sim, {"point": point})
        except SimulatorUnavailableError:
            continue
        points[name] = point
    return StudyComponentModel(build_hardware(params["hardware"]), tables, points)
