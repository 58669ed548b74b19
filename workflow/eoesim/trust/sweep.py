"""Non-moving metrics: a swept parameter that should move a metric but leaves it exactly unchanged.

A simulator that ignores a parameter (a misspelt key it silently drops, a preset that falls back to
defaults, a run re-used for the wrong point) produces identical numbers along that axis. For each
(simulator, axis, metric) below the rows are grouped by every OTHER parameter column present in the
table; a group that spans at least two distinct axis values with one single metric value is a finding.

Only real-simulation rows are tested (fidelity == simulate). Surrogate rows are smooth analytical
models of their inputs: whether they move tests the model's formula, not a run, and a surrogate that
is flat in a parameter by design (e.g. latency below saturation) would raise false alarms.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from eoesim.trust.checks import Finding, TableContext, check, simulated_only


@dataclass(frozen=True)
class Axis:
    simulator: str
    #: the swept parameter and the columns derived from it (excluded from the grouping)
    axis: tuple[str, ...]
    metrics: tuple[str, ...]
    #: parameter and row-identity columns the rows are grouped by (those present in the table)
    group_by: tuple[str, ...]


AXES = (
    Axis("scalesim", ("array_rows", "array_cols"), ("total_cycles",),
         ("dataflow", "interface_bandwidth", "freq_ghz", "phase", "seq_len", "batch", "filter_sram_kib",
          "ifmap_sram_kib", "ofmap_sram_kib", "expert", "gemm", "m", "n", "k", "instances")),
    Axis("garnet", ("injection_rate",), ("average_packet_latency_cycles",),
         ("vnet", "topology", "num_cpus", "num_dirs", "mesh_rows", "synthetic", "inj_vnet", "sim_cycles",
          "vcs_per_vnet", "router_latency_cycles", "link_latency_cycles", "link_width_bits", "routing_algorithm",
          "ruby_clock_ghz", "sys_clock_ghz", "chiplet_rows", "chiplet_cols", "routers_per_chiplet_rows",
          "routers_per_chiplet_cols", "interposer_link_latency_cycles", "interposer_link_width_bits")),
    Axis("ramulator", ("offered_req_per_mem_cycle", "offered_bandwidth_bytes_per_s", "frontend_clock_ratio",
                       "memory_clock_ratio"),
         ("system_avg_read_latency_ns", "system_achieved_bandwidth_bytes_per_s"),
         ("channel", "standard", "org_preset", "timing_preset", "num_channels", "ranks", "scheduler", "refresh",
          "row_policy", "row_policy_cap", "addr_mapper", "pattern", "read_fraction", "num_requests",
          "footprint_bytes", "alignment_bytes", "stride_bytes", "bubbles", "seed")),
    Axis("cacti", ("size_bytes",), ("area_mm2", "leakage_mW", "read_energy_nJ"),
         ("technology_nm", "cell_type", "peripheral_type", "temperature_k", "kind", "block_bytes", "associativity",
          "banks", "rw_ports", "read_ports", "write_ports")),
)
SIMULATORS = tuple(sorted({a.simulator for a in AXES}))


def non_moving(table: pd.DataFrame, axis: Axis) -> list[Finding]:
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


@check("metric_does_not_move", "warning", SIMULATORS,
       hint="the simulator probably ignored the swept parameter (misspelt key, preset fallback, wrong run "
            "reused): compare the rendered inputs and the simulator's echoed configuration of two such runs")
@simulated_only
def metric_does_not_move(ctx: TableContext) -> list[Finding]:
    """A swept axis that should move a metric (SCALE-Sim: array size -> total cycles of the same GEMM;
    Garnet: injection rate -> packet latency; Ramulator: offered load -> latency and bandwidth; CACTI: SRAM
    size -> area, leakage and read energy) but
    leaves it identical. Real-simulation rows only (surrogates are smooth models, see module doc)."""
    table = ctx.simulated()
    return [f for axis in AXES if axis.simulator == ctx.simulator for f in non_moving(table, axis)]
