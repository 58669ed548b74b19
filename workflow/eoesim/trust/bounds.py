"""Physical-bounds checks: values no real system can produce, whatever the simulator or surrogate says.

Columns are selected by the unit in their name (the tables' convention: ``latency_ns``, ``_cycles``,
``_pct``, ``_bytes_per_s``), so a new column with a unit suffix is covered without touching this file.
"""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd

from eoesim.trust.checks import Finding, TableContext, check, every_simulator, simulated_only

#: quantities that cannot be negative: times, cycle counts, counts of words/bytes/packets, rates, areas, power
NONNEG = re.compile(r"(_cycles?|_ns|_us|_ms|_s|_ticks|_words|_bytes|_bytes_per_s|_MBps|_GBps|_per_cycle|_per_s|"
                    r"_W|_mW|_nJ|_pJ_per_byte|_mm2|_j|_hops|^average_hops|^(packets|flits)_(injected|received)|^requests_\w+)$")
#: signed by construction: SCALE-Sim's DRAM/SRAM start/stop cycles are negative for prefetch before t0
SIGNED = re.compile(r"_(start|stop)_cycle$|_rel_err_pct$")
PERCENT = re.compile(r"_pct$")
#: fractions of a whole (0..1): utilizations, hit rates, time fractions, read share, delivered share
FRACTION = re.compile(r"(utilization|hit_rate|_frac_mean|^read_fraction|^delivered_fraction)$")
#: MQSim's own IOPS/Bandwidth fields are count / floor(simulated s): inf below 1 s by design (evidence only)
NOT_REQUIRED = re.compile(r"^mqsim_reported_")
#: relative slack for "not above the peak" comparisons (float noise, requests accepted at the end of a run)
PEAK_SLACK = 0.02
#: per-channel data-bus width (bits) of the memory models, for the independent peak bandwidth. JEDEC's HBM3
#: has 64-bit channels, but Ramulator 2.0 (tag v2.0a, src/dram/impl/HBM3.cpp org_presets: dq = 128) models
#: HBM3 with HBM2's 128-bit channel, so its HBM3_2Gbps channel peaks at 32 GB/s: the peak of what ran.
BUS_BITS = {"HBM": 128, "HBM2": 128, "HBM3": 128, "DDR3": 64, "DDR4": 64}
_GBPS = re.compile(r"(\d+(?:\.\d+)?)Gbps")
_MTS = re.compile(r"_(\d{3,5})[A-Z]*$")


def _numeric(table: pd.DataFrame, pattern: re.Pattern, exclude: re.Pattern | None = None) -> list[str]:
    return [c for c in table.columns if pattern.search(c) and not (exclude and exclude.search(c))
            and pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])]


def _column_findings(table: pd.DataFrame, columns: list[str], bad, what: str) -> list[Finding]:
    out = []
    for col in columns:
        mask = bad(table[col])
        if mask.any():
            labels = tuple(table.index[mask])
            worst = table.loc[mask, col].iloc[0]
            out.append(Finding(labels, f"{col} {what} in {len(labels)} row(s) (e.g. {worst:g})"))
    return out


@check("negative_value", "error", applies=every_simulator,
       hint="a negative time/count/rate is a parser or unit bug (or an overflow in the simulator): compare the "
            "row with the run's native output")
def negative_value(ctx: TableContext) -> list[Finding]:
    """Latencies, cycle counts, byte/word/packet counts, bandwidths, areas and power are never negative."""
    cols = _numeric(ctx.table, NONNEG, SIGNED)
    return _column_findings(ctx.table, cols, lambda s: s < 0, "is negative")


@check("percent_out_of_range", "error", applies=every_simulator,
       hint="utilization above 100 % means the simulator (or our unit conversion) counts work the array "
            "or link cannot do; check the array size and dataflow the run really used")
def percent_out_of_range(ctx: TableContext) -> list[Finding]:
    """Percentages (e.g. SCALE-Sim compute_util_pct, mapping_efficiency_pct) lie in 0..100 and fractions
    (utilizations, hit rates, time fractions) in 0..1; anything else is a misread or misconfigured run."""
    pct = _numeric(ctx.table, PERCENT, SIGNED)
    frac = _numeric(ctx.table, FRACTION)
    return (_column_findings(ctx.table, pct, lambda s: (s < 0) | (s > 100 + 1e-9), "outside 0..100 %")
            + _column_findings(ctx.table, frac, lambda s: (s < 0) | (s > 1 + 1e-9), "outside 0..1"))


def _usable(ctx: TableContext) -> pd.DataFrame:
    """Rows that must carry numbers: all but surrogate rows outside their validated domain (which are
    reported by surrogate_out_of_domain, since the surrogate declines to extrapolate)."""
    table = ctx.table
    if "in_domain" in table and "fidelity" in table:
        out = (table["fidelity"] == "surrogate") & (table["in_domain"].astype(str) == "False")
        return table[~out]
    return table


@check("non_finite_value", "error", applies=every_simulator,
       hint="inf/NaN in a metric: the simulator divided by zero or completed nothing (e.g. MQSim's IOPS over "
            "< 1 s); look at the run's stdout and native report")
def non_finite_value(ctx: TableContext) -> list[Finding]:
    """A metric the stitch needs (the adapter's required_metrics) must be a finite number, and no numeric column may
    hold inf (MQSim's own IOPS/Bandwidth fields excepted: kept as evidence of its integer-division bug)."""
    table = _usable(ctx)
    required = [c for c in ctx.adapter.required_metrics if c in table]
    # MQSim leaves latencies NaN for a flow that completed nothing; that is caught as 0 bytes below
    if ctx.simulator == "mqsim" and "bytes_transferred" in table:
        table = table[table["bytes_transferred"].fillna(1) > 0]
    column, value = ctx.adapter.required_rows or (None, None)
    if column in table:
        table = table[table[column].astype(str) == value]
    finite = lambda s: ~np.isfinite(pd.to_numeric(s, errors="coerce").astype(float))  # noqa: E731
    out = _column_findings(table, required, finite, "is not a finite number")
    numeric = [c for c in _numeric(table, re.compile(".")) if c not in required and not NOT_REQUIRED.search(c)]
    out += _column_findings(table, numeric, lambda s: np.isinf(s.astype(float)), "is infinite")
    return out


@check("surrogate_out_of_domain", "warning", applies=every_simulator,
       hint="the calibrated surrogate was queried outside the domain it was validated on; its metrics are "
            "left empty (or unvalidated): run the real simulator or move the point into the domain")
def surrogate_out_of_domain(ctx: TableContext) -> list[Finding]:
    """Surrogate rows with in_domain == False carry no validated number; the report must say so."""
    table = ctx.table
    if "in_domain" not in table or "fidelity" not in table:
        return []
    mask = (table["fidelity"] == "surrogate") & (table["in_domain"].astype(str) == "False")
    if not mask.any():
        return []
    return [Finding(tuple(table.index[mask]), f"{int(mask.sum())} surrogate row(s) outside the validated domain")]


@check("received_above_injected", "error",
       hint="a network cannot deliver more packets than were injected: the stats were read from the wrong "
            "vnet/total line or a second stats dump")
def received_above_injected(ctx: TableContext) -> list[Finding]:
    """Garnet: packets_received <= packets_injected and flits_received <= flits_injected (per row)."""
    out = []
    for kind in ("packets", "flits"):
        inj, rec = f"{kind}_injected", f"{kind}_received"
        if inj in ctx.table and rec in ctx.table:
            mask = ctx.table[rec] > ctx.table[inj]
            if mask.any():
                row = ctx.table.loc[mask].iloc[0]
                out.append(Finding(tuple(ctx.table.index[mask]),
                                   f"{rec} {row[rec]:g} > {inj} {row[inj]:g}"))
    return out


def standard_peak_bytes_per_s(standard: str, timing_preset: str, channels: int) -> float | None:
    """JEDEC peak = channels x bus width x data rate, from the timing preset's name (HBM2_2Gbps: 2000 MT/s
    per pin; DDR4_2400R: 2400 MT/s); None for a standard or preset name this table does not know."""
    bits = BUS_BITS.get(str(standard))
    if bits is None or not isinstance(timing_preset, str):
        return None
    if m := _GBPS.search(timing_preset):
        rate_mts = float(m.group(1)) * 1000
    elif m := _MTS.search(timing_preset):
        rate_mts = float(m.group(1))
    else:
        return None
    return channels * bits / 8 * rate_mts * 1e6


@check("bandwidth_above_peak", "error",
       hint="achieved bandwidth above the memory's peak means the request size, clock or channel count of "
            "the run differ from what we configured; compare the run's config with the standard's preset")
def bandwidth_above_peak(ctx: TableContext) -> list[Finding]:
    """Ramulator's achieved bandwidth cannot exceed the configured memory's peak: the table's peak column
    and, for known JEDEC standards, channels x bus width x data rate computed independently here."""
    table = ctx.table
    achieved = table.get("system_achieved_bandwidth_bytes_per_s")
    if achieved is None:
        return []
    if "peak_bandwidth_bytes_per_s" in table:
        peak = table["peak_bandwidth_bytes_per_s"].astype(float)
    else:
        peak = pd.Series(math.inf, index=table.index)
    channels = table.get("num_channels")
    if channels is not None and "standard" in table and "timing_preset" in table:
        jedec = pd.Series([standard_peak_bytes_per_s(s, t, int(c)) for s, t, c in
                           zip(table["standard"], table["timing_preset"], channels)], index=table.index, dtype=float)
        peak = pd.concat([peak, jedec], axis=1).min(axis=1)
    mask = achieved.astype(float) > peak * (1 + PEAK_SLACK)
    if not mask.any():
        return []
    row = table.loc[mask].iloc[0]
    return [Finding(tuple(table.index[mask]), f"achieved {row['system_achieved_bandwidth_bytes_per_s'] / 1e9:.3g} "
                    f"GB/s > peak {peak[mask].iloc[0] / 1e9:.3g} GB/s")]


@check("scalesim_dram_bandwidth_above_interface", "warning",
       hint="with InterfaceBandwidth USER, SCALE-Sim v3 reports average DRAM bandwidths above the configured "
            "interface (measured: 10 words/cycle with Bandwidth 4); do not read these columns as a "
            "bandwidth-limited result")
@simulated_only
def scalesim_dram_bandwidth(ctx: TableContext) -> list[Finding]:
    """In USER interface mode each operand's average DRAM bandwidth should not exceed the configured
    interface bandwidth (words/cycle, from the run's parameters); SCALE-Sim v3 does not enforce it, so
    this is a warning that the reported DRAM bandwidths are not what the interface allows."""
    table = ctx.simulated()
    if "interface_bandwidth" not in table:
        return []
    cols = [c for c in table.columns if c.endswith("_dram_bw_words_per_cycle")]
    out = []
    for run_id, rows in table[table["interface_bandwidth"].astype(str).str.lower() == "user"].groupby("run_id"):
        record = ctx.run_record(str(run_id))
        limit = (record or {}).get("parameters", {}).get("dram_bandwidth_words_per_cycle")
        if limit is None:
            continue
        mask = (rows[cols] > limit * (1 + PEAK_SLACK)).any(axis=1)
        if mask.any():
            worst = rows.loc[mask, cols].max().max()
            out.append(Finding(tuple(rows.index[mask]), f"run {run_id}: DRAM bandwidth up to {worst:.3g} "
                               f"words/cycle > interface {limit} words/cycle"))
    return out


def _ssd_limits_bytes_per_s(config_xml) -> dict[str, float]:
    """Flash-channel bus and host-interface ceilings from a rendered ssdconfig.xml."""
    root = ET.parse(config_xml).getroot()

    def num(tag: str) -> float | None:
        el = root.find(f".//{tag}")
        try:
            return float(el.text) if el is not None and el.text else None
        except ValueError:
            return None

    limits = {}
    ch, width, rate = num("Flash_Channel_Count"), num("Flash_Channel_Width"), num("Channel_Transfer_Rate")
    if ch and width and rate:
        limits["flash channels (count x width x MT/s)"] = ch * width * rate * 1e6
    lanes, lane_bw = num("PCIe_Lane_Count"), num("PCIe_Lane_Bandwidth")
    if lanes and lane_bw:
        limits["PCIe (lanes x GB/s)"] = lanes * lane_bw * 1e9
    return limits


@check("mqsim_throughput_implausible", "error",
       hint="MQSim's throughput must stay below the offered load and the SSD's channel/PCIe ceilings; a higher "
            "value means the span or byte count was misread (MQSim's own IOPS/Bandwidth fields are wrong by "
            "design - never use them)")
def mqsim_throughput_implausible(ctx: TableContext) -> list[Finding]:
    """Achieved SSD throughput cannot exceed the offered load, nor the flash-channel bus (channels x width x
    transfer rate) or the host interface (PCIe lanes x lane bandwidth) of the configuration that ran."""
    table = ctx.table
    out = []
    # (achieved, ceiling, ceiling unit in bytes/s): the surrogate's offered and saturation loads are MB/s
    pairs = (("throughput_bytes_per_s", "offered_load_MBps", 1e6),
             ("throughput_bytes_per_s", "saturation_throughput_MBps", 1e6),
             ("throughput_bytes_per_s", "offered_bandwidth_bytes_per_s", 1.0))
    for got, ceiling, unit in pairs:
        if got in table and ceiling in table:
            mask = table[got].astype(float) > table[ceiling].astype(float) * unit * (1 + PEAK_SLACK)
            if mask.any():
                row = table.loc[mask].iloc[0]
                out.append(Finding(tuple(table.index[mask]), f"{got} {row[got]:.4g} > {ceiling} {row[ceiling]:.4g}"))
    if "throughput_bytes_per_s" not in table:
        return out
    for run_id, rundir in ctx.simulated_run_dirs():
        config = rundir / "ssdconfig.xml"
        if not config.is_file():
            continue
        rows = table.loc[list(ctx.rows_of_run(run_id))]
        for what, limit in _ssd_limits_bytes_per_s(config).items():
            mask = rows["throughput_bytes_per_s"].astype(float) > limit * (1 + PEAK_SLACK)
            if mask.any():
                out.append(Finding(tuple(rows.index[mask]), f"run {run_id}: throughput "
                                   f"{rows.loc[mask, 'throughput_bytes_per_s'].max() / 1e6:.4g} MB/s > {what} "
                                   f"{limit / 1e6:.4g} MB/s"))
    return out
