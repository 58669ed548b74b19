"""Energy of ops from activity counts and the published constants of energy_constants.csv.

Used for every op whose ComponentModel estimate carries no ``energy_j``. Components (the keys of the
summary's energy breakdown): ``compute`` (MACs on chiplets: expert GEMMs, routing, composition),
``sram`` (the same GEMMs' on-chip scratchpad accesses), ``hbm`` / ``ddr`` (bytes read or written),
``ssd`` (bytes read), ``network`` (bytes x links crossed).
Dynamic energy only: idle/leakage power is not modelled (no constant with a source for it here).

SRAM energy of a GEMM: ``instances x bytes_per_weight x (ifmap_reads x e(ifmap) + filter_reads x
e(filter) + ofmap_writes x e(ofmap))``, with the word counts the ComponentModel gives
(``gemm_sram_words``: SCALE-Sim's reported ``sram_*_words`` where the GEMM was simulated, else SCALE-Sim's
exact count for the chiplet's array and dataflow, eoesim.analysis.scalesim_sram.sram_access_words)
and ``e(buffer)`` the energy per byte of an SRAM of that buffer's size (``hardware.chiplet.sram_kib``):
Horowitz's 64-bit cache reads at 8 KiB, 32 KiB and 1 MiB, interpolated linearly in log2(size) and held at
the end values outside that range; writes cost as reads. Where CACTI (or its calibrated surrogate) covers
the chiplet's SRAMs, ``with_sram_energy`` replaces that table by CACTI's energy per byte of each buffer
(ifmap and filter reads, ofmap writes; stitch.study_model). This is what makes dataflows differ in energy:
the MAC count and the HBM traffic of a GEMM do not depend on the array or dataflow, its SRAM traffic does.
The HBM term already charges the weights and KV a GEMM streams from DRAM, so SCALE-Sim's DRAM counts are
not used here.

Carbon: ``grams CO2e = joules / 3.6e6 * grid_intensity_gco2_per_kwh``.
"""
from __future__ import annotations

import copy
import csv
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from eoesim.errors import ConfigError
from eoesim.paths import package_file

CONSTANTS_FILE = package_file("eoesim.stitch", "energy_constants.csv")
COMPONENTS = ("compute", "sram", "hbm", "ddr", "ssd", "network")
PJ = 1e-12
J_PER_KWH = 3.6e6
_MAC_KEYS = {1.0: "mac_int8_pj", 2.0: "mac_fp16_pj", 4.0: "mac_fp32_pj"}
#: SRAM size (KiB) -> constant of its energy per 64-bit access (interpolation points, ascending)
_SRAM_KEYS = ((8, "sram_8kib_pj_per_64bit"), (32, "sram_32kib_pj_per_64bit"), (1024, "sram_1mib_pj_per_64bit"))
#: scratchpad sizes (KiB) when the hardware config gives none: the schema's (and SCALE-Sim's) defaults
SRAM_KIB_DEFAULTS = {"ifmap": 256, "filter": 256, "ofmap": 128}
SRAM_BUFFERS = ("ifmap", "filter", "ofmap")


@dataclass(frozen=True)
class EnergyConstant:
    name: str
    value: float
    unit: str
    component: str
    source: str


def load_constants(path: str | Path = CONSTANTS_FILE) -> dict[str, EnergyConstant]:
    path = Path(path)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = {}
    for i, r in enumerate(rows, start=2):
        try:
            out[r["name"]] = EnergyConstant(r["name"], float(r["value"]), r["unit"], r["component"], r["source"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}:{i}: malformed energy constant row ({exc})") from None
    return out


class EnergyModel:
    """Joules of each activity. ``overrides`` replaces constants by name (e.g. from a study)."""

    #: buffer -> joules per byte that replace the interpolated table (``with_sram_energy``), and their source
    sram_buffers: Mapping[str, float] = {}
    sram_source: str = "table: Horowitz ISSCC 2014 SRAM reads, interpolated in log2(size)"

    def __init__(self, constants: Mapping[str, EnergyConstant] | None = None,
                 overrides: Mapping[str, float] | None = None) -> None:
        c = dict(constants or load_constants())
        vals = {k: v.value for k, v in c.items()}
        for k, v in (overrides or {}).items():
            if k not in vals:
                raise ConfigError(f"energy override {k!r}: unknown constant; allowed: {sorted(vals)}")
            vals[k] = float(v)
        self.values = vals
        self.constants = c
        self.hbm_j_per_byte = vals["hbm_pj_per_bit"] * 8 * PJ
        self.ddr_j_per_byte = vals["ddr_pj_per_bit"] * 8 * PJ
        self.ssd_j_per_byte = vals["ssd_read_pj_per_byte"] * PJ
        self.link_j_per_byte_hop = vals["link_pj_per_bit_per_hop"] * 8 * PJ
        self._sram_points = [(math.log2(kib), vals[key] / 8 * PJ) for kib, key in _SRAM_KEYS]

    def mac_key(self, bytes_per_weight: float) -> str:
        """The MAC constant used for a precision: the nearest of int8 / fp16 / fp32."""
        nearest = min(_MAC_KEYS, key=lambda b: (abs(b - float(bytes_per_weight)), b))
        return _MAC_KEYS[nearest]

    def mac_j(self, bytes_per_weight: float) -> float:
        return self.values[self.mac_key(bytes_per_weight)] * PJ

    def sram_j_per_byte(self, kib: float) -> float:
        """Joules per byte read or written in an SRAM of ``kib`` KiB (see the module docstring)."""
        x = math.log2(kib)
        pts = self._sram_points
        if x <= pts[0][0]:
            return pts[0][1]
        for (x0, y0), (x1, y1) in itertools.pairwise(pts):
            if x <= x1:
                return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
        return pts[-1][1]

    def buffer_sram_j_per_byte(self, sram_kib: Mapping[str, float]) -> tuple[float, float, float]:
        """(ifmap, filter, ofmap) joules per byte for a chiplet's scratchpad sizes (missing buffers get
        SRAM_KIB_DEFAULTS): ``sram_buffers`` (CACTI's, ``with_sram_energy``) where set, else the table."""
        sizes = {**SRAM_KIB_DEFAULTS, **dict(sram_kib)}
        ifmap, filt, ofmap = (self.sram_buffers.get(b) or self.sram_j_per_byte(float(sizes[b])) for b in SRAM_BUFFERS)
        return ifmap, filt, ofmap

    def with_sram_energy(self, per_byte: Mapping[str, float], source: str) -> "EnergyModel":
        """A copy whose buffers in ``per_byte`` (ifmap, filter, ofmap) cost those joules per byte instead of
        the interpolated table (CACTI's: reads for ifmap and filter, writes for ofmap); ``source`` says whose."""
        other = copy.copy(self)
        other.sram_buffers = {b: float(v) for b, v in per_byte.items() if b in SRAM_BUFFERS}
        other.sram_source = source
        return other

    def memory_j(self, nbytes: float, tier: str) -> float:
        return nbytes * (self.hbm_j_per_byte if tier == "hbm" else self.ddr_j_per_byte)

    def ssd_j(self, nbytes: float) -> float:
        return nbytes * self.ssd_j_per_byte

    def network_j(self, nbytes: float, hops: int) -> float:
        return nbytes * hops * self.link_j_per_byte_hop

    @property
    def default_grid_intensity(self) -> float:
        return self.values["grid_intensity_gco2_per_kwh"]

    def sources(self) -> dict[str, str]:
        return {k: c.source for k, c in self.constants.items()}


def carbon_g(joules: float, grid_intensity_gco2_per_kwh: float) -> float:
    return joules / J_PER_KWH * grid_intensity_gco2_per_kwh
