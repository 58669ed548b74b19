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

A value that is missing or not finite (e.g. a surrogate queried outside its domain returns NaN) falls
back to the datasheet model for that component, and the answer says so.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import pandas as pd

from eoesim.eoe.expert import Gemm
from eoesim.eoe.hardware import ChipletSpec, Hardware
from eoesim.stitch.components import ComponentModel, Estimate, TableComponentModel, analytic_sram_words
from eoesim.stitch.energy import EnergyModel

SRAM_WORD_COLUMNS = ("sram_ifmap_reads_words", "sram_filter_reads_words", "sram_ofmap_writes_words")
#: the CACTI column each scratchpad's SCALE-Sim word count is charged at (ifmap/filter read, ofmap written)
CACTI_SRAM_ENERGY = {"ifmap": "read_energy_pJ_per_byte", "filter": "read_energy_pJ_per_byte",
                     "ofmap": "write_energy_pJ_per_byte"}


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
        from eoesim.analysis.packs import load_pack, source_label

        if self.points.get("scalesim", {}).get("interface_bandwidth", "calc") != "calc":
            estimate = self.nominal.gemm_cycles(Gemm(gemm.name, gemm.m, gemm.n, gemm.k), chiplet)
            return estimate.value, estimate.fidelity, estimate.source
        model = load_pack("scalesim")
        cycles = model.cycles(gemm.m, gemm.n, gemm.k, chiplet.rows, chiplet.cols, chiplet.dataflow)
        return cycles, "surrogate", source_label(model)

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

    def network_transfer(self, nbytes: float, hops: int) -> Estimate:
        row = self.noc
        if row is None or row["average_hops"] <= 0:
            return self.nominal.network_transfer(nbytes, hops)
        clock_ghz = float(self.points.get("garnet", {}).get("ruby_clock_ghz", 1.0))
        per_hop_s = row["average_packet_latency_cycles"] / row["average_hops"] * 1e-9 / clock_ghz
        seconds = hops * per_hop_s + nbytes / self.hw.link_bandwidth_bytes_per_s
        return Estimate(seconds, row["fidelity"], row["source"], _rel_error(row, "avg_packet_latency_cycles"))
