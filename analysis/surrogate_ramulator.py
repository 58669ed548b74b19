"""Ramulator 2.0 surrogate: measured load curves in units of the bandwidth ceiling, the knee at the ceiling."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator

from eoesim.analysis.study_tables import Point, Runs, StudyTable, differs
from eoesim.analysis.surrogate import FitError, Surrogate, level_index, register_surrogate
from eoesim.surrogates import CALIBRATED, SETTINGS_COLUMN

#: per standard: data-bus peak per channel (GB/s) and memory clock period (ns), from the dataset's
#: PROVENANCE (C * subch * 64 B / (nBL * tCK)); HBM3 of v2.0a reuses HBM2 timings (same class)
PEAK_GBPS_PER_CHANNEL = {"DDR4": 19.2077, "DDR5": 12.8, "HBM2": 32.0, "HBM3": 32.0}
TCK_NS = {"DDR4": 0.833, "DDR5": 0.625, "HBM2": 1.0, "HBM3": 1.0}
STANDARDS = tuple(PEAK_GBPS_PER_CHANNEL)
STANDARD_PEAK = np.array([PEAK_GBPS_PER_CHANNEL[s] for s in STANDARDS])
STANDARD_TCK = np.array([TCK_NS[s] for s in STANDARDS])
PATTERNS = ("sequential", "random")
#: the read fractions and channel counts the curves may be measured at (interpolated linearly in between,
#: channels in log2; the pack keeps those its data has)
RF_LEVELS = (0.5, 0.7, 0.85, 1.0)
CHANNEL_LEVELS = (1, 2, 4, 8, 16)
#: offered load / bandwidth ceiling at which every curve is tabulated (monotone cubic through the runs)
X_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.35, 1.5,
          1.75, 2.0, 2.5)
REQUEST_BYTES = 64.0
#: offered load / ceiling where the latency leaves its flat start and jumps to the plateau: leaving one
#: load level out moves predictions there by tens of percent, so this band is outside the domain
KNEE = (0.8, 1.15)
#: a run is above the ceiling (its achieved bandwidth is the ceiling) from this offered / achieved ratio on
SATURATED_RATIO = 1.03
#: runs at or below this fraction of peak estimate the unloaded latency of their (standard, pattern)
LOW_LOAD = 0.1


def _round(value: float) -> float:
    """Table entries to 6 significant digits (far below the data's noise; keeps the pack small)."""
    return float(f"{float(value):.6g}")


def _plateau_weight(x: np.ndarray) -> np.ndarray:
    """0 below the knee, 1 on the plateau above it, linear across the knee band."""
    return np.clip((np.asarray(x, dtype=float) - KNEE[0]) / (KNEE[1] - KNEE[0]), 0.0, 1.0)


def _key(standard: str, pattern: str, rf: float, channels: int) -> str:
    return f"{standard}|{pattern}|rf{rf:g}|ch{channels}"


def _bracket(values: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower level index, upper level index and weight of the upper one, per value (clamped)."""
    v = np.clip(values, levels[0], levels[-1])
    hi = np.clip(np.searchsorted(levels, v, side="left"), 1, len(levels) - 1)
    lo = hi - 1
    w = (v - levels[lo]) / (levels[hi] - levels[lo])
    return lo, hi, w


@register_surrogate
class RamulatorSurrogate(Surrogate):
    """Average read latency and achieved bandwidth of Ramulator 2.0 under an open-loop offered load.

    Form, per (standard, access pattern) on a grid of read fractions and channel counts::

        u_cap(rf, ch)   = the sustained fraction of peak bandwidth (the ceiling) of that memory system
        x               = offered load / u_cap                        (load in units of the ceiling)
        latency(x)      = the measured curve through the runs, monotone cubic in x; flat start, the
                          knee at x = 1, above it the plateau
        utilization(x)  = min(offered, u_cap), measured likewise (the soft corner around x = 1)

    with u_cap, latency and utilization interpolated linearly in read fraction and log2(channels) between
    the grid's curves. Reasoning: requests arrive open loop at rho x the data-bus peak; the controller
    serves them at most at u_cap x peak (row conflicts, read/write turnarounds, refresh), so achieved
    bandwidth is min(offered, ceiling) and the latency's knee sits at the ceiling: below it the access
    time plus a queue that stays short, at it the controller's 33-entry queue fills and the latency
    jumps to Little's-law plateau (reads in the queue / read throughput; the rest of the backlog waits
    in the frontend, which Ramulator does not count). Measuring the load in units of the ceiling puts
    every curve's knee at x = 1, so curves of neighbouring channel counts and read fractions can be
    interpolated without smearing the jump. Between the knee and the flat start the measured latency
    is not smooth in load (the frontend's periodic clock-ratio arrivals alias with the bank timing: e.g.
    DDR4 sequential 33.0, 31.4, 40.0 ns at 0.3, 0.5, 0.65 of peak), which a closed form does not follow;
    the curves keep it. HBM3 of Ramulator 2.0a reuses HBM2 timings and has curves of its own.

    Domain: loads within [0.85, 1.05) of the ceiling are excluded (the jump), channels a power of 2 in the
    measured range, read fraction between 0.5 and 1.
    """

    simulator = "ramulator"
    form = "ceiling_normalized_load_curves_v2"
    inputs = ("channels", "read_fraction", "offered_load_frac_of_peak")
    categorical_inputs = ("standard", "pattern", SETTINGS_COLUMN)
    optional_inputs = {SETTINGS_COLUMN: CALIBRATED}
    outputs = ("avg_read_latency_ns", "achieved_bandwidth_GBps", "bandwidth_utilization")
    primary = ("avg_read_latency_ns", "achieved_bandwidth_GBps")
    holdout_groups = ("offered_load_frac_of_peak", "channels", "read_fraction")

    def regimes(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame[["standard", "pattern"]]

    # ---- fitting: one curve per (standard, pattern, read fraction, channels) ----------------------------
    def _fit(self, frame: pd.DataFrame) -> None:
        params = {}
        x_grid = np.array(X_GRID)
        for (std, pat), part in frame.groupby(["standard", "pattern"], sort=False, observed=True):
            # the unloaded latency (the curves' start) barely depends on channels and read mix: the median of
            # the curves' lowest-load runs anchors every curve at zero load
            low = part[part["offered_load_frac_of_peak"] <= LOW_LOAD]
            unloaded = float(low["avg_read_latency_ns"].median()) if len(low) else np.nan
            for rf in RF_LEVELS:
                for ch in CHANNEL_LEVELS:
                    curve = part[np.isclose(part["read_fraction"], rf) & (part["channels"] == ch)]
                    if len(curve) < 4:
                        continue
                    name = _key(std, pat, rf, ch)
                    u_cap, lat, util = self._curve(curve, x_grid, unloaded)
                    params[f"ucap[{name}]"] = _round(u_cap)
                    params.update({f"lat[{name}|x{x:g}]": _round(v) for x, v in zip(x_grid, lat)})
                    params.update({f"util[{name}|x{x:g}]": _round(v) for x, v in zip(x_grid, util)})
        if not params:
            raise FitError("ramulator surrogate: no (standard, pattern, read fraction, channels) curve has 4 runs")
        self.params = params
        # a tabulated curve has no least-squares uncertainty; its error is the validation's
        self.uncertainty = {}

    @staticmethod
    def _curve(curve: pd.DataFrame, x_grid: np.ndarray, unloaded: float) -> tuple[float, np.ndarray, np.ndarray]:
        rho = curve["offered_load_frac_of_peak"].to_numpy(dtype=float)
        util = curve["bandwidth_utilization"].to_numpy(dtype=float)
        lat = curve["avg_read_latency_ns"].to_numpy(dtype=float)
        over = rho >= SATURATED_RATIO * util
        # the ceiling: what the runs above it sustain (the highest utilisation where none is)
        u_cap = float(np.median(util[over])) if over.any() else float(util.max())
        x = rho / u_cap
        order = np.argsort(x)
        x, lat, util = x[order], lat[order], util[order]
        keep = np.concatenate([[True], np.diff(x) > 1e-9])
        x, lat, util = x[keep], lat[keep], util[keep]
        # latency: monotone cubic in x on log latency (flat beyond the measured ends); utilisation / x
        # (= achieved / offered in units of the ceiling) likewise
        xs = np.concatenate([[0.0], x]) if x[0] > 0 else x
        start = min(unloaded, lat[0]) if np.isfinite(unloaded) else lat[0]
        log_lat = np.log(np.maximum.accumulate(lat))
        log_lat = np.concatenate([[np.log(start)], log_lat]) if x[0] > 0 else log_lat
        ratio = np.minimum(util / (x * u_cap), 1.0)
        ratio = np.concatenate([[1.0], ratio]) if x[0] > 0 else ratio
        grid = np.clip(x_grid, xs[0], xs[-1])
        lat_grid = np.exp(PchipInterpolator(xs, log_lat)(grid))
        ratio_grid = PchipInterpolator(xs, ratio)(grid)
        beyond = x_grid > xs[-1]     # above the last run: the plateau, and bandwidth stays at the ceiling
        ratio_grid = np.where(beyond, ratio_grid[np.argmax(beyond) - 1] * xs[-1] / np.maximum(x_grid, 1e-12),
                              ratio_grid) if beyond.any() else ratio_grid
        return u_cap, lat_grid, ratio_grid

    # ---- prediction -----------------------------------------------------------------------------
    def _tables(self) -> dict[tuple[str, str], tuple]:
        """Per (standard, pattern): its read-fraction and log2-channel levels, the ceiling [rf, ch], and the
        log latency and achieved/offered ratio [rf, ch, x] over the levels that have curves."""
        cached = getattr(self, "_cached_tables", None)
        if cached is not None and cached[0] is self.params:
            return cached[1]
        curves: dict[tuple[str, str], dict[tuple[float, int], str]] = {}
        for name in self.params:
            if name.startswith("ucap["):
                std, pat, rf, ch = name[5:-1].split("|")
                curves.setdefault((std, pat), {})[(float(rf[2:]), int(ch[2:]))] = name[5:-1]
        tables = {}
        for key, names in curves.items():
            rfs = sorted({rf for rf, _ in names})
            chs = sorted({ch for _, ch in names})
            if any((rf, ch) not in names for rf in rfs for ch in chs):
                continue      # not a full grid: no interpolation across its holes
            ucap = np.array([[self.params[f"ucap[{names[(rf, ch)]}]"] for ch in chs] for rf in rfs])
            lat = np.log([[[self.params[f"lat[{names[(rf, ch)]}|x{x:g}]"] for x in X_GRID] for ch in chs]
                          for rf in rfs])
            ratio = np.array([[[self.params[f"util[{names[(rf, ch)]}|x{x:g}]"] for x in X_GRID] for ch in chs]
                              for rf in rfs])
            tables[key] = (np.array(rfs), np.log2(np.array(chs, dtype=float)), ucap, lat, ratio)
        self._cached_tables = (self.params, tables)
        return tables

    def _predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        n = len(frame)
        std_code = level_index(frame["standard"], STANDARDS)
        ok = std_code >= 0
        peak = np.where(ok, np.take(STANDARD_PEAK, np.clip(std_code, 0, None)), np.nan)
        tck = np.where(ok, np.take(STANDARD_TCK, np.clip(std_code, 0, None)), np.nan)
        rf = frame["read_fraction"].to_numpy(dtype=float)
        ch = frame["channels"].to_numpy(dtype=float)
        rho = frame["offered_load_frac_of_peak"].to_numpy(dtype=float)
        log_lat, ratio, u_cap = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        pat_code = level_index(frame["pattern"], PATTERNS)
        group = np.where(ok & (pat_code >= 0), std_code * len(PATTERNS) + pat_code, -1)
        tables = self._tables()
        x_levels = np.array(X_GRID)
        log_ch = np.log2(np.maximum(ch, 1e-9))
        for g in np.unique(group[group >= 0]):
            key = (STANDARDS[g // len(PATTERNS)], PATTERNS[g % len(PATTERNS)])
            if key not in tables:
                continue
            idx = np.flatnonzero(group == g)
            rf_levels, ch_levels, ucap_t, lat_t, ratio_t = tables[key]
            a, b, wr = _bracket(rf[idx], rf_levels) if len(rf_levels) > 1 else (0, 0, np.zeros(idx.size))
            c, d, wc = _bracket(log_ch[idx], ch_levels) if len(ch_levels) > 1 else (0, 0, np.zeros(idx.size))
            # outside the measured grid: no curve (the domain check reports it)
            inside = ((rf[idx] >= rf_levels[0] - 1e-9) & (rf[idx] <= rf_levels[-1] + 1e-9)
                      & (log_ch[idx] >= ch_levels[0] - 1e-9) & (log_ch[idx] <= ch_levels[-1] + 1e-9))

            def corners(table, x=None):
                at = (lambda i, j: table[i, j]) if x is None else (lambda i, j: table[i, j, x])
                return ((1 - wr) * (1 - wc) * at(a, c) + (1 - wr) * wc * at(a, d)
                        + wr * (1 - wc) * at(b, c) + wr * wc * at(b, d))

            cap = np.where(inside, corners(ucap_t), np.nan)
            x = rho[idx] / cap
            x_lo, x_hi, wx = _bracket(np.nan_to_num(x), x_levels)
            # above the knee latency is Little's plateau, reads in the queue / read throughput, i.e. prop. to
            # 1 / (u_cap rf): the curves are interpolated across read fractions as latency x u_cap x rf there
            plateau = np.log(ucap_t * rf_levels[:, None])[:, :, None] * _plateau_weight(x_levels)[None, None, :]
            adjusted = lat_t + plateau
            log_lat[idx] = np.where(inside, (1 - wx) * corners(adjusted, x_lo) + wx * corners(adjusted, x_hi)
                                    - ((1 - wx) * _plateau_weight(x_levels)[x_lo]
                                       + wx * _plateau_weight(x_levels)[x_hi])
                                    * np.log(cap * rf[idx]), np.nan)
            ratio[idx] = np.where(inside, (1 - wx) * corners(ratio_t, x_lo) + wx * corners(ratio_t, x_hi), np.nan)
            u_cap[idx] = np.minimum(cap, 1.0)  # a few real runs count a hair above the peak: never served above it
        latency = np.exp(log_lat)
        util = np.minimum(rho * ratio, u_cap)  # offered beyond the measured curve: served at the ceiling
        return {
            "load_fraction_of_ceiling": rho / u_cap,
            "avg_read_latency_ns": latency,
            "achieved_bandwidth_GBps": util * peak * ch,
            "bandwidth_utilization": util,
            "avg_read_latency_cycles": latency / tck,
            "peak_bandwidth_GBps": peak * ch,
            "bandwidth_ceiling_utilization": u_cap,
        }

    def constraint_violations(self, frame: pd.DataFrame, values=None) -> list[tuple[np.ndarray, str]]:
        out = []
        ch = frame["channels"].to_numpy(dtype=float)
        bad = ~((ch >= 1) & (np.log2(np.maximum(ch, 1)) % 1 == 0))
        if bad.any():
            out.append((bad, "channels must be a power of 2 (Ramulator's linear address mapper)"))
        if values is None:
            values = self._predict(frame)
        u = np.asarray(values["load_fraction_of_ceiling"], dtype=float)
        missing = ~np.isfinite(u) & ~bad
        if missing.any():
            out.append((missing, f"no measured curve around this (standard, pattern, read fraction, channels) "
                                 f"({int(missing.sum())} row(s))"))
        knee = (u >= KNEE[0]) & (u < KNEE[1])
        if knee.any():
            out.append((knee, f"offered load is {u[knee].min():.2f}-{u[knee].max():.2f} x the bandwidth ceiling: "
                              f"inside the knee [{KNEE[0]}, {KNEE[1]}) where latency jumps to its plateau and is not "
                              f"validated ({int(knee.sum())} row(s))"))
        return out

    def constraint_descriptions(self) -> list[str]:
        return [f"offered load not within [{KNEE[0]}, {KNEE[1]}) x the bandwidth ceiling (the knee)",
                "channels a power of 2; read_fraction and channels inside the measured grid (interpolated)"]


def training_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The Ramulator 2.0 calibration CSV as a training frame (corrected latency, see its PROVENANCE)."""
    return pd.DataFrame({
        "standard": raw["standard"], "pattern": raw["pattern"], "channels": raw["channels"],
        "read_fraction": raw["read_fraction"], "offered_load_frac_of_peak": raw["offered_load_frac_of_peak"],
        "avg_read_latency_ns": raw["avg_read_latency_ns"],
        "achieved_bandwidth_GBps": raw["achieved_bandwidth_GBps"],
        "bandwidth_utilization": raw["bandwidth_utilization"],
        SETTINGS_COLUMN: CALIBRATED,
    })


# ------------------------------------------------------------------------------------ study tables
# how a real study table becomes this pack's calibration dataset (eoesim.analysis.study_calibration)
RAMULATOR_FIXED = {"frontend": "LoadStoreTrace", "scheduler": "FRFCFS", "refresh": "AllBank", "row_policy": "open",
                   "addr_mapper": "RoBaRaCoCh", "ranks": 1}


def ramulator_unmet(point: Point) -> list[str]:
    return [r for key, value in RAMULATOR_FIXED.items()
            for r in differs(f"workload.ramulator {key}", point[key], value)]


def ramulator_dataset(table: pd.DataFrame, runs: Runs) -> pd.DataFrame:
    """One row per run from the system-level columns (request-weighted read latency, bandwidth of all channels);
    offered_load_frac_of_peak = offered / peak bandwidth of the point. Required as in the dataset: LoadStoreTrace
    frontend (open loop, exact offered rate), FRFCFS, AllBank refresh, open rows, RoBaRaCoCh, one rank."""
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


RamulatorSurrogate.study_table = StudyTable(ramulator_unmet, ramulator_dataset)
