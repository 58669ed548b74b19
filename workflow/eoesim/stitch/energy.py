"""Energy of ops from activity counts and the published constants of energy_constants.csv.

Used for every op whose ComponentModel estimate carries no ``energy_j``. Components (the keys of the
summary's energy breakdown): ``compute`` (MACs on chiplets: expert GEMMs, routing, composition),
``hbm`` / ``ddr`` (bytes read or written), ``ssd`` (bytes read), ``network`` (bytes x links crossed).
Dynamic energy only: idle/leakage power is not modelled (no constant with a source for it here).

Carbon: ``grams CO2e = joules / 3.6e6 * grid_intensity_gco2_per_kwh``.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from eoesim.errors import ConfigError

CONSTANTS_FILE = Path(__file__).with_name("energy_constants.csv")
COMPONENTS = ("compute", "hbm", "ddr", "ssd", "network")
PJ = 1e-12
J_PER_KWH = 3.6e6
_MAC_KEYS = {1.0: "mac_int8_pj", 2.0: "mac_fp16_pj", 4.0: "mac_fp32_pj"}


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

    def mac_key(self, bytes_per_weight: float) -> str:
        """The MAC constant used for a precision: the nearest of int8 / fp16 / fp32."""
        nearest = min(_MAC_KEYS, key=lambda b: (abs(b - float(bytes_per_weight)), b))
        return _MAC_KEYS[nearest]

    def mac_j(self, bytes_per_weight: float) -> float:
        return self.values[self.mac_key(bytes_per_weight)] * PJ

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
