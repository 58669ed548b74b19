"""The ComponentModel of one design point, backed by the study's component tables.

Each answer comes from the table of the simulator that models that component, for this design point's
run — simulated or predicted by the calibrated surrogate, whichever the plan chose — and carries that
row's ``fidelity`` and ``source``:

- GEMM cycles: the SCALE-Sim table (per-instance ``total_cycles`` of the same m, n, k on this chiplet);
  a shape SCALE-Sim was not run on (other prompt lengths, decode) comes from the calibrated SCALE-Sim
  surrogate for this array and dataflow (fidelity ``surrogate``; exact for ``interface_bandwidth: calc``,
  datasheet roofline otherwise).
- GEMM SRAM traffic (energy): the same SCALE-Sim row's ``sram_ifmap_reads_words``,
  ``sram_filter_reads_words``, ``sram_ofmap_writes_words``; a shape without a simulated row gets SCALE-Sim's
  exact count for this array and dataflow (components.analytic_sram_words, checked against real runs).
- HBM transfers: Ramulator's system read latency and achieved bandwidth for the memory system and
  access stream of ``workload.ramulator`` (when that is an HBM standard); DDR, and HBM without a usable
  Ramulator row: the hardware config's datasheet values (fidelity ``nominal``).
- SSD reads: MQSim's mean device response time plus bytes / throughput (simulated: the measured
  throughput; surrogate: its saturation throughput); without a usable row: datasheet values.
- SRAM energy per byte (the energy model, ``energy_model``): CACTI's (``tables/cacti.csv``, simulated or the
  calibrated surrogate inside its domain) for the ifmap and filter reads and the ofmap writes; without a
  usable CACTI row a buffer keeps the energy table's interpolated value.
- Network: Garnet's average packet latency per hop (``average_packet_latency_cycles / average_hops`` at
  its network clock) per hop, plus bytes / the package link bandwidth.

Load curves (what the serving engine asks, ``memory_curve`` / ``link_curve`` / ``ssd_curve``):

- one HBM stack: the memory system Ramulator models (``workload.ramulator``: standard, channels, pattern,
  read mix) as the calibrated Ramulator pack predicts it over offered loads 0..1.3 of its peak: capacity
  = the achieved bandwidth at saturation, latency vs utilization = the pack's read latency at utilization x
  capacity offered. Where the point's Ramulator row is a real run, the curve's latency is scaled to pass
  through the row's latency at the row's offered load, and its capacity is the row's achieved bandwidth
  when that run was saturated; fidelity and source are the row's;
- one package link: per-hop latency vs utilization from the Garnet pack's packet latency over injection
  rates for the point's Garnet network (utilization u = injection / the saturating injection, where the
  latency reaches ``SATURATION_FACTOR`` x its zero-load value), anchored to the row like the memory curve;
  capacity: the package link bandwidth;
- the SSD: MQSim's response time and throughput (load-independent here).

When a pack cannot answer for the point (no mapping, outside what it can evaluate), the curve is the row's
operating point held constant, or the datasheet's when there is no row - and the curve's source says so.

A value that is missing or not finite (e.g. a surrogate queried outside its domain returns NaN) falls
back to the datasheet model for that component, and the answer says so.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from eoesim.analysis.packs import load_pack, source_label
from eoesim.eoe.expert import Gemm
from eoesim.eoe.hardware import ChipletSpec, Hardware
from eoesim.errors import EoesimError
from eoesim.simulators.base import get_simulator
from eoesim.stitch.components import ComponentModel, Estimate, LoadCurve, TableComponentModel, analytic_sram_words
from eoesim.stitch.energy import EnergyModel

SRAM_WORD_COLUMNS = ("sram_ifmap_reads_words", "sram_filter_reads_words", "sram_ofmap_writes_words")
#: the CACTI column each scratchpad's SCALE-Sim word count is charged at (ifmap/filter read, ofmap written)
CACTI_SRAM_ENERGY = {"ifmap": "read_energy_pJ_per_byte", "filter": "read_energy_pJ_per_byte",
                     "ofmap": "write_energy_pJ_per_byte"}
#: utilization grid of the load curves (0..1 in 20 steps)
CURVE_POINTS = 21
#: offered loads (fraction of peak) the Ramulator pack is asked at to find the stack's ceiling
OFFERED = np.linspace(0.0, 1.3, 27)
#: a network saturates where its latency reaches this multiple of the zero-load latency
SATURATION_FACTOR = 4.0
INJECTION = np.geomspace(1e-3, 1.0, 60)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def cacti_sram_energy(cacti: pd.DataFrame | None) -> tuple[dict[str, float], str] | None:
    """Joules per byte of each scratchpad from the point's CACTI rows (simulated, or predicted inside the
    pack's domain) and their ``fidelity:source`` labels; None when no row is usable."""
    if cacti is None or cacti.empty or "name" not in cacti:
        return None
    per_byte, labels = {}, set()
    for row in cacti.to_dict("records"):
        column = CACTI_SRAM_ENERGY.get(str(row["name"]))
        if column is None or not _finite(row.get(column)) or row.get("in_domain") in (False, "False"):
            continue
        per_byte[str(row["name"])] = float(row[column]) * 1e-12
        labels.add(f"{row.get('fidelity')}:{row.get('source')}")
    return (per_byte, "; ".join(sorted(labels))) if per_byte else None


def _operating_point(row: Mapping[str, Any], capacity: float, latency_s: float, error_metric: str) -> LoadCurve:
    """A device's curve held at the one operating point its table row measured (when no load curve fits)."""
    return LoadCurve.constant(capacity, latency_s, row["fidelity"], f"{row['source']} (operating point, held constant)",
                              _rel_error(row, error_metric))


def _rel_error(row: Mapping[str, Any], metric: str) -> float | None:
    value = row.get(f"{metric}_rel_err_pct")
    return float(value) / 100 if _finite(value) else None


class StudyComponentModel(ComponentModel):
    """Component answers for one design point from its simulators' tables (see the module docstring).

    ``tables`` maps a simulator name to the rows of this point's run in ``tables/<simulator>.csv``;
    ``points`` maps it to that simulator's point parameters (as in the plan).
    """

    def __init__(self, hw: Hardware, tables: Mapping[str, pd.DataFrame], points: Mapping[str, Mapping[str, Any]]):
        self.hw = hw
        self.nominal = TableComponentModel.nominal(hw)
        self._scalesim_pack = None
        self.points = points
        scalesim = tables.get("scalesim")
        self.gemms: dict[tuple[int, int, int], tuple[float, str, str]] = {}
        self.sram: dict[tuple[int, int, int], tuple[float, float, float]] = {}
        if scalesim is not None:
            for row in scalesim.to_dict("records"):
                key = (int(row["m"]), int(row["n"]), int(row["k"]))
                self.gemms[key] = (float(row["total_cycles"]), row["fidelity"], row["source"])
                if row.get("fidelity") == "simulate" and all(_finite(row.get(c)) for c in SRAM_WORD_COLUMNS):
                    ifmap, filt, ofmap = (float(row[c]) for c in SRAM_WORD_COLUMNS)
                    self.sram[key] = (ifmap, filt, ofmap)
        self.hbm = self._first(tables.get("ramulator"), ("system_avg_read_latency_ns",
                                                         "system_achieved_bandwidth_bytes_per_s"))
        self.ssd = self._first(tables.get("mqsim"), ("device_response_time_mean_us",))
        garnet = tables.get("garnet")
        if garnet is not None and "vnet" in garnet:
            garnet = garnet[garnet["vnet"].astype(str) == "all"]
        self.noc = self._first(garnet, ("average_packet_latency_cycles", "average_hops"))
        self.sram_energy = cacti_sram_energy(tables.get("cacti"))

    def energy_model(self, base: EnergyModel | None = None) -> EnergyModel:
        """``base`` (default: the constants table) with CACTI's SRAM energy per byte where the point has it."""
        base = base or EnergyModel()
        return base if self.sram_energy is None else base.with_sram_energy(*self.sram_energy)

    @staticmethod
    def _first(table: pd.DataFrame | None, needed: tuple[str, ...]) -> dict[str, Any] | None:
        if table is None or table.empty or any(c not in table for c in needed):
            return None
        row = table.iloc[0].to_dict()
        return row if all(_finite(row[c]) for c in needed) else None

    def gemm_cycles(self, gemm: Gemm, chiplet: ChipletSpec) -> Estimate:
        key = (gemm.m, gemm.n, gemm.k)
        if key not in self.gemms:
            self.gemms[key] = self._scalesim_surrogate(gemm, chiplet)
        cycles, fidelity, source = self.gemms[key]
        return Estimate(cycles * gemm.instances, fidelity, source, 0.0 if fidelity == "simulate" else None)

    def gemm_sram_words(self, gemm: Gemm, chiplet: ChipletSpec) -> tuple[float, float, float]:
        key = (gemm.m, gemm.n, gemm.k)
        words = self.sram.get(key)
        if words is None:
            words = self.sram[key] = analytic_sram_words(gemm, chiplet)
        return words

    def _scalesim_surrogate(self, gemm: Gemm, chiplet: ChipletSpec) -> tuple[float, str, str]:
        if self.points.get("scalesim", {}).get("interface_bandwidth", "calc") != "calc":
            estimate = self.nominal.gemm_cycles(Gemm(gemm.name, gemm.m, gemm.n, gemm.k), chiplet)
            return estimate.value, estimate.fidelity, estimate.source
        if self._scalesim_pack is None:
            pack = load_pack("scalesim")
            self._scalesim_pack = (pack, source_label(pack))
        model, label = self._scalesim_pack
        cycles = model.cycles(gemm.m, gemm.n, gemm.k, chiplet.rows, chiplet.cols, chiplet.dataflow)
        return cycles, "surrogate", label

    def memory_transfer(self, nbytes: float, tier: str) -> Estimate:
        standard = str(self.points.get("ramulator", {}).get("standard", ""))
        if tier == "hbm" and self.hbm is not None and standard.startswith("HBM"):
            seconds = self.hbm["system_avg_read_latency_ns"] * 1e-9 + nbytes / self.hbm[
                "system_achieved_bandwidth_bytes_per_s"]
            return Estimate(seconds, self.hbm["fidelity"], self.hbm["source"],
                            _rel_error(self.hbm, "avg_read_latency_ns"))
        return self.nominal.memory_transfer(nbytes, tier)

    def ssd_read(self, nbytes: float) -> Estimate:
        row = self.ssd
        if row is not None:
            if _finite(row.get("throughput_bytes_per_s")):
                bandwidth = float(row["throughput_bytes_per_s"])
            elif _finite(row.get("saturation_throughput_MBps")):
                bandwidth = float(row["saturation_throughput_MBps"]) * 1e6
            else:
                bandwidth = 0.0
            if bandwidth > 0:
                seconds = row["device_response_time_mean_us"] * 1e-6 + nbytes / bandwidth
                return Estimate(seconds, row["fidelity"], row["source"], _rel_error(row, "response_time_us"))
        return self.nominal.ssd_read(nbytes)

    def memory_curve(self, tier: str) -> LoadCurve:
        point = self.points.get("ramulator", {})
        if tier != "hbm" or self.hbm is None or not str(point.get("standard", "")).startswith("HBM"):
            return super().memory_curve(tier)
        row = self.hbm
        fallback = _operating_point(row, row["system_achieved_bandwidth_bytes_per_s"],
                                    row["system_avg_read_latency_ns"] * 1e-9, "avg_read_latency_ns")
        try:
            lat_ns, bw = _ramulator_curve(point)
        except (EoesimError, KeyError, ValueError):
            return fallback
        peak = float(point["peak_bandwidth_bytes_per_s"])
        capacity = float(np.nanmax(bw))
        offered = float(point["offered_bandwidth_bytes_per_s"])
        real_bw = float(row["system_achieved_bandwidth_bytes_per_s"])
        if row["fidelity"] == "simulate" and real_bw < 0.97 * offered:
            capacity = real_bw  # the real run was saturated: its achieved bandwidth is the ceiling
        at = np.interp(offered / peak, OFFERED, lat_ns)
        scale = float(row["system_avg_read_latency_ns"]) / at if at > 0 else 1.0
        util = np.linspace(0.0, 1.0, CURVE_POINTS)
        curve = np.interp(util * capacity / peak, OFFERED, lat_ns) * scale * 1e-9
        if not np.isfinite(curve).all() or capacity <= 0:
            return fallback
        return LoadCurve(capacity, tuple(float(x) for x in curve), row["fidelity"],
                         f"{row['source']} (load curve: Ramulator pack, anchored to this row)",
                         _rel_error(row, "avg_read_latency_ns"))

    def ssd_curve(self) -> LoadCurve:
        row = self.ssd
        est = self.ssd_read(0.0)
        if row is None or est.fidelity == "nominal":
            return super().ssd_curve()
        capacity = 1e9 / max(self.ssd_read(1e9).value - est.value, 1e-30)
        return LoadCurve.constant(capacity, est.value, est.fidelity, est.source, est.rel_error)

    def link_curve(self) -> LoadCurve:
        row = self.noc
        if row is None or row["average_hops"] <= 0:
            return super().link_curve()
        point = self.points.get("garnet", {})
        clock_ghz = float(point.get("ruby_clock_ghz", 1.0))
        per_hop_s = row["average_packet_latency_cycles"] / row["average_hops"] * 1e-9 / clock_ghz
        capacity = self.hw.link_bandwidth_bytes_per_s
        fallback = _operating_point(row, capacity, per_hop_s, "avg_packet_latency_cycles")
        try:
            per_hop_cycles, sat = _garnet_curve(point)
        except (EoesimError, KeyError, ValueError):
            return fallback
        rate = float(point.get("injection_rate", 0.0))
        at = np.interp(min(rate / sat, 1.0), np.linspace(0, 1, CURVE_POINTS), per_hop_cycles)
        scale = per_hop_s / (at * 1e-9 / clock_ghz) if at > 0 else 1.0
        curve = per_hop_cycles * 1e-9 / clock_ghz * scale
        if not np.isfinite(curve).all():
            return fallback
        return LoadCurve(capacity, tuple(float(x) for x in curve), row["fidelity"],
                         f"{row['source']} (load curve: Garnet pack, anchored to this row)",
                         _rel_error(row, "avg_packet_latency_cycles"))

    def network_transfer(self, nbytes: float, hops: int) -> Estimate:
        row = self.noc
        if row is None or row["average_hops"] <= 0:
            return self.nominal.network_transfer(nbytes, hops)
        clock_ghz = float(self.points.get("garnet", {}).get("ruby_clock_ghz", 1.0))
        per_hop_s = row["average_packet_latency_cycles"] / row["average_hops"] * 1e-9 / clock_ghz
        seconds = hops * per_hop_s + nbytes / self.hw.link_bandwidth_bytes_per_s
        return Estimate(seconds, row["fidelity"], row["source"], _rel_error(row, "avg_packet_latency_cycles"))


def _ramulator_curve(point: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(read latency ns, achieved bandwidth bytes/s) of the Ramulator pack at the loads ``OFFERED``."""
    query = get_simulator("ramulator").surrogate_query(point)
    frame = pd.concat([query] * len(OFFERED), ignore_index=True)
    frame["offered_load_frac_of_peak"] = OFFERED
    pred = load_pack("ramulator").predict(frame, check=False)
    bandwidth = pred["achieved_bandwidth_GBps"].to_numpy(dtype=float) * 1e9
    return pred["avg_read_latency_ns"].to_numpy(dtype=float), bandwidth


def _garnet_curve(point: Mapping[str, Any]) -> tuple[np.ndarray, float]:
    """(per-hop latency in cycles at utilization 0..1, the saturating injection rate) of the Garnet pack."""
    query = get_simulator("garnet").surrogate_query(point)
    frame = pd.concat([query] * len(INJECTION), ignore_index=True)
    frame["injection_rate"] = INJECTION
    pred = load_pack("garnet").predict(frame, check=False)
    lat = pred["avg_packet_latency_cycles"].to_numpy(dtype=float)
    hops = pred["avg_hops"].to_numpy(dtype=float)
    ok = np.isfinite(lat) & np.isfinite(hops) & (hops > 0)
    if ok.sum() < 3:
        raise ValueError("garnet pack: no finite predictions for this network")
    zero = lat[ok][0]
    beyond = np.flatnonzero(ok & (lat >= SATURATION_FACTOR * zero))
    sat = float(INJECTION[beyond[0]]) if beyond.size else float(INJECTION[ok][-1])
    util = np.linspace(0.0, 1.0, CURVE_POINTS)
    per_hop = np.interp(util * sat, INJECTION[ok], lat[ok] / hops[ok])
    return per_hop, sat
