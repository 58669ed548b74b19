"""Trace-level memory coupling: SCALE-Sim's per-layer DRAM traces -> the memory tier -> stall cycles.

SCALE-Sim with ``InterfaceBandwidth: CALC`` assumes DRAM always delivers what the array asks for, so its
``total_cycles`` are compute-only. For each GEMM (one SCALE-Sim layer) of a chiplet configuration:

1. the layer's DRAM traces become 64 B memory requests (``scalesim_traces.dram_requests``: addresses from
   the trace, one-row line merging, the trace's cycles) and a Ramulator LoadStoreTrace of them;
2. demand: ``dram_bytes`` = requests x 64 B (``dram_word_bytes``: SCALE-Sim's DRAM words x bytes per word;
   the ratio is the partial-line overhead of SCALE-Sim's access order); the requests are spaced by the layer's own
   timing, i.e. spread over its compute cycles, so the offered bandwidth is ``dram_bytes / (compute_cycles / f)`` (f =
   chiplet clock) - the rate the memory must sustain for the array never to wait; read fraction and access pattern
   (``sequential`` when most requests follow the previous line of their operand, else ``random``) come from the trace;
3. the memory tier (the study's Ramulator memory system: standard, channels) at that offered load gives
   an achieved bandwidth and an average read latency - from the calibrated Ramulator surrogate pack
   (labelled ``fidelity``/``source``; read fractions below the pack's fitted 0.7 are queried at 0.7 and the
   row says so in ``surrogate_read_fraction``);
4. stall model (steady state, layers back to back, each layer's prefetch overlapping the previous one)::

       memory_cycles         = dram_bytes / achieved_bandwidth x f  +  read_latency x f
       memory_coupled_cycles = max(compute_only_cycles, ceil(memory_cycles))
       stall_cycles          = memory_coupled_cycles - compute_only_cycles

   All of a layer's DRAM bytes (its prefetch included) must move within the layer's time; the memory
   moves them at the bandwidth it achieves under that load, and the latency of the last request is
   exposed once. Below the memory's bandwidth ceiling achieved ~= offered and the stall is ~ one latency;
   above it the layer becomes memory bound.

The chiplet is assumed to have the memory system to itself (contention between chiplets is the
end-to-end scheduler's job), so the stalls are a lower bound for a shared tier.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from eoesim.analysis.packs import predict_table
from eoesim.errors import ConfigError
from eoesim.simulators.scalesim_traces import LINE_BYTES, sequential_share

#: requests following their operand's previous line above this share make the layer "sequential"
SEQUENTIAL_SHARE = 0.5
#: read fractions the Ramulator pack was fitted on (surrogate_ramulator.RF_LEVELS)
PACK_READ_FRACTION = (0.7, 1.0)
COLUMNS = ["config", "array_rows", "array_cols", "dataflow", "layer_id", "gemm", "m", "n", "k", "instances",
           "compute_only_cycles", "memory_coupled_cycles", "stall_cycles", "stall_pct", "dram_requests",
           "dram_read_requests", "dram_write_requests", "dram_bytes", "dram_word_bytes", "read_fraction", "pattern",
           "offered_bandwidth_bytes_per_s", "offered_load_frac_of_peak", "achieved_bandwidth_bytes_per_s",
           "memory_latency_ns", "memory_latency_cycles", "memory_standard", "memory_channels",
           "peak_bandwidth_bytes_per_s", "surrogate_read_fraction", "in_domain", "fidelity", "source"]


@dataclass(frozen=True)
class MemoryTier:
    """The memory system one chiplet's DRAM traffic goes to (the study's Ramulator point)."""
    standard: str
    channels: int
    peak_bandwidth_bytes_per_s: float

    @classmethod
    def from_ramulator_point(cls, point: Mapping[str, Any]) -> MemoryTier:
        return cls(str(point["standard"]), int(point["channels"]), float(point["peak_bandwidth_bytes_per_s"]))


def layer_demand(requests: pd.DataFrame, compute_cycles: float, freq_ghz: float) -> dict[str, Any]:
    """What one layer asks of the memory: request counts, bytes, read fraction, pattern, offered bandwidth."""
    if compute_cycles <= 0:
        raise ConfigError(f"coupling: compute_cycles {compute_cycles} is not allowed; allowed: > 0")
    n = len(requests)
    writes = int(requests["write"].sum()) if n else 0
    dram_bytes = n * LINE_BYTES
    seconds = compute_cycles / (freq_ghz * 1e9)
    return {
        "dram_requests": n, "dram_read_requests": n - writes, "dram_write_requests": writes,
        "dram_bytes": dram_bytes, "read_fraction": (n - writes) / n if n else 1.0,
        "pattern": "sequential" if sequential_share(requests) > SEQUENTIAL_SHARE else "random",
        "offered_bandwidth_bytes_per_s": dram_bytes / seconds,
    }


def surrogate_memory(demand: pd.DataFrame, tier: MemoryTier) -> pd.DataFrame:
    """Achieved bandwidth and read latency of ``tier`` for each demand row, from the Ramulator pack.

    ``demand`` needs ``pattern``, ``read_fraction`` and ``offered_bandwidth_bytes_per_s``.
    """
    rf = demand["read_fraction"].clip(*PACK_READ_FRACTION)
    query = pd.DataFrame({
        "standard": tier.standard, "pattern": demand["pattern"].to_numpy(), "channels": tier.channels,
        "read_fraction": rf.to_numpy(),
        "offered_load_frac_of_peak": (demand["offered_bandwidth_bytes_per_s"] / tier.peak_bandwidth_bytes_per_s)
        .to_numpy(),
    }, index=demand.index)
    pred = predict_table("ramulator", query)
    return pd.DataFrame({
        "offered_load_frac_of_peak": query["offered_load_frac_of_peak"],
        "surrogate_read_fraction": rf,
        "achieved_bandwidth_bytes_per_s": pred["achieved_bandwidth_GBps"] * 1e9,
        "memory_latency_ns": pred["avg_read_latency_ns"],
        "in_domain": pred["in_domain"].astype(bool),
        "fidelity": pred["fidelity"], "source": pred["source"],
    }, index=demand.index)


def coupled_cycles(compute_cycles: float, dram_bytes: float, achieved_bandwidth_bytes_per_s: float,
                   latency_ns: float, freq_ghz: float) -> tuple[int, int]:
    """(memory_coupled_cycles, stall_cycles) of the stall model in the module docstring."""
    if dram_bytes <= 0:
        return int(compute_cycles), 0
    if not achieved_bandwidth_bytes_per_s > 0 or not math.isfinite(latency_ns):
        raise ConfigError(f"coupling: achieved bandwidth {achieved_bandwidth_bytes_per_s} B/s, latency {latency_ns} "
                          "ns; allowed: a positive bandwidth and a finite latency")
    memory = (dram_bytes / achieved_bandwidth_bytes_per_s + latency_ns * 1e-9) * freq_ghz * 1e9
    coupled = max(int(compute_cycles), math.ceil(memory - 1e-9))
    return coupled, coupled - int(compute_cycles)


def couple_layers(layers: pd.DataFrame, tier: MemoryTier, freq_ghz: float, memory: pd.DataFrame | None = None
                  ) -> pd.DataFrame:
    """The coupling table of one chiplet configuration.

    ``layers``: one row per GEMM with config columns, ``compute_only_cycles`` and the ``layer_demand``
    columns; ``memory``: the memory tier's answer per row (default: ``surrogate_memory``).
    """
    mem = surrogate_memory(layers, tier) if memory is None else memory
    out = pd.concat([layers.reset_index(drop=True), mem.reset_index(drop=True)], axis=1)
    out["memory_latency_cycles"] = out["memory_latency_ns"] * freq_ghz
    pairs = [coupled_cycles(c, b, bw, lat, freq_ghz) for c, b, bw, lat in
             zip(out["compute_only_cycles"], out["dram_bytes"], out["achieved_bandwidth_bytes_per_s"],
                 out["memory_latency_ns"])]
    out["memory_coupled_cycles"] = [p[0] for p in pairs]
    out["stall_cycles"] = [p[1] for p in pairs]
    out["stall_pct"] = 100.0 * out["stall_cycles"] / out["compute_only_cycles"]
    out["memory_standard"] = tier.standard
    out["memory_channels"] = tier.channels
    out["peak_bandwidth_bytes_per_s"] = tier.peak_bandwidth_bytes_per_s
    return out[COLUMNS]


def config_totals(table: pd.DataFrame) -> pd.DataFrame:
    """Per chiplet configuration: compute-only and coupled cycles of one decoder layer (GEMM cycles x instances)."""
    t = table.assign(compute=table["compute_only_cycles"] * table["instances"],
                     coupled=table["memory_coupled_cycles"] * table["instances"])
    keys = ["config", "array_rows", "array_cols", "dataflow"]
    out = t.groupby(keys, sort=False)[["compute", "coupled"]].sum().reset_index()
    return out.rename(columns={"compute": "compute_only_layer_cycles", "coupled": "memory_coupled_layer_cycles"})


def dataflow_winners(table: pd.DataFrame) -> pd.DataFrame:
    """The fastest configuration (fewest layer cycles), compute-only vs memory-coupled, and whether coupling
    flips it: per array size (``scope`` = "<rows>x<cols>", the candidates are its dataflows) and over all
    configurations (``scope`` = "all")."""
    totals = config_totals(table)
    groups = [(f"{r}x{c}", g) for (r, c), g in totals.groupby(["array_rows", "array_cols"], sort=True)]
    rows = []
    for scope, grp in groups + [("all", totals)]:
        comp = grp.loc[grp["compute_only_layer_cycles"].idxmin()]
        coup = grp.loc[grp["memory_coupled_layer_cycles"].idxmin()]
        rows.append({"scope": scope, "candidates": len(grp),
                     "winner_compute_only": comp["config"],
                     "winner_compute_only_cycles": int(comp["compute_only_layer_cycles"]),
                     "winner_memory_coupled": coup["config"],
                     "winner_memory_coupled_cycles": int(coup["memory_coupled_layer_cycles"]),
                     "coupling_flips_winner": bool(comp["config"] != coup["config"])})
    return pd.DataFrame(rows)


def config_label(rows: int, cols: int, dataflow: str) -> str:
    return f"{rows}x{cols} {dataflow}"
