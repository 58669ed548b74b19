"""Non-moving metrics: a swept parameter that should move a metric but leaves it exactly unchanged.

A simulator that ignores a parameter (a misspelt key it silently drops, a preset that falls back to
defaults, a run re-used for the wrong point) produces identical numbers along that axis. For each
(simulator, axis, metric) its adapter declares (``swept_axes``) the rows are grouped by every OTHER
parameter column present in the table; a group that spans at least two distinct axis values with one single
metric value is a finding.

Only real-simulation rows are tested (fidelity == simulate). Surrogate rows are smooth analytical
models of their inputs: whether they move tests the model's formula, not a run, and a surrogate that
is flat in a parameter by design (e.g. latency below saturation) would raise false alarms.
"""
from __future__ import annotations

import pandas as pd

from eoesim.simulators.base import Simulator, SweptAxis
from eoesim.trust.checks import Finding, TableContext, check, simulated_only


def has_swept_axes(adapter: type[Simulator]) -> bool:
    """The check applies to the simulators whose adapter declares swept axes."""
    return bool(adapter.swept_axes)


def non_moving(table: pd.DataFrame, axis: SweptAxis) -> list[Finding]:
    """Findings for groups whose metric is identical across >= 2 distinct values of the axis."""
    ax = [c for c in axis.axis if c in table]
    metrics = [m for m in axis.metrics if m in table]
    if not ax or not metrics or table.empty:
        return []
    keys = [c for c in axis.group_by if c in table and c not in ax]
    work = table.copy()
    work["_axis"] = work[ax].astype(str).agg("x".join, axis=1)
    groups = work.groupby([work[k].astype(str) for k in keys], dropna=False) if keys else [((), work)]
    out = []
    for metric in metrics:
        flat = []
        for _, rows in groups:
            values = rows[metric].dropna()
            if rows["_axis"].nunique() >= 2 and len(values) == len(rows) and values.nunique() == 1:
                flat.append(rows)
        if flat:
            labels = tuple(i for rows in flat for i in rows.index)
            sample = flat[0]
            out.append(Finding(labels, f"{metric} = {sample[metric].iloc[0]:g} for every {'/'.join(ax)} "
                               f"({', '.join(sorted(sample['_axis'].unique()))}) in {len(flat)} group(s)"))
    return out


@check("metric_does_not_move", "warning", applies=has_swept_axes,
       hint="the simulator probably ignored the swept parameter (misspelt key, preset fallback, wrong run "
            "reused): compare the rendered inputs and the simulator's echoed configuration of two such runs")
@simulated_only
def metric_does_not_move(ctx: TableContext) -> list[Finding]:
    """A swept axis that should move a metric (SCALE-Sim: array size -> total cycles of the same GEMM;
    Garnet: injection rate -> packet latency; Ramulator: offered load -> latency and bandwidth; CACTI: SRAM
    size -> area, leakage and read energy) but
    leaves it identical. Real-simulation rows only (surrogates are smooth models, see module doc)."""
    table = ctx.simulated()
    return [f for axis in ctx.adapter.swept_axes for f in non_moving(table, axis)]
