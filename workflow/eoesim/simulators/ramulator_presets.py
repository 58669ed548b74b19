"""What each Ramulator variant accepts: DRAM standards, org/timing presets, component names.

Ramulator 2.0 silently ignores unknown YAML keys, so the harness validates every name itself and an
unknown one is a ConfigError that lists the valid ones. The tables are data read from the upstream
sources (not code): v2.0 = tag ``v2.0a`` (be93be78055d922aa1d4d33e15bcc8f2b0c61a9d),
``src/dram/impl/{DDR4,DDR5,HBM2,HBM3}.cpp``; v2.1 = HEAD c5b1c3a478b68853a61a0b8f99510d0dde7e6fd0,
``python/ramulator/dram/{ddr4,ddr5,hbm2,hbm3}.py``. Preset names differ between the variants
(e.g. ``HBM2_2Gbps`` in 2.0 is ``HBM2_2000Mbps`` in 2.1).

Derived quantities (used for the clock-ratio physics and the parser's ns / bandwidth columns):

* ``tick_ps`` - the period of one memory-controller cycle = the timing preset's ``tCK_ps`` divided by
  the standard's tick multiplier (2.1's HBM3 ticks at half CK; everything else 1).
* ``request_bytes`` - data moved by one read/write request. v2.0: the data burst of one RD/WR command,
  2 x nBL x channel_width/8 = 64 B for all four standards (the convention of the calibration data,
  shared/calibration/ramulator2/PROVENANCE.md). v2.1: the simulator's own ``tx_bytes`` =
  internal_prefetch x channel_width/8 (64 B DDR4/DDR5, 32 B HBM2/HBM3), which its
  ``*_throughput_MBps`` stats use.
* ``granularity_bytes`` - the address-mapper's transaction granularity (prefetch x width/8): consecutive
  addresses this far apart map to consecutive channels/columns. v2.0 HBM2/HBM3: 16 B.
* ``peak_req_per_tick`` = channels x subchannels / nBL (data-bus limit, nBL in controller ticks).
* addressable bytes per channel = ranks x (product of the non-channel, non-rank level sizes) x
  channel_width/8 - the address bits the linear mappers slice; higher address bits are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from eoesim.errors import ConfigError

VARIANTS = ("v2.0", "v2.1")
STANDARDS = ("DDR4", "DDR5", "HBM2", "HBM3")


@dataclass(frozen=True)
class StandardSpec:
    channel_width_bits: int
    prefetch: int
    subchannels: int  # pseudo-channels per channel (HBM), 1 for DDR
    has_rank: bool
    tick_multiplier: int
    request_bytes: int
    default_org: str
    default_timing: str
    controller_impl: str  # the controller implementation the template uses

    @property
    def granularity_bytes(self) -> int:
        return self.prefetch * self.channel_width_bits // 8


@dataclass(frozen=True)
class TimingPreset:
    rate_mtps: int
    nBL: int  # in CK
    tCK_ps: int


_DDR4_ORG = {  # product of bankgroup x bank x row x column per rank
    "DDR4_2Gb_x4": 4 * 4 * 32768 * 1024, "DDR4_2Gb_x8": 4 * 4 * 16384 * 1024,
    "DDR4_2Gb_x16": 2 * 4 * 16384 * 1024, "DDR4_4Gb_x4": 4 * 4 * 65536 * 1024,
    "DDR4_4Gb_x8": 4 * 4 * 32768 * 1024, "DDR4_4Gb_x16": 2 * 4 * 32768 * 1024,
    "DDR4_8Gb_x4": 4 * 4 * 131072 * 1024, "DDR4_8Gb_x8": 4 * 4 * 65536 * 1024,
    "DDR4_8Gb_x16": 2 * 4 * 65536 * 1024, "DDR4_16Gb_x4": 4 * 4 * 262144 * 1024,
    "DDR4_16Gb_x8": 4 * 4 * 131072 * 1024, "DDR4_16Gb_x16": 2 * 4 * 131072 * 1024,
}
_DDR4_TIMING = {
    **{n: TimingPreset(1600, 4, 1250) for n in ("DDR4_1600J", "DDR4_1600K", "DDR4_1600L")},
    **{n: TimingPreset(1866, 4, 1071) for n in ("DDR4_1866L", "DDR4_1866M", "DDR4_1866N")},
    **{n: TimingPreset(2133, 4, 937) for n in ("DDR4_2133N", "DDR4_2133P", "DDR4_2133R")},
    **{n: TimingPreset(2400, 4, 833) for n in ("DDR4_2400P", "DDR4_2400R", "DDR4_2400U", "DDR4_2400T")},
    **{n: TimingPreset(2666, 4, 750) for n in ("DDR4_2666T", "DDR4_2666U", "DDR4_2666V", "DDR4_2666W")},
    **{n: TimingPreset(2933, 4, 682) for n in ("DDR4_2933V", "DDR4_2933W", "DDR4_2933Y", "DDR4_2933AA")},
    **{n: TimingPreset(3200, 4, 625) for n in ("DDR4_3200W", "DDR4_3200AA", "DDR4_3200AC")},
}
_DDR5_ORG = {
    "DDR5_8Gb_x4": 8 * 2 * 65536 * 2048, "DDR5_8Gb_x8": 8 * 2 * 65536 * 1024,
    "DDR5_8Gb_x16": 4 * 2 * 65536 * 1024, "DDR5_16Gb_x4": 8 * 4 * 65536 * 2048,
    "DDR5_16Gb_x8": 8 * 4 * 65536 * 1024, "DDR5_16Gb_x16": 4 * 4 * 65536 * 1024,
    "DDR5_32Gb_x4": 8 * 4 * 131072 * 2048, "DDR5_32Gb_x8": 8 * 4 * 131072 * 1024,
    "DDR5_32Gb_x16": 4 * 4 * 131072 * 1024,
}
_DDR5_ORG_V20_ONLY = {
    "DDR5_64Gb_x4": 8 * 4 * 262144 * 2048, "DDR5_64Gb_x8": 8 * 4 * 262144 * 1024,
    "DDR5_64Gb_x16": 4 * 4 * 262144 * 1024,
}
_DDR5_TIMING_3200 = {n: TimingPreset(3200, 8, 625) for n in ("DDR5_3200AN", "DDR5_3200BN", "DDR5_3200C")}

#: org preset -> per-rank product of the non-channel level sizes (pseudochannel, sid, bankgroup, bank, row, column)
ORG_PRESETS: dict[str, dict[str, dict[str, int]]] = {
    "v2.0": {
        "DDR4": _DDR4_ORG,
        "DDR5": {**_DDR5_ORG, **_DDR5_ORG_V20_ONLY},
        "HBM2": {"HBM2_2Gb": 2 * 4 * 2 * 16384 * 64, "HBM2_4Gb": 2 * 4 * 4 * 16384 * 64,
                 "HBM2_8Gb": 2 * 4 * 4 * 32768 * 64},
        "HBM3": {"HBM3_2Gb": 2 * 4 * 4 * 8192 * 64, "HBM3_4Gb": 2 * 4 * 4 * 16384 * 64,
                 "HBM3_8Gb": 2 * 4 * 4 * 32768 * 64},
    },
    "v2.1": {
        "DDR4": _DDR4_ORG,
        "DDR5": _DDR5_ORG,
        "HBM2": {"HBM2_1Gb": 2 * 4 * 4 * 8192 * 128, "HBM2_2Gb": 2 * 4 * 4 * 16384 * 128,
                 "HBM2_4Gb": 2 * 4 * 4 * 32768 * 128, "HBM2_8Gb": 2 * 4 * 4 * 65536 * 128},
        "HBM3": {"HBM3_4Gb": 2 * 1 * 4 * 4 * 16384 * 256, "HBM3_8Gb_8hi": 2 * 2 * 4 * 4 * 8192 * 256,
                 "HBM3_16Gb_8hi": 2 * 2 * 4 * 4 * 16384 * 256, "HBM3_32Gb_8hi": 2 * 2 * 4 * 4 * 32768 * 256,
                 "HBM3_32Gb_16hi": 2 * 4 * 4 * 4 * 32768 * 256},
    },
}

TIMING_PRESETS: dict[str, dict[str, dict[str, TimingPreset]]] = {
    "v2.0": {
        "DDR4": _DDR4_TIMING,
        "DDR5": _DDR5_TIMING_3200,
        "HBM2": {"HBM2_2Gbps": TimingPreset(2000, 4, 1000)},
        # v2.0a's HBM3_2Gbps is a copy of HBM2_2Gbps (a TODO upstream): same timing as HBM2.
        "HBM3": {"HBM3_2Gbps": TimingPreset(2000, 4, 1000)},
    },
    "v2.1": {
        "DDR4": _DDR4_TIMING,
        "DDR5": {**_DDR5_TIMING_3200,
                 **{n: TimingPreset(4800, 8, 416) for n in ("DDR5_4800AN", "DDR5_4800BN", "DDR5_4800C")},
                 "DDR5_5600AN": TimingPreset(5600, 8, 357), "DDR5_6400AN": TimingPreset(6400, 8, 312)},
        "HBM2": {"HBM2_1600Mbps": TimingPreset(1600, 2, 1250), "HBM2_2000Mbps": TimingPreset(2000, 2, 1000),
                 "HBM2_2400Mbps": TimingPreset(2400, 2, 833)},
        "HBM3": {"HBM3_6400Mbps": TimingPreset(6400, 2, 625)},
    },
}

STANDARD_SPECS: dict[str, dict[str, StandardSpec]] = {
    "v2.0": {
        "DDR4": StandardSpec(64, 8, 1, True, 1, 64, "DDR4_8Gb_x8", "DDR4_2400R", "Generic"),
        "DDR5": StandardSpec(32, 16, 1, True, 1, 64, "DDR5_16Gb_x8", "DDR5_3200AN", "Generic"),
        "HBM2": StandardSpec(64, 2, 2, False, 1, 64, "HBM2_4Gb", "HBM2_2Gbps", "Generic"),
        "HBM3": StandardSpec(64, 2, 2, False, 1, 64, "HBM3_8Gb", "HBM3_2Gbps", "Generic"),
    },
    "v2.1": {
        "DDR4": StandardSpec(64, 8, 1, True, 1, 64, "DDR4_8Gb_x8", "DDR4_2400R", "GenericDDR"),
        "DDR5": StandardSpec(32, 16, 1, True, 1, 64, "DDR5_16Gb_x8", "DDR5_3200AN", "GenericDDR"),
        "HBM2": StandardSpec(64, 4, 2, False, 1, 32, "HBM2_4Gb", "HBM2_2000Mbps", "HBM12"),
        "HBM3": StandardSpec(32, 8, 2, False, 2, 32, "HBM3_16Gb_8hi", "HBM3_6400Mbps", "HBM34"),
    },
}

#: our (schema) component names -> each variant's implementation name; absent = not supported there
COMPONENTS: dict[str, dict[str, dict[str, str]]] = {
    "scheduler": {
        "v2.0": {"FRFCFS": "FRFCFS"},
        "v2.1": {"FRFCFS": "FRFCFS", "FRFCFS-RowHit": "FRFCFSRowHit"},
    },
    "refresh": {
        "v2.0": {"AllBank": "AllBank"},
        "v2.1": {"AllBank": "AllBank", "NoRefresh": "NoRefresh"},
    },
    "row_policy": {
        "v2.0": {"open": "OpenRowPolicy", "closed": "ClosedRowPolicy"},
        "v2.1": {"open": "Open", "closed": "ClosedCAP"},
    },
    "addr_mapper": {
        "v2.0": {"RoBaRaCoCh": "RoBaRaCoCh", "ChRaBaRoCo": "ChRaBaRoCo", "MOP4CLXOR": "MOP4CLXOR"},
        "v2.1": {"RoBaRaCoCh": "RoBaRaCoCh", "ChRaBaRoCo": "ChRaBaRoCo", "MOP4CLXOR": "MOP4CLXOR"},
    },
    "frontend": {
        "v2.0": {"LoadStoreTrace": "LoadStoreTrace", "SimpleO3": "SimpleO3"},
        "v2.1": {"LoadStoreTrace": "LoadStoreTrace", "SimpleO3": "SimpleO3"},
    },
}


def check_variant(variant: str, where: str = "ramulator.variant") -> str:
    if variant not in VARIANTS:
        raise ConfigError(f"{where}: {variant!r} is not a known Ramulator variant; allowed: {list(VARIANTS)}")
    return variant


def standard_spec(variant: str, standard: str, where: str = "workload.ramulator.standard") -> StandardSpec:
    check_variant(variant)
    if standard not in STANDARD_SPECS[variant]:
        raise ConfigError(f"{where}: {standard!r} is not supported; allowed: {list(STANDARDS)}")
    return STANDARD_SPECS[variant][standard]


def org_units(variant: str, standard: str, preset: str, where: str = "workload.ramulator.org_preset") -> int:
    """Per-rank product of the level sizes of ``preset``; an unknown preset lists the valid ones."""
    presets = ORG_PRESETS[check_variant(variant)][standard]
    if preset not in presets:
        raise ConfigError(
            f"{where}: {preset!r} is not a {standard} org preset of Ramulator {variant}; allowed: {sorted(presets)}"
        )
    return presets[preset]


def timing_preset(variant: str, standard: str, preset: str,
                  where: str = "workload.ramulator.timing_preset") -> TimingPreset:
    """The timing preset's rate, nBL and tCK; an unknown preset lists the valid ones."""
    presets = TIMING_PRESETS[check_variant(variant)][standard]
    if preset not in presets:
        raise ConfigError(
            f"{where}: {preset!r} is not a {standard} timing preset of Ramulator {variant}; allowed: {sorted(presets)}"
        )
    return presets[preset]


def component(kind: str, variant: str, name: str, where: str) -> str:
    """The variant's implementation name of one of our component names (scheduler, refresh, ...)."""
    names = COMPONENTS[kind][check_variant(variant)]
    if name not in names:
        raise ConfigError(f"{where}: {name!r} is not available in Ramulator {variant}; allowed: {sorted(names)}")
    return names[name]


@dataclass(frozen=True)
class DeviceGeometry:
    """The physical constants of one configured memory system (see the module docstring)."""

    variant: str
    standard: str
    channels: int
    ranks: int
    spec: StandardSpec
    timing: TimingPreset
    units_per_rank: int

    @property
    def tick_ps(self) -> float:
        return self.timing.tCK_ps / self.spec.tick_multiplier

    @property
    def nbl_ticks(self) -> int:
        return self.timing.nBL * self.spec.tick_multiplier

    @property
    def request_bytes(self) -> int:
        return self.spec.request_bytes

    @property
    def granularity_bytes(self) -> int:
        return self.spec.granularity_bytes

    @property
    def bytes_per_channel(self) -> int:
        return self.ranks * self.units_per_rank * self.spec.channel_width_bits // 8

    @property
    def addressable_bytes(self) -> int:
        return self.channels * self.bytes_per_channel

    @property
    def peak_req_per_tick(self) -> Fraction:
        return Fraction(self.channels * self.spec.subchannels, self.nbl_ticks)

    @property
    def peak_bandwidth_bytes_per_s(self) -> float:
        return float(self.peak_req_per_tick) * self.request_bytes / (self.tick_ps * 1e-12)


def geometry(variant: str, standard: str, org: str, timing: str, channels: int, ranks: int) -> DeviceGeometry:
    spec = standard_spec(variant, standard)
    return DeviceGeometry(variant, standard, channels, ranks, spec, timing_preset(variant, standard, timing),
                          org_units(variant, standard, org))


def clock_ratio_pair(ratio: float | Fraction, where: str, max_denominator: int = 100) -> tuple[int, int]:
    """(frontend, memory) clock_ratio integers whose quotient approximates ``ratio``.

    Ramulator ticks the frontend once every ``memory`` base ticks and the memory system once every
    ``frontend`` base ticks (v2.0 main.cpp, v2.1 Simulation::run), so frontend ticks per memory tick =
    frontend/memory exactly.
    """
    frac = Fraction(ratio).limit_denominator(max_denominator)
    if frac <= 0:
        raise ConfigError(f"{where}: the frontend/memory clock ratio {float(ratio):g} rounds to 0 with "
                          f"denominators <= {max_denominator}; allowed: a larger value")
    return frac.numerator, frac.denominator
