"""The pluggable source of every op's latency: the ComponentModel interface and a table-backed model.

A ComponentModel answers four questions, each with an ``Estimate`` that says how it knows (and a fifth,
``gemm_sram_words``, for the energy of a GEMM's on-chip SRAM traffic):

- ``gemm_cycles(gemm, chiplet)`` - cycles of one GEMM (all its ``instances``) on a chiplet (SCALE-Sim);
- ``memory_transfer(nbytes, tier)`` - seconds to move ``nbytes`` through ``hbm`` or ``ddr`` (Ramulator);
- ``ssd_read(nbytes)`` - seconds to read ``nbytes`` sequentially from the SSD (MQSim);
- ``network_transfer(nbytes, hops)`` - seconds to move ``nbytes`` over ``hops`` package links
  (Garnet / RapidChiplet).

``Estimate.fidelity`` (e.g. simulate | surrogate | table | nominal) and ``Estimate.source`` (which run,
table or fit) are counted per op in the summary; ``rel_error`` (e.g. a surrogate's held-out MAPE as a
fraction) feeds the latency error propagation; ``energy_j``, when a model knows the energy, replaces the
constants of energy_constants.csv for that op.

The stitcher memoizes answers per distinct argument, so a model may be slow-ish per call.
``TableComponentModel`` answers from explicit numbers (GEMM cycle tables, bandwidths, latencies); it is
what tests use with hand inputs, and ``TableComponentModel.nominal(hw)`` builds the roofline-style model
of the hardware config's datasheet numbers (fidelity ``nominal``) for when no simulator data exists.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Mapping, NamedTuple

from eoesim.analysis.scalesim_sram import sram_access_words
from eoesim.eoe.expert import Gemm
from eoesim.eoe.hardware import ChipletSpec, Hardware
from eoesim.errors import ConfigError
from eoesim.stitch.energy import EnergyModel

TIERS = ("hbm", "ddr")


class Estimate(NamedTuple):
    """One component answer (a NamedTuple: cheap to create, immutable)."""

    value: float  # cycles (gemm_cycles) or seconds (everything else)
    fidelity: str
    source: str
    rel_error: float | None = None
    energy_j: float | None = None

    @property
    def label(self) -> str:
        return f"{self.fidelity}:{self.source}"


@dataclass(frozen=True)
class LoadCurve:
    """A device's capacity and its latency as a function of its utilization (load / capacity).

    ``latency_s[k]`` is the latency at utilization ``k / (len - 1)``; in between it is interpolated
    linearly and above 1 it is held at the last value (the fluid model never loads a device past its
    capacity). What the serving engine asks of a memory, SSD or link at the load actually offered.
    """

    capacity_bytes_per_s: float
    latency_s: tuple[float, ...]
    fidelity: str
    source: str
    rel_error: float | None = None

    @classmethod
    def constant(cls, capacity: float, latency: float, fidelity: str, source: str,
                 rel_error: float | None = None) -> "LoadCurve":
        return cls(float(capacity), (float(latency), float(latency)), fidelity, source, rel_error)

    def latency_at(self, utilization: float) -> float:
        lat = self.latency_s
        x = min(max(utilization, 0.0), 1.0) * (len(lat) - 1)
        i = int(x)
        if i >= len(lat) - 1:
            return lat[-1]
        return lat[i] + (lat[i + 1] - lat[i]) * (x - i)

    @property
    def label(self) -> str:
        return f"{self.fidelity}:{self.source}"


class ComponentModel(ABC):
    """Where op latencies come from. Implementations must be deterministic."""

    @abstractmethod
    def gemm_cycles(self, gemm: Gemm, chiplet: ChipletSpec) -> Estimate:
        """Cycles of ``gemm`` (all ``gemm.instances``) on ``chiplet``."""

    @abstractmethod
    def memory_transfer(self, nbytes: float, tier: str) -> Estimate:
        """Seconds to stream ``nbytes`` from/to memory tier ``tier`` (``hbm`` or ``ddr``)."""

    @abstractmethod
    def ssd_read(self, nbytes: float) -> Estimate:
        """Seconds to read ``nbytes`` (one expert's weights, sequential) from the SSD."""

    @abstractmethod
    def network_transfer(self, nbytes: float, hops: int) -> Estimate:
        """Seconds to move ``nbytes`` across ``hops`` links of the package network (hops >= 1)."""

    def gemm_sram_words(self, gemm: Gemm, chiplet: ChipletSpec) -> tuple[float, float, float] | None:
        """(ifmap reads, filter reads, ofmap writes) in SRAM words of ONE instance of ``gemm`` on ``chiplet``,
        or None when the model does not know them (its GEMMs then cost no SRAM energy)."""
        return None

    @staticmethod
    def _linear_curve(latency: Estimate, one_gb: Estimate) -> LoadCurve:
        """A load-independent curve from the latency of an empty transfer and the time of 1 GB."""
        capacity = 1e9 / max(one_gb.value - latency.value, 1e-30)
        return LoadCurve.constant(capacity, latency.value, one_gb.fidelity, one_gb.source, one_gb.rel_error)

    def memory_curve(self, tier: str) -> LoadCurve:
        """Capacity and latency vs utilization of one device of memory tier ``tier`` (one HBM stack, or the
        DDR channels). Default: load-independent, from ``memory_transfer``."""
        return self._linear_curve(self.memory_transfer(0.0, tier), self.memory_transfer(1e9, tier))

    def ssd_curve(self) -> LoadCurve:
        """The SSD's read capacity and latency vs utilization. Default: from ``ssd_read``."""
        return self._linear_curve(self.ssd_read(0.0), self.ssd_read(1e9))

    def link_curve(self) -> LoadCurve:
        """One package link: capacity and per-hop latency vs utilization. Default: from ``network_transfer``."""
        return self._linear_curve(self.network_transfer(0.0, 1), self.network_transfer(1e9, 1))

    def energy_model(self, base: EnergyModel | None = None) -> EnergyModel:
        """The energy model of the point's hardware: ``base`` (default: the constants table) with what the
        model's simulators know better (the study model: CACTI's SRAM energy per byte)."""
        return base or EnergyModel()


class TableComponentModel(ComponentModel):
    """Latencies from explicit numbers.

    - ``gemm_cycles``: ``{(m, n, k): cycles of one instance}``; a shape not in the table costs
      ``default_cycles`` per instance if given, else ``ceil(m*n*k / macs_per_cycle)`` per instance if
      ``macs_per_cycle`` is given, else raises ConfigError naming the shape. Instances run back to back.
    - memory: ``latency_s[tier] + nbytes / bandwidth[tier]``; SSD: ``ssd_latency_s + nbytes/ssd_bandwidth``;
      network: ``hops * hop_latency_s + nbytes / link_bandwidth`` (cut-through).
    - ``gemm_sram_words``: with ``analytic_sram``, SCALE-Sim's exact count for the chiplet's array and
      dataflow (a systolic array's operand traffic is geometry, not a measurement); else unknown (None).
    """

    def __init__(self, *, gemm_cycles: Mapping[tuple[int, int, int], float] | None = None,
                 macs_per_cycle: float | None = None, default_cycles: float | None = None,
                 memory_bandwidth_bytes_per_s: Mapping[str, float],
                 memory_latency_s: Mapping[str, float] | None = None,
                 ssd_bandwidth_bytes_per_s: float, ssd_latency_s: float = 0.0,
                 link_bandwidth_bytes_per_s: float, hop_latency_s: float = 0.0,
                 fidelity: str = "table", source: str = "hand input",
                 rel_error: Mapping[str, float] | None = None, analytic_sram: bool = False) -> None:
        self.table = {tuple(int(x) for x in k): float(v) for k, v in (gemm_cycles or {}).items()}
        self.macs_per_cycle = macs_per_cycle
        self.default_cycles = default_cycles
        self.mem_bw = dict(memory_bandwidth_bytes_per_s)
        self.mem_lat = dict(memory_latency_s or {})
        self.ssd_bw, self.ssd_lat = float(ssd_bandwidth_bytes_per_s), float(ssd_latency_s)
        self.link_bw, self.hop_lat = float(link_bandwidth_bytes_per_s), float(hop_latency_s)
        self.fidelity, self.source = fidelity, source
        self.rel_error = dict(rel_error or {})  # per method name: gemm | memory | ssd | network
        self.analytic_sram = analytic_sram

    def _est(self, value: float, what: str, source: str | None = None) -> Estimate:
        return Estimate(float(value), self.fidelity, source or self.source, self.rel_error.get(what))

    def gemm_cycles(self, gemm: Gemm, chiplet: ChipletSpec) -> Estimate:
        key = (gemm.m, gemm.n, gemm.k)
        if key in self.table:
            return self._est(self.table[key] * gemm.instances, "gemm")
        if self.default_cycles is not None:
            return self._est(self.default_cycles * gemm.instances, "gemm")
        if self.macs_per_cycle:
            per = math.ceil(gemm.m * gemm.n * gemm.k / self.macs_per_cycle)
            return self._est(per * gemm.instances, "gemm")
        raise ConfigError(f"component table: no cycles for GEMM {gemm.name} (m={gemm.m}, n={gemm.n}, k={gemm.k}); "
                          "allowed: a shape of the table (or give macs_per_cycle)")

    def memory_transfer(self, nbytes: float, tier: str) -> Estimate:
        if tier not in self.mem_bw:
            raise ConfigError(f"component table: no bandwidth for memory tier {tier!r}; allowed: {sorted(self.mem_bw)}")
        return self._est(self.mem_lat.get(tier, 0.0) + nbytes / self.mem_bw[tier], "memory")

    def ssd_read(self, nbytes: float) -> Estimate:
        return self._est(self.ssd_lat + nbytes / self.ssd_bw, "ssd")

    def network_transfer(self, nbytes: float, hops: int) -> Estimate:
        return self._est(hops * self.hop_lat + nbytes / self.link_bw, "network")

    def gemm_sram_words(self, gemm: Gemm, chiplet: ChipletSpec) -> tuple[float, float, float] | None:
        return analytic_sram_words(gemm, chiplet) if self.analytic_sram else None

    @classmethod
    def nominal(cls, hw: Hardware) -> "TableComponentModel":
        """The hardware config's datasheet numbers: an ideal systolic array (rows*cols MACs per cycle, its
        dataflow's SRAM traffic), tier bandwidth + latency, SSD bandwidth + read latency, link latency +
        bandwidth. Not a simulation: fidelity ``nominal``."""
        c = hw.chiplet
        return cls(macs_per_cycle=c.rows * c.cols,
                   memory_bandwidth_bytes_per_s={"hbm": hw.hbm.bandwidth_bytes_per_s,
                                                 "ddr": hw.ddr.bandwidth_bytes_per_s},
                   memory_latency_s={"hbm": hw.hbm.latency_s, "ddr": hw.ddr.latency_s},
                   ssd_bandwidth_bytes_per_s=hw.ssd.bandwidth_bytes_per_s, ssd_latency_s=hw.ssd.latency_s,
                   link_bandwidth_bytes_per_s=hw.link_bandwidth_bytes_per_s,
                   hop_latency_s=hw.link_latency_cycles * c.cycle_s,
                   fidelity="nominal", source="hardware config datasheet values", analytic_sram=True)


def analytic_sram_words(gemm: Gemm, chiplet: ChipletSpec) -> tuple[float, float, float]:
    """SCALE-Sim 3.0.0's SRAM word counts of one instance of ``gemm`` on ``chiplet`` (exact, see
    eoesim.analysis.scalesim_sram.sram_access_words)."""
    return sram_access_words(gemm.m, gemm.n, gemm.k, chiplet.rows, chiplet.cols, chiplet.dataflow)
