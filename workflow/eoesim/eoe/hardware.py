"""The package the EoE runs on: chiplets on a grid, their links, and the memory tiers (HBM, DDR, SSD).

Built from the study's ``hardware`` section (validated, defaults filled). Only what the stitcher needs is
derived here: grid coordinates and hop counts, a snake order that makes consecutive chiplets adjacent,
tier capacities, and the nominal numbers a component model may fall back on. The latency of each
component comes from a ComponentModel (simulators or surrogates), not from this module.

Units: bandwidths in the config are in GB/s (10^9 bytes per second), capacities in GiB (2^30 bytes). HBM
capacity and bandwidth are per stack (``hardware.memory.hbm.stacks``; eoesim.serving.package).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from eoesim.errors import ConfigError

GIB = 1 << 30
GB = 1e9
#: one HBM2 stack (1024 bit x 2 Gb/s) when neither the study nor Ramulator says otherwise
HBM_DEFAULT_GB_PER_S = 256.0

#: defaults of every field read here; the proposed schema carries the same values
DEFAULTS: dict[str, Any] = {
    "chiplet": {"array": [128, 128], "dataflow": "ws", "freq_ghz": 1.0},
    "package": {"grid": [4, 4], "topology": "mesh", "link_latency_cycles": 2,
                "link_bandwidth_gb_per_s": 128.0, "network_channels": None},
    "memory": {
        "hbm": {"capacity_gib": 16.0, "bandwidth_gb_per_s": None, "latency_ns": 100.0},
        "ddr": {"capacity_gib": 64.0, "bandwidth_gb_per_s": 51.2, "latency_ns": 80.0},
    },
    "ssd": {"capacity_gib": 1024.0, "read_bandwidth_gb_per_s": 3.5, "read_latency_us": 60.0},
}


def _section(cfg: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    """``cfg[keys...]`` merged over DEFAULTS[keys...] (the config wins)."""
    default: Any = DEFAULTS
    node: Any = cfg
    for k in keys:
        default = default[k]
        node = (node or {}).get(k, {}) if isinstance(node, Mapping) else {}
    return {**default, **(node or {})}


@dataclass(frozen=True)
class ChipletSpec:
    """One compute chiplet as a component model sees it (the ``hardware.chiplet`` section)."""

    rows: int
    cols: int
    dataflow: str
    freq_ghz: float
    sram_kib: tuple[tuple[str, int], ...] = ()

    @property
    def cycle_s(self) -> float:
        return 1e-9 / self.freq_ghz


@dataclass(frozen=True)
class Tier:
    name: str
    capacity_bytes: float
    bandwidth_bytes_per_s: float
    latency_s: float


@dataclass(frozen=True)
class Hardware:
    chiplet: ChipletSpec
    grid_rows: int
    grid_cols: int
    topology: str
    link_latency_cycles: int
    link_bandwidth_bytes_per_s: float
    network_channels: int
    hbm: Tier
    ddr: Tier
    ssd: Tier

    @property
    def n_chiplets(self) -> int:
        return self.grid_rows * self.grid_cols

    def coords(self, chiplet: int) -> tuple[int, int]:
        return divmod(chiplet, self.grid_cols)

    def hops(self, a: int, b: int) -> int:
        """Links crossed from chiplet a to b with dimension-order routing (mesh or torus)."""
        (ra, ca), (rb, cb) = self.coords(a), self.coords(b)
        dr, dc = abs(ra - rb), abs(ca - cb)
        if self.topology == "torus":
            dr, dc = min(dr, self.grid_rows - dr), min(dc, self.grid_cols - dc)
        return dr + dc

    def snake_order(self) -> list[int]:
        """Chiplet ids along a boustrophedon walk: consecutive entries are always adjacent."""
        order = []
        for r in range(self.grid_rows):
            cols = range(self.grid_cols) if r % 2 == 0 else range(self.grid_cols - 1, -1, -1)
            order += [r * self.grid_cols + c for c in cols]
        return order

    def tier(self, name: str) -> Tier:
        return {"hbm": self.hbm, "ddr": self.ddr, "ssd": self.ssd}[name]


def bisection_links(rows: int, cols: int, topology: str) -> int:
    """Links (counting both directions) across the narrower bisection of a mesh/torus."""
    width = min(rows, cols) if rows > 1 and cols > 1 else 1
    return 2 * width * (2 if topology == "torus" else 1)


def build_hardware(cfg: Mapping[str, Any] | None) -> Hardware:
    """A Hardware from the ``hardware`` section (missing fields take DEFAULTS)."""
    cfg = cfg or {}
    chip = _section(cfg, "chiplet")
    pkg = _section(cfg, "package")
    hbm, ddr, ssd = _section(cfg, "memory", "hbm"), _section(cfg, "memory", "ddr"), _section(cfg, "ssd")
    rows, cols = (int(x) for x in pkg["grid"])
    if rows < 1 or cols < 1:
        raise ConfigError(f"hardware.package.grid: {pkg['grid']!r} is not allowed; allowed: two integers >= 1")
    if pkg["topology"] not in ("mesh", "torus"):
        raise ConfigError(f"hardware.package.topology: {pkg['topology']!r} is not allowed; allowed: ['mesh', 'torus']")
    sram = chip.get("sram_kib") or {}
    spec = ChipletSpec(rows=int(chip["array"][0]), cols=int(chip["array"][1]), dataflow=str(chip["dataflow"]),
                       freq_ghz=float(chip["freq_ghz"]), sram_kib=tuple(sorted(dict(sram).items())))
    channels = pkg.get("network_channels") or bisection_links(rows, cols, pkg["topology"])
    return Hardware(
        chiplet=spec, grid_rows=rows, grid_cols=cols, topology=pkg["topology"],
        link_latency_cycles=int(pkg["link_latency_cycles"]),
        link_bandwidth_bytes_per_s=float(pkg["link_bandwidth_gb_per_s"]) * GB,
        network_channels=int(channels),
        hbm=Tier("hbm", float(hbm["capacity_gib"]) * GIB, float(hbm["bandwidth_gb_per_s"] or HBM_DEFAULT_GB_PER_S) * GB,
                 float(hbm["latency_ns"]) * 1e-9),
        ddr=Tier("ddr", float(ddr["capacity_gib"]) * GIB, float(ddr["bandwidth_gb_per_s"]) * GB,
                 float(ddr["latency_ns"]) * 1e-9),
        ssd=Tier("ssd", float(ssd["capacity_gib"]) * GIB, float(ssd["read_bandwidth_gb_per_s"]) * GB,
                 float(ssd["read_latency_us"]) * 1e-6),
    )
