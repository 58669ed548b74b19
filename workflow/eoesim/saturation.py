"""Saturation throughput of a study's Garnet network: bisection over a bounded list of injection rates.

Each evaluated rate is one Garnet run of the design point with only ``injection_rate`` changed: a real
gem5 run (through execute_run, into ``results/<study>/runs/garnet/<run id>/`` like any other run, and
reused from the run cache) when the plan simulates Garnet, else a prediction of the calibrated surrogate.
At most ceil(log2(len(rates))) + 2 rates are evaluated (see garnet_sweep.find_saturation).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import pandas as pd

from eoesim.config import point_id
from eoesim.errors import ConfigError
from eoesim.jobs import run_simulation
from eoesim.layout import ResultPaths
from eoesim.plan import StudyPlan
from eoesim.simulators.garnet_sweep import SaturationResult, find_saturation
from eoesim.surrogates import predict_runs

LATENCY = "average_packet_latency_cycles"


@dataclass(frozen=True)
class SaturationSearch:
    result: SaturationResult
    fidelity: str
    evaluations: pd.DataFrame


def search_saturation(plan: StudyPlan, design_point: str, rates: Sequence[float], factor: float,
                      paths: ResultPaths) -> SaturationSearch:
    """Find the first rate of ``rates`` whose latency exceeds ``factor`` x the zero-load latency."""
    choice = plan.fidelity["garnet"]
    if choice.chosen == "none":
        raise ConfigError(f"fidelity.garnet: no Garnet results can be made here ({choice.reason})")
    base = plan.runs["garnet"][plan.point_runs[design_point]["garnet"]]
    sim = plan.simulator("garnet")
    rows = []

    def latency_at(rate: float) -> float:
        params = dict(base, injection_rate=rate)
        run_id = point_id({"simulator": "garnet", **params})
        if choice.chosen == "simulate":
            table = run_simulation("garnet", params, plan.site.get("garnet", {}), run_id,
                                   paths.run_dir("garnet", run_id), paths.logs_dir("garnet", run_id), paths.cache)
        else:
            table = predict_runs(sim, {run_id: params})
        table = table[table["vnet"].astype(str) == "all"]
        value = float(table[LATENCY].iloc[0]) if not table.empty else math.nan
        rows.append({"injection_rate": rate, LATENCY: value, "run_id": run_id, "fidelity": choice.chosen})
        return value

    result = find_saturation(latency_at, rates, factor)
    return SaturationSearch(result, choice.chosen, pd.DataFrame(rows))
