"""Area and power of one compute chiplet from its design: PE array + on-chip SRAMs (CACTI) + PHYs.

``chiplet_budget(chiplet, tech, cacti_rows=None)`` is the one call (RapidChiplet's chiplet description,
the SRAM energy per byte of the energy model, static power and embodied carbon all read it):

* PE array: rows x cols processing elements of the multiply-accumulate datapath area of the word size
  (Horowitz, ISSCC 2014, 45 nm; other nodes scaled by (node/45)^2), and its subthreshold leakage from the
  logic leakage density of the node and transistor flavour (CACTI 7's device data with McPAT's
  functional-unit model) - constants with sources in chiplet_constants.csv;
* SRAMs: the scratchpads of ``sram_kib`` and any cache, organised as the CACTI adapter does
  (``cacti_buffers.sram_point``), with CACTI's access energies, leakage (all banks) and area - from the
  point's real CACTI rows when given (fidelity ``simulate``), else from the calibrated CACTI surrogate;
* PHYs: RapidChiplet's own figures (``phys`` x ``phy_area_mm2`` / ``phy_power_w``).

``power_w`` is what the chiplet draws flat out without its PHYs: leakage plus the PE array at one
multiply-accumulate per PE per cycle and every SRAM at the accesses per cycle that feed the array edge
(ifmap: rows words, filter and ofmap: cols words; a cache one access) - RapidChiplet adds the PHYs.
"""
from __future__ import annotations

import copy
import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from eoesim.analysis.packs import predict_table
from eoesim.eoe.expert import resolve_experts
from eoesim.errors import ConfigError
from eoesim.paths import package_file
from eoesim.schema import load_schema, validate_against
from eoesim.simulators.base import get_simulator
from eoesim.simulators.cacti_buffers import sram_point
from eoesim.stitch.energy import load_constants

CONSTANTS_FILE = package_file("eoesim.eoe", "chiplet_constants.csv")
#: bytes per word -> PE area constant (the nearest precision is used, as for the MAC energy)
PE_AREA_KEYS = {1.0: "pe_area_int8_um2", 2.0: "pe_area_fp16_um2", 4.0: "pe_area_fp32_um2"}
#: MAC energy constants of stitch/energy_constants.csv by bytes per word
MAC_ENERGY_KEYS = {1.0: "mac_int8_pj", 2.0: "mac_fp16_pj", 4.0: "mac_fp32_pj"}
#: SRAM -> (operation, array side) that sets its accesses per cycle at full rate
EDGE_ACCESS = {"ifmap": ("read", 0), "filter": ("read", 1), "ofmap": ("write", 1)}


def load_chiplet_constants(path: Path = CONSTANTS_FILE) -> dict[str, float]:
    """name -> value of the chiplet constants table (every row has its source there)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    try:
        return {r["name"]: float(r["value"]) for r in rows}
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: malformed chiplet constant row ({exc})") from None


@dataclass(frozen=True)
class SramFigures:
    """One SRAM as CACTI (or its surrogate) describes it: per-access energies, all-bank leakage, area."""
    name: str
    kind: str
    size_bytes: int
    block_bytes: int
    read_energy_nJ: float
    write_energy_nJ: float
    leakage_mW: float
    area_mm2: float
    fidelity: str
    source: str

    @property
    def read_j_per_byte(self) -> float:
        return self.read_energy_nJ * 1e-9 / self.block_bytes

    @property
    def write_j_per_byte(self) -> float:
        return self.write_energy_nJ * 1e-9 / self.block_bytes


@dataclass(frozen=True)
class ChipletTech:
    """How the chiplet is built besides its ``hardware.chiplet`` section: the SRAM organisation
    (``workload.cacti``; None = its defaults), word size of the PEs, and the PHYs (RapidChiplet's)."""

    cacti: Mapping[str, Any] | None = None
    bytes_per_word: float = 2.0
    phys: int | None = None
    phy_area_mm2: float | None = None
    phy_power_w: float | None = None

    @classmethod
    def of_study(cls, params: Mapping[str, Any]) -> "ChipletTech":
        """The tech of a validated design point: its workload.cacti, its experts' widest weights, and the PHYs
        of its RapidChiplet compute chiplet."""
        widest = max(e.bytes_per_weight for e in resolve_experts(params["eoe"]["experts"]))
        compute = params["workload"]["rapidchiplet"]["chiplets"]["compute"]
        return cls(cacti=params["workload"]["cacti"], bytes_per_word=float(widest),
                   phy_area_mm2=compute["phy_area_mm2"], phy_power_w=compute["phy_power_w"])


@dataclass(frozen=True)
class ChipletBudget:
    """Area (mm2) and power (W) of one compute chiplet, by part, and its SRAMs' energy per byte."""
    area_mm2: float
    core_area_mm2: float
    pe_area_mm2: float
    sram_area_mm2: float
    phy_area_mm2: float
    leakage_w: float
    pe_leakage_w: float
    sram_leakage_w: float
    peak_dynamic_w: float
    power_w: float
    phy_power_w: float
    srams: tuple[SramFigures, ...] = field(default=())
    fidelity: str = ""
    source: str = ""

    @property
    def sram_read_j_per_byte(self) -> dict[str, float]:
        return {s.name: s.read_j_per_byte for s in self.srams}

    @property
    def sram_write_j_per_byte(self) -> dict[str, float]:
        return {s.name: s.write_j_per_byte for s in self.srams}


def _default_cacti() -> dict[str, Any]:
    """The study schema's defaults of ``workload.cacti`` (eoesim.config imports this module via serving)."""
    return validate_against({}, load_schema(), "defaults", "study config")["workload"]["cacti"]


def _nearest(table: Mapping[float, str], bytes_per_word: float) -> str:
    return table[min(table, key=lambda b: (abs(b - float(bytes_per_word)), b))]


def _figures(rows: pd.DataFrame, srams: list[dict[str, Any]]) -> list[SramFigures]:
    by_name = {str(r["name"]): r for r in rows.to_dict("records")}
    missing = [s["name"] for s in srams if s["name"] not in by_name]
    if missing:
        raise ConfigError(f"CACTI rows lack SRAM(s) {missing}; allowed: the rows of this chiplet's CACTI run")
    out = []
    for s in srams:
        r = by_name[s["name"]]
        out.append(SramFigures(s["name"], s["kind"], int(s["size_bytes"]), int(s["block_bytes"]),
                               float(r["read_energy_nJ"]), float(r["write_energy_nJ"]), float(r["leakage_mW"]),
                               float(r["area_mm2"]), str(r.get("fidelity", "simulate")), str(r.get("source", ""))))
    return out


def cacti_surrogate_rows(point: Mapping[str, Any]) -> pd.DataFrame:
    """The calibrated CACTI surrogate's rows for a CACTI point (the adapter's query, its pack's outputs)."""
    return predict_table("cacti", get_simulator("cacti").surrogate_query(point))


def _accesses_per_cycle(sram: SramFigures, array: tuple[int, int], bytes_per_word: float) -> tuple[float, float]:
    """(reads, writes) per cycle of an SRAM while the array runs flat out."""
    if sram.name not in EDGE_ACCESS:
        return 1.0, 0.0
    op, side = EDGE_ACCESS[sram.name]
    accesses = math.ceil(array[side] * bytes_per_word / sram.block_bytes)
    return (accesses, 0.0) if op == "read" else (0.0, accesses)


def chiplet_budget(chiplet: Mapping[str, Any], tech: ChipletTech | None = None,
                   cacti_rows: pd.DataFrame | None = None) -> ChipletBudget:
    """Area and power of a compute chiplet (see the module docstring).

    ``chiplet`` is a validated ``hardware.chiplet`` section (array, sram_kib, freq_ghz, technology_nm);
    ``cacti_rows`` the chiplet's CACTI table rows (one per SRAM name, simulated or predicted); None = the
    calibrated CACTI surrogate.
    """
    tech = tech or ChipletTech()
    consts = load_chiplet_constants()
    wl = tech.cacti if tech.cacti is not None else _default_cacti()
    point = sram_point(chiplet, wl)
    rows = cacti_surrogate_rows(point) if cacti_rows is None else cacti_rows
    srams = _figures(rows, point["srams"])
    node = int(point["technology_nm"])
    rows_, cols = (int(x) for x in chiplet["array"])
    pes = rows_ * cols
    pe_area = pes * consts[_nearest(PE_AREA_KEYS, tech.bytes_per_word)] * 1e-6 \
        * (node / consts["pe_area_node_nm"]) ** 2
    flavour = str(point["peripheral_type"]).split("-")[1]
    pe_leak = pe_area * consts[f"logic_leakage_{flavour}_{node}nm_w_per_mm2"]
    sram_area = sum(s.area_mm2 for s in srams)
    sram_leak = sum(s.leakage_mW for s in srams) * 1e-3
    phys = int(tech.phys if tech.phys is not None else consts["phys_per_chiplet"])
    phy_area = phys * (tech.phy_area_mm2 if tech.phy_area_mm2 is not None else consts["phy_area_mm2"])
    phy_power = phys * (tech.phy_power_w if tech.phy_power_w is not None else consts["phy_power_w"])
    mac_j = load_constants()[_nearest(MAC_ENERGY_KEYS, tech.bytes_per_word)].value * 1e-12
    hz = float(chiplet["freq_ghz"]) * 1e9
    dynamic = pes * mac_j * hz
    for s in srams:
        reads, writes = _accesses_per_cycle(s, (rows_, cols), tech.bytes_per_word)
        dynamic += (reads * s.read_energy_nJ + writes * s.write_energy_nJ) * 1e-9 * hz
    fidelities = sorted({s.fidelity for s in srams})
    sources = sorted({s.source for s in srams if s.source})
    return ChipletBudget(
        area_mm2=pe_area + sram_area + phy_area, core_area_mm2=pe_area + sram_area, pe_area_mm2=pe_area,
        sram_area_mm2=sram_area, phy_area_mm2=phy_area, leakage_w=pe_leak + sram_leak, pe_leakage_w=pe_leak,
        sram_leakage_w=sram_leak, peak_dynamic_w=dynamic, power_w=pe_leak + sram_leak + dynamic,
        phy_power_w=phy_power, srams=tuple(srams), fidelity="+".join(fidelities),
        source="; ".join(sources))


def rapidchiplet_section(params: Mapping[str, Any]) -> dict[str, Any]:
    """The design point's ``workload.rapidchiplet`` with its compute chiplet's null ``area_mm2`` / ``power_w``
    set from the chiplet's budget (area without PHYs; leakage + peak dynamic power without PHYs), so that
    RapidChiplet's area, power, cost and yield follow hardware.chiplet. The budget uses the calibrated CACTI
    surrogate (the plan is made before any run); ``compute_budget`` records its fidelity and source."""
    section = copy.deepcopy(dict(params["workload"]["rapidchiplet"]))
    for kind in ("memory", "io"):
        for key in ("area_mm2", "power_w"):
            if section["chiplets"][kind][key] is None:
                raise ConfigError(f"workload.rapidchiplet.chiplets.{kind}.{key}: null is not allowed; allowed: a "
                                  "number (only compute chiplets take theirs from hardware.chiplet)")
    compute = section["chiplets"]["compute"]
    if compute["area_mm2"] is not None and compute["power_w"] is not None:
        return section
    budget = chiplet_budget(params["hardware"]["chiplet"], ChipletTech.of_study(params))
    if compute["area_mm2"] is None:
        compute["area_mm2"] = round(budget.core_area_mm2, 6)
    if compute["power_w"] is None:
        compute["power_w"] = round(budget.power_w, 6)
    section["compute_budget"] = {"fidelity": budget.fidelity, "source": budget.source,
                                 "pe_area_mm2": round(budget.pe_area_mm2, 6),
                                 "sram_area_mm2": round(budget.sram_area_mm2, 6),
                                 "leakage_w": round(budget.leakage_w, 6)}
    return section
