"""A study's real-run table -> the calibration-dataset frame a pack is fitted on (per simulator).

The packs in analysis/packs/ are fitted by ``eoesim.analysis.calibrate`` on the datasets in
analysis/calibration/<dir>/calibration.csv; each pack's ``training_frame`` reads that CSV's columns.
``dataset_frame(pack, table, runs)`` turns a study table (``results/<study>/tables/<sim>.csv``, the
adapter's ``parse()`` + ``annotate()`` columns) into the same columns, so a pack is regenerated from the
study's own runs by the same fitting and validation code (rule ``calibrate_pack``).

Only real runs: every row of the table must have ``fidelity == "simulate"``; a table with surrogate rows
is refused with an error naming the simulator and how to provide it. A run whose fixed settings differ
from the ones the dataset held constant (the pack's form has no input for them) is refused too:
``unmet(pack, point)`` lists them, and the workflow asks for a pack only when no planned run has any.

Quantities the table lacks are derived from the run's parameters (``runs``: run id -> the simulator's
point, as in ``PLAN.runs``) or from other rows of the same table:

* scalesim - one row per (run, GEMM); ``gemm`` is the GEMM's shape ``MxNxK`` (the dataset's g00..g15 name
  shapes too; it is the leave-one-GEMM-out group). SCALE-Sim is deterministic, so a GEMM repeated on the
  same array configuration (another expert or run) is the same observation and is kept once.
* garnet - the ``vnet == all`` row of each run, with the pack's inputs as the adapter's ``surrogate_query``
  makes them (a Mesh_XY is one chiplet; chiplet_mesh adds the chiplet grid and the interposer links'
  latency and width). Required: one of those topologies and every other setting at its calibrated value
  (table routing, single-flit packets, num_dirs = num_cpus, network clock = tester clock).
* ramulator - one row per run from the system-level columns (request-weighted read latency, bandwidth of
  all channels); offered_load_frac_of_peak = offered / peak bandwidth of the point. Required as in the
  dataset: LoadStoreTrace frontend (open loop, exact offered rate), FRFCFS, AllBank refresh, open rows,
  RoBaRaCoCh, one rank.
* mqsim - one row per trace flow, in the pack's inputs as the adapter's ``surrogate_flow_row`` makes them
  (request size, requests per transfer, transfers, re-read or fresh ranges, footprint, read fraction of
  the requests, nominal offered load = transfer bytes / mean gap, and the transfers' arrival times of the
  rendered trace). Required: trace flows, every setting the pack has no input for at its calibrated value
  (the row's ``fixed_settings``), and all transfers of a flow split into the same number of requests.
  As in the dataset, a flow whose achieved throughput is below ``SATURATED_ACHIEVED_RATIO`` x its offered
  load is its cell's probe; the cell's saturation throughput is its probes' highest achieved throughput,
  and ``load_spec_frac`` of the others is offered / saturation. A cell without a probe is an error.
* rapidchiplet (pack rapidchiplet) - the ``package`` row of each run; ``seed`` is the run's RNG seed
  (``point.seed`` or 0, as the rendered run uses it; it picks the hotspot chiplets). Required: the
  experiment route with splif routing on a grid placement (the dataset's setup).
* rapidchiplet (pack rapidchiplet_booksim) - the ``booksim_load`` rows; required in addition: the BookSim
  sweep enabled and random_uniform traffic (the dataset's sweeps).
* cacti - one row per SRAM (the table has the dataset's columns); CACTI is deterministic, so the same SRAM in
  several runs (ifmap and filter of one size, or another design point) is one observation, kept once. Every
  setting is an input of the pack (those a study holds fixed bound its domain), but each family (node, cell
  type, kind, ways) needs SRAMs of at least ``CACTI_MIN_SIZES`` sizes to fit its curve in size.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from eoesim.analysis.surrogate import MIN_TRAINING_ROWS
from eoesim.analysis.surrogate_cacti import CactiSurrogate
from eoesim.errors import ConfigError, SimulatorUnavailableError
from eoesim.simulators.base import get_simulator
from eoesim.simulators.garnet import SURROGATE_TOPOLOGIES
from eoesim.simulators.mqsim import surrogate_flow_row
from eoesim.surrogates import CALIBRATED, SETTINGS_COLUMN

SIMULATED = "simulate"
SITE = "config/simulators.yaml (or $EOESIM_SIMULATORS)"
#: how to make each simulator run for real here (what the refusal of a surrogate table says)
HOW_TO_PROVIDE = {
    "scalesim": "install the pinned scalesim package (pip install scalesim, pinned in pyproject.toml) or set "
                f"scalesim.mode: docker and scalesim.image in {SITE}",
    "garnet": f"set garnet.binary (gem5.opt built for Garnet_standalone) and garnet.configs (gem5's configs/) in {SITE}",
    "ramulator": f"set ramulator.binary (ramulator2 of tag v2.0a), or ramulator.variant: v2.1 with "
                 f"ramulator.python_path, in {SITE}",
    "mqsim": f"set mqsim.binary (MQSim built from commit 7ec40e3) in {SITE}",
    "rapidchiplet": f"set rapidchiplet.checkout (spcl/rapidchiplet with booksim2/src/booksim built) in {SITE}",
    "cacti": f"set cacti.binary (cacti built in a HewlettPackard/cacti checkout, commit 1ffd8df) in {SITE}",
}
#: a flow whose achieved throughput is below this fraction of its offered load is saturated (a probe)
SATURATED_ACHIEVED_RATIO = 0.9
MB = 1e6

Point = Mapping[str, Any]
Runs = Mapping[str, Point]


def require_real(simulator: str, table: pd.DataFrame, where: str = "table") -> None:
    """Refuse a table that is not entirely real simulator runs (a pack is never fitted on a surrogate)."""
    if "fidelity" not in table.columns:
        raise ConfigError(f"calibrate {simulator}: {where} has no 'fidelity' column; allowed: a study table "
                          "of real runs (results/<study>/tables/<simulator>.csv)")
    fidelity = table["fidelity"].astype(str)
    not_real = fidelity[fidelity != SIMULATED]
    if len(table) == 0 or len(not_real):
        what = (f"{len(not_real)} of {len(table)} rows have fidelity {sorted(set(not_real))}" if len(table)
                else "it has no rows")
        raise SimulatorUnavailableError(not_real_message(simulator, f"{where} is not made of real runs ({what})"))


def not_real_message(simulator: str, what: str) -> str:
    """Why a pack of ``simulator`` cannot be regenerated, and how to provide the real simulator."""
    return (f"calibrate {simulator}: {what}; a pack is regenerated only from real {simulator} runs: "
            f"{HOW_TO_PROVIDE[simulator]}, and set fidelity.{simulator}: simulate in the calibrate study")


def _differs(label: str, value: Any, allowed: Any, why: str = "") -> list[str]:
    return [] if value == allowed else [f"{label} = {value!r}; allowed: {allowed!r}{why}"]


def _params(runs: Runs, run_id: str, simulator: str) -> Point:
    if run_id not in runs:
        raise ConfigError(f"calibrate {simulator}: run {run_id} of the table is not a run of the study "
                          "(stale table?); allowed: the study's planned runs")
    return runs[run_id]


# ----------------------------------------------------------------------------------------------- scalesim
SCALESIM_COLUMNS = ["source", "gemm", "m", "n", "k", "array_rows", "array_cols", "dataflow", "interface_bandwidth",
                    "ifmap_sram_kib", "filter_sram_kib", "ofmap_sram_kib", "total_cycles",
                    "total_cycles_incl_prefetch", "stall_cycles", "overall_util_pct", "mapping_efficiency_pct",
                    "compute_util_pct"]
SCALESIM_KEY = ["m", "n", "k", "array_rows", "array_cols", "dataflow", "interface_bandwidth",
                "ifmap_sram_kib", "filter_sram_kib", "ofmap_sram_kib"]


def scalesim_unmet(point: Point) -> list[str]:
    return []


def scalesim_dataset(table: pd.DataFrame, runs: Runs) -> pd.DataFrame:
    out = table.copy()
    out["gemm"] = (out["m"].astype(int).astype(str) + "x" + out["n"].astype(int).astype(str) + "x"
                   + out["k"].astype(int).astype(str))
    out = out[["run_id", *SCALESIM_COLUMNS]]
    return out.drop_duplicates(subset=SCALESIM_KEY, keep="first").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------- garnet
def garnet_unmet(point: Point) -> list[str]:
    if point["topology"] not in SURROGATE_TOPOLOGIES:
        return [f"workload.garnet.topology = {point['topology']!r}; allowed: {list(SURROGATE_TOPOLOGIES)}"]
    level = get_simulator("garnet").surrogate_query(point)[SETTINGS_COLUMN].iloc[0]
    return [] if level == CALIBRATED else [f"workload.garnet: {level}"]


def garnet_dataset(table: pd.DataFrame, runs: Runs) -> pd.DataFrame:
    rows = table[table["vnet"].astype(str) == "all"].reset_index(drop=True)
    query = pd.concat([get_simulator("garnet").surrogate_query(_params(runs, rid, "garnet")) for rid in rows["run_id"]],
                      ignore_index=True)
    return pd.DataFrame({
        "run_id": rows["run_id"], "topology": query["topology"], "rows": rows["mesh_rows"],
        "cols": rows["num_cpus"] // rows["mesh_rows"],
        "num_cpus": rows["num_cpus"], "pattern": rows["synthetic"], "injection_rate": rows["injection_rate"],
        "vcs_per_vnet": rows["vcs_per_vnet"], "link_latency": rows["link_latency_cycles"],
        "router_latency": rows["router_latency_cycles"], "inj_vnet": rows["inj_vnet"],
        "link_width_bits": query["link_width_bits"], "chiplet_rows": query["chiplet_rows"],
        "chiplet_cols": query["chiplet_cols"], "interposer_link_latency": query["interposer_link_latency"],
        "interposer_link_width_bits": query["interposer_link_width_bits"],
        "ruby_clock": [f"{_params(runs, rid, 'garnet')['ruby_clock_ghz']:g}GHz" for rid in rows["run_id"]],
        "sim_ticks": rows["sim_ticks"], "packets_injected": rows["packets_injected"],
        "packets_received": rows["packets_received"], "average_hops": rows["average_hops"],
        "average_packet_queueing_latency_cycles": rows["average_packet_queueing_latency_cycles"],
        "average_packet_network_latency_cycles": rows["average_packet_network_latency_cycles"],
        "average_packet_latency_cycles": rows["average_packet_latency_cycles"],
        "tester_cycles": rows["tester_cycles"],
        "reception_rate_pkts_per_node_per_cycle": rows["reception_rate_pkts_per_node_per_cycle"],
        "offered_rate_pkts_per_node_per_cycle": rows["offered_rate_pkts_per_node_per_cycle"],
    })


# ---------------------------------------------------------------------------------------------- ramulator
RAMULATOR_FIXED = {"frontend": "LoadStoreTrace", "scheduler": "FRFCFS", "refresh": "AllBank", "row_policy": "open",
                   "addr_mapper": "RoBaRaCoCh", "ranks": 1}


def ramulator_unmet(point: Point) -> list[str]:
    return [r for key, value in RAMULATOR_FIXED.items()
            for r in _differs(f"workload.ramulator {key}", point[key], value)]


def ramulator_dataset(table: pd.DataFrame, runs: Runs) -> pd.DataFrame:
    by_run = table.groupby("run_id", sort=False)
    first = by_run.head(1).set_index("run_id")
    sums = by_run.agg(reads_served=("reads_served", "sum"), row_hits=("row_hits", "sum"),
                      row_misses=("row_misses", "sum"), row_conflicts=("row_conflicts", "sum"),
                      memory_system_cycles=("memory_system_cycles", "max")).loc[first.index]
    classified = sums["row_hits"] + sums["row_misses"] + sums["row_conflicts"]
    peak = first["peak_bandwidth_bytes_per_s"]
    return pd.DataFrame({
        "standard": first["standard"], "org_preset": first["org_preset"],
        "timing_preset": first["timing_preset"], "channels": first["num_channels"], "pattern": first["pattern"],
        "read_fraction": first["read_fraction"],
        "offered_load_frac_of_peak": first["offered_bandwidth_bytes_per_s"] / peak,
        "frontend_clock_ratio": first["frontend_clock_ratio"], "memory_clock_ratio": first["memory_clock_ratio"],
        "offered_req_per_mem_cycle": first["offered_req_per_mem_cycle"],
        "offered_bandwidth_GBps": first["offered_bandwidth_bytes_per_s"] / 1e9,
        "num_requests": first["num_requests"], "trace_seed": first["seed"],
        "memory_system_cycles": sums["memory_system_cycles"],
        "reads": first["system_read_requests"], "writes": first["system_write_requests"],
        "reads_served": sums["reads_served"],
        "avg_read_latency_cycles": first["system_avg_read_latency_cycles"],
        "avg_read_latency_ns": first["system_avg_read_latency_ns"],
        "row_hits": sums["row_hits"], "row_misses": sums["row_misses"], "row_conflicts": sums["row_conflicts"],
        "row_hit_rate": sums["row_hits"] / classified.where(classified > 0),
        "achieved_bandwidth_GBps": first["system_achieved_bandwidth_bytes_per_s"] / 1e9,
        "peak_bandwidth_GBps": peak / 1e9,
        "bandwidth_utilization": first["system_bandwidth_utilization"],
        "status": "ok",
    }).rename_axis("run_id").reset_index()


# -------------------------------------------------------------------------------------------------- mqsim
def mqsim_unmet(point: Point) -> list[str]:
    out = []
    for i, flow in enumerate(point["flows"]):
        out += _differs(f"workload.mqsim flows[{i}].kind", flow["kind"], "trace")
        if flow["kind"] != "trace":
            continue
        row = surrogate_flow_row(point, i)
        if row[SETTINGS_COLUMN] != CALIBRATED:
            out.append(f"workload.mqsim flows[{i}]: {row[SETTINGS_COLUMN]}")
        if not np.isfinite(row["requests_per_transfer"]):
            out.append(f"workload.mqsim flows[{i}]: transfers of different request counts; allowed: every expert load "
                       "and checkpoint of the flow split into the same number of requests")
    return out


def mqsim_dataset(table: pd.DataFrame, runs: Runs) -> pd.DataFrame:
    rows = table.reset_index(drop=True)
    achieved = rows["throughput_bytes_per_s"] / MB
    probe = (achieved < SATURATED_ACHIEVED_RATIO * rows["offered_bandwidth_bytes_per_s"] / MB).to_numpy()
    inputs = pd.DataFrame([surrogate_flow_row(_params(runs, rid, "mqsim"), int(i))
                           for rid, i in zip(rows["run_id"], rows["flow_index"])])
    frame = pd.DataFrame({
        "run_id": rows["run_id"], "source": "study", "flow_index": rows["flow_index"],
        **{c: inputs[c] for c in ("channels", "chips_per_channel", "dies_per_chip", "planes_per_die",
                                  "flash_technology", "request_size_KiB", "read_fraction", "pattern",
                                  "requests_per_transfer", "transfers", "footprint_KiB", "offered_load_MBps",
                                  "transfer_arrivals_us")},
        "load_spec": np.where(probe, "probe", "satX"),
        "realized_offered_load_MBps": rows["offered_bandwidth_bytes_per_s"] / MB,
        "achieved_throughput_MBps": achieved,
        "device_response_time_mean_us": rows["device_response_time_mean_us"],
        "end_to_end_delay_mean_us": rows["end_to_end_delay_mean_us"],
        "requests_serviced": rows["requests_serviced"], "status": "ok",
    })
    cell = ["channels", "chips_per_channel", "flash_technology", "request_size_KiB", "read_fraction", "pattern",
            "requests_per_transfer"]
    saturation = (frame[probe].groupby(cell)["achieved_throughput_MBps"].max()
                  .rename("cell_saturation_throughput_MBps").reset_index())
    frame = frame.merge(saturation, on=cell, how="left")
    missing = frame[frame["cell_saturation_throughput_MBps"].isna()]
    if len(missing):
        row = missing.iloc[0]
        raise ConfigError(
            f"calibrate mqsim: the cell {dict(row[cell])} (run {row['run_id']}) has no saturated flow, so its "
            "saturation throughput (the dataset's probe) is unknown; allowed: a sweep with, per cell, a flow offered "
            f"more than the SSD sustains (achieved < {SATURATED_ACHIEVED_RATIO} x offered), e.g. a smaller "
            "arrival.mean_interval_us")
    frame["load_spec_frac"] = np.where(probe, 1.0,
                                       frame["offered_load_MBps"] / frame["cell_saturation_throughput_MBps"])
    return frame


# ------------------------------------------------------------------------------------------- rapidchiplet
RAPIDCHIPLET_OUTPUTS = ["chip_width_mm", "chip_height_mm", "total_chiplet_area_mm2", "total_interposer_area_mm2",
                        "total_power_W", "total_chiplet_power_W", "total_interposer_power_W", "link_count",
                        "latency_min_cycles", "latency_avg_cycles", "latency_max_cycles",
                        "aggregate_throughput_bits_per_cycle"]


def rapidchiplet_unmet(point: Point) -> list[str]:
    return (_differs("workload.rapidchiplet.route", point["route"], "experiment", " (run_experiment.py)")
            + _differs("workload.rapidchiplet.routing_algorithm", point["routing_algorithm"], "splif")
            + _differs("workload.rapidchiplet.hex_radius", point["hex_radius"], None, " (a grid placement)"))


def rapidchiplet_booksim_unmet(point: Point) -> list[str]:
    return (rapidchiplet_unmet(point)
            + _differs("workload.rapidchiplet.booksim.enabled", point["booksim"]["enabled"], True)
            + _differs("workload.rapidchiplet.traffic.pattern", point["traffic"]["pattern"], "random_uniform"))


def _scale(rows: pd.DataFrame) -> pd.Series:
    """"RxC" of a grid placement, the radius of a hexagonal one (as the shared datasets write them)."""
    grid = pd.to_numeric(rows["grid_rows"], errors="coerce").notna() & pd.to_numeric(rows["grid_cols"], errors="coerce").notna()
    rc = (pd.to_numeric(rows["grid_rows"], errors="coerce").fillna(0).astype(int).astype(str) + "x"
          + pd.to_numeric(rows["grid_cols"], errors="coerce").fillna(0).astype(int).astype(str))
    radius = rows["hex_radius"] if "hex_radius" in rows else pd.Series(np.nan, index=rows.index)
    return rc.where(grid, pd.to_numeric(radius, errors="coerce").fillna(0).astype(int).astype(str))


def rapidchiplet_dataset(table: pd.DataFrame, runs: Runs) -> pd.DataFrame:
    rows = table[table["record"] == "package"].reset_index(drop=True)
    out = pd.DataFrame({
        "run_id": rows["run_id"], "topology": rows["topology"], "scale": _scale(rows),
        "grid_rows": rows["grid_rows"], "grid_cols": rows["grid_cols"],
        "hex_radius": rows["hex_radius"] if "hex_radius" in rows else np.nan,
        "n_chiplets": rows["n_chiplets"], "traffic_pattern": rows["traffic_pattern"],
        "seed": [_params(runs, rid, "rapidchiplet")["seed"] or 0 for rid in rows["run_id"]],
    })
    for col in RAPIDCHIPLET_OUTPUTS:
        out[col] = rows[col] if col in rows else np.nan
    out["status"] = "ok"
    return out


def rapidchiplet_booksim_dataset(table: pd.DataFrame, runs: Runs) -> pd.DataFrame:
    rows = table[table["record"] == "booksim_load"].reset_index(drop=True)
    return pd.DataFrame({
        "run_id": rows["run_id"], "topology": rows["topology"], "scale": _scale(rows),
        "grid_rows": rows["grid_rows"], "grid_cols": rows["grid_cols"], "n_chiplets": rows["n_chiplets"],
        "traffic_pattern": rows["traffic_pattern"],
        "injection_rate_flits_per_node_per_cycle": rows["injection_rate_flits_per_node_per_cycle"],
        "packet_latency_avg_cycles": rows["packet_latency_avg_cycles"],
        "packet_latency_min_cycles": rows["packet_latency_min_cycles"],
        "packet_latency_max_cycles": rows["packet_latency_max_cycles"],
        "hops_avg": rows["hops_avg"], "zero_load_packet_latency_cycles": rows["zero_load_packet_latency_cycles"],
        "beyond_rc_saturation_criterion": rows["beyond_saturation_criterion"],
        "is_max_stable_load": rows["is_max_stable_load"], "status": "ok",
    })


CACTI_MIN_SIZES = 3


def cacti_unmet(point: Point) -> list[str]:
    """Nothing: every CACTI setting is an input of the pack."""
    return []


def cacti_dataset(table: pd.DataFrame, runs: Runs) -> pd.DataFrame:
    key = [*CactiSurrogate.inputs, *CactiSurrogate.categorical_inputs]
    out = table.drop_duplicates(subset=key).reset_index(drop=True).copy()
    out["status"] = "ok"
    return out


def cacti_unidentified(runs: Runs) -> list[str]:
    """A family's curve in size needs SRAMs of CACTI_MIN_SIZES sizes or more (the design points' SRAMs pooled)."""
    sizes: dict[tuple, set] = {}
    for point in runs.values():
        for s in point["srams"]:
            family = (point["technology_nm"], point["cell_type"], s["kind"], s["associativity"])
            sizes.setdefault(family, set()).add(s["size_bytes"])
    few = {k: sorted(v) for k, v in sizes.items() if len(v) < CACTI_MIN_SIZES}
    if not few:
        return []
    family, got = next(iter(few.items()))
    return [f"the CACTI runs give family (node, cell type, kind, ways) {family} SRAMs of {len(got)} size(s) {got}; "
            f"allowed: at least {CACTI_MIN_SIZES} sizes per family (sweep hardware.chiplet.sram_kib)"]


@dataclass(frozen=True)
class TableMapping:
    """How a simulator's study table becomes one pack's calibration dataset."""

    simulator: str
    #: the point's settings that differ from what the dataset held fixed (empty: the run maps)
    unmet: Callable[[Point], list[str]]
    to_dataset: Callable[[pd.DataFrame, Runs], pd.DataFrame]


#: pack -> its simulator and mapping; every pack of eoesim.analysis.packs.SIMULATOR_PACKS has one
MAPPINGS: dict[str, TableMapping] = {
    "scalesim": TableMapping("scalesim", scalesim_unmet, scalesim_dataset),
    "garnet": TableMapping("garnet", garnet_unmet, garnet_dataset),
    "ramulator": TableMapping("ramulator", ramulator_unmet, ramulator_dataset),
    "mqsim": TableMapping("mqsim", mqsim_unmet, mqsim_dataset),
    "rapidchiplet": TableMapping("rapidchiplet", rapidchiplet_unmet, rapidchiplet_dataset),
    "rapidchiplet_booksim": TableMapping("rapidchiplet", rapidchiplet_booksim_unmet, rapidchiplet_booksim_dataset),
    "cacti": TableMapping("cacti", cacti_unmet, cacti_dataset),
}


def _mapping(pack: str) -> TableMapping:
    if pack not in MAPPINGS:
        raise ConfigError(f"calibrate: {pack!r} is not a known pack; allowed: {sorted(MAPPINGS)}")
    return MAPPINGS[pack]


def packs_of(simulator: str) -> list[str]:
    """The packs a real table of ``simulator`` can regenerate."""
    return [pack for pack, m in MAPPINGS.items() if m.simulator == simulator]


def scalesim_unidentified(runs: Runs) -> list[str]:
    """The folding form has separate array-row and array-column coefficients: with square arrays only,
    the fit pins their sum and splits it arbitrarily (CV error 0 %, wrong on any non-square array)."""
    if any(point["array_rows"] != point["array_cols"] for point in runs.values()):
        return []
    return ["every run has a square array, so the form's row and column coefficients cannot be told apart; "
            "allowed: at least one non-square hardware.chiplet.array (e.g. [32, 64])"]


def too_few_rows(rows: int) -> list[str]:
    """A pack whose dataset has one row per run (per trace flow for MQSim) needs enough runs to be fitted."""
    if rows >= MIN_TRAINING_ROWS:
        return []
    return [f"the study's runs give {rows} training row(s) and a fit needs at least {MIN_TRAINING_ROWS}; allowed: "
            f"a sweep over at least {MIN_TRAINING_ROWS} values of the simulator's load "
            "(see config/studies/calibrate.yaml)"]


#: pack -> why a whole set of runs cannot identify the pack's parameters (empty: it can)
UNIDENTIFIED: dict[str, Callable[[Runs], list[str]]] = {
    "scalesim": scalesim_unidentified,
    "garnet": lambda runs: too_few_rows(len(runs)),
    "ramulator": lambda runs: too_few_rows(len(runs)),
    "rapidchiplet": lambda runs: too_few_rows(len(runs)),
    "mqsim": lambda runs: too_few_rows(sum(len(point["flows"]) for point in runs.values())),
    "cacti": cacti_unidentified,
}


def unmet(pack: str, runs: Runs) -> list[str]:
    """Why the planned runs of ``pack``'s simulator cannot regenerate it ("run <id>: ..."); empty if they can."""
    mapping = _mapping(pack)
    if not runs:
        return [f"the study plans no {mapping.simulator} run"]
    return [f"run {rid}: {reason}" for rid, point in runs.items() for reason in mapping.unmet(point)]


def unidentified(pack: str, runs: Runs) -> list[str]:
    """Why the planned runs together cannot pin down ``pack``'s parameters; empty if they can."""
    return UNIDENTIFIED[pack](runs) if pack in UNIDENTIFIED else []


def regenerable_packs(simulated_runs: Mapping[str, Runs]) -> list[str]:
    """Packs whose simulator runs for real (simulator -> its planned runs) with runs that all map."""
    return [pack for sim, runs in simulated_runs.items() for pack in packs_of(sim)
            if not unmet(pack, runs) and not unidentified(pack, runs)]


def dataset_frame(pack: str, table: pd.DataFrame, runs: Runs, where: str = "table") -> pd.DataFrame:
    """The calibration-dataset frame of ``pack`` from a real study table (see the module docstring)."""
    mapping = _mapping(pack)
    require_real(mapping.simulator, table, where)
    reasons = unmet(pack, {rid: _params(runs, rid, mapping.simulator) for rid in pd.unique(table["run_id"])})
    if reasons:
        raise ConfigError(f"calibrate {pack}: {reasons[0]} - the {pack} pack's dataset held this fixed, so its "
                          f"form has no input for it ({len(reasons)} such setting(s) in {where})")
    frame = mapping.to_dataset(table, runs)
    if frame.empty:
        raise ConfigError(f"calibrate {pack}: {where} has no rows the {pack} pack is fitted on; allowed: a "
                          f"{mapping.simulator} table with such rows (see eoesim.analysis.study_calibration)")
    return frame


def write_dataset(pack: str, table_path: Path, runs: Runs, out: Path) -> Path:
    """Write ``pack``'s calibration-dataset CSV from the real study table at ``table_path``."""
    frame = dataset_frame(pack, pd.read_csv(table_path, dtype={"run_id": str}), runs, where=str(table_path))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    return out
