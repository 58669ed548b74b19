"""Ramulator 2.0 surrogate: unloaded latency, queueing up to a bandwidth ceiling, Little's-law plateau."""
from __future__ import annotations

import numpy as np
import pandas as pd

from eoesim.analysis.surrogate import FitError, Surrogate, least_squares_fit, level_index, register_surrogate

#: per standard: data-bus peak per channel (GB/s) and memory clock period (ns), from the dataset's
#: PROVENANCE (C * subch * 64 B / (nBL * tCK)); HBM3 of v2.0a reuses HBM2 timings (same class)
PEAK_GBPS_PER_CHANNEL = {"DDR4": 19.2077, "DDR5": 12.8, "HBM2": 32.0, "HBM3": 32.0}
TCK_NS = {"DDR4": 0.833, "DDR5": 0.625, "HBM2": 1.0, "HBM3": 1.0}
TIMING_CLASS = {"DDR4": "DDR4", "DDR5": "DDR5", "HBM2": "HBM", "HBM3": "HBM"}
CLASSES = ("DDR4", "DDR5", "HBM")
STANDARDS = tuple(PEAK_GBPS_PER_CHANNEL)
STANDARD_CLASS = np.array([CLASSES.index(TIMING_CLASS[s]) for s in STANDARDS])
STANDARD_PEAK = np.array([PEAK_GBPS_PER_CHANNEL[s] for s in STANDARDS])
STANDARD_TCK = np.array([TCK_NS[s] for s in STANDARDS])
PATTERNS = ("sequential", "random")
#: the read fractions the curves are fitted at; in between, parameters are interpolated linearly
RF_LEVELS = (0.7, 1.0)
REQUEST_BYTES = 64.0
#: offered load / fitted ceiling where the latency jumps from the queueing branch to the plateau; a
#: few % error in the ceiling moves a point across the jump, so this band is outside the domain
KNEE = (0.85, 1.05)

CURVE = ("T0_ns", "A_ns", "p", "ucap", "delta", "Nq", "beta", "nsharp", "msmooth", "growth")
X0 = (30.0, 10.0, 1.0, 0.7, 0.01, 35.0, 0.2, 10.0, 3.0, 0.2)
LOWER = (1.0, 0.0, 0.0, 0.2, -0.1, 5.0, -0.5, 2.0, 1.0, 0.0)
UPPER = (500.0, 500.0, 20.0, 1.5, 0.2, 200.0, 1.0, 200.0, 50.0, 2.0)


def _curve_names() -> list[str]:
    return [f"{c}[{cls}|{pat}|rf{rf}]" for cls in CLASSES for pat in PATTERNS for rf in RF_LEVELS for c in CURVE]


def ceiling(theta, channels: np.ndarray) -> np.ndarray:
    """u_cap: the sustainable fraction of peak bandwidth."""
    return theta[3] * (1 - theta[4] * np.log2(channels))


def curve(theta, rho: np.ndarray, channels: np.ndarray, rf: np.ndarray, peak_req_per_ns: np.ndarray):
    """(latency_ns, utilisation) of one curve; ``theta``: the 10 parameters, scalars or per-row arrays."""
    T0, A, p, uc, dl, Nq, beta, nsh, m, gr = theta
    ucap = uc * (1 - dl * np.log2(channels))
    util = rho / (1 + (rho / ucap) ** nsh) ** (1 / nsh)
    u = rho / ucap
    uu = np.minimum(u, 0.9999)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        t_queue = np.where(u < 1, T0 + A * uu ** p / (1 - uu), np.inf)
        t_plateau = Nq * channels ** (-beta) / (ucap * peak_req_per_ns * rf)
        t_plateau = t_plateau * (1 + gr * np.log(np.maximum(u, 1.0)))
        latency = (t_queue ** -m + t_plateau ** -m) ** (-1 / m)
    return latency, util


@register_surrogate
class RamulatorSurrogate(Surrogate):
    """Average read latency and achieved bandwidth of Ramulator 2.0 under an open-loop offered load.

    Per (timing class, pattern) and read fraction (fitted at 0.7 and 1.0, parameters interpolated
    linearly in between)::

        u_cap   = ucap * (1 - delta * log2(channels))           # sustainable fraction of peak
        util    = rho / (1 + (rho / u_cap)**n)**(1/n)             # achieved / peak, a soft min(rho, u_cap)
        T_queue = T0 + A * u**p / (1 - u),  u = rho / u_cap       # unloaded latency + queueing (u < 1)
        T_plat  = Nq * channels**-beta / (u_cap * R_peak * rf) * (1 + g * ln max(u, 1))
        T       = (T_queue**-m + T_plat**-m)**(-1/m)              # smooth min

    Reasoning: requests arrive open loop at rho x the data-bus peak; the controller serves them at
    most at u_cap x peak (row conflicts, read/write turnarounds, refresh), so achieved bandwidth is
    min(offered, ceiling). Below the ceiling latency is the unloaded DRAM access (T0: tRCD/tCL/tBL
    and, for random traffic, precharge) plus a Kingman-like queueing term. At and above the ceiling
    the controller queue (33 entries per channel) is full and the rest of the backlog waits in the
    frontend, which the measured latency excludes: by Little's law latency = reads in the controller
    / read throughput, i.e. a plateau Nq / (u_cap * R_peak * rf) (R_peak = peak requests per ns per
    channel). Nq falls with the channel count for random traffic (channels**-beta: the single
    in-order frontend stalls as soon as one channel's queue is full, so the others are partly
    empty) and the plateau still creeps up with overload (g). The two regimes are joined by a
    smooth minimum. Peak bandwidth per channel and tCK are the standards' datasheet values.
    HBM3 of Ramulator 2.0a reuses HBM2 timings and shares the HBM parameters.

    Domain: loads within [0.85, 1.05) of the fitted ceiling are excluded - there the latency jumps
    from tens of ns to its plateau, and leaving one load level out moves predictions by up to 3x.
    """

    simulator = "ramulator"
    form = "queue_to_ceiling_plateau_v1"
    inputs = ("channels", "read_fraction", "offered_load_frac_of_peak")
    categorical_inputs = ("standard", "pattern")
    outputs = ("avg_read_latency_ns", "achieved_bandwidth_GBps", "bandwidth_utilization")
    primary = ("avg_read_latency_ns", "achieved_bandwidth_GBps")
    holdout_groups = ("offered_load_frac_of_peak", "channels")

    @staticmethod
    def _rows(frame: pd.DataFrame):
        std_code = level_index(frame["standard"], STANDARDS)
        ok = std_code >= 0
        cls = np.where(ok, np.take(STANDARD_CLASS, np.clip(std_code, 0, None)), -1)
        pat = level_index(frame["pattern"], PATTERNS)
        peak = np.where(ok, np.take(STANDARD_PEAK, np.clip(std_code, 0, None)), np.nan)
        tck = np.where(ok, np.take(STANDARD_TCK, np.clip(std_code, 0, None)), np.nan)
        return cls, pat, peak, tck

    def _fit(self, frame: pd.DataFrame) -> None:
        cls, pat, peak, _ = self._rows(frame)
        rf = frame["read_fraction"].to_numpy(dtype=float)
        rho = frame["offered_load_frac_of_peak"].to_numpy(dtype=float)
        ch = frame["channels"].to_numpy(dtype=float)
        lat = frame["avg_read_latency_ns"].to_numpy(dtype=float)
        util = frame["bandwidth_utilization"].to_numpy(dtype=float)
        params, unc = {}, {}
        for ci, cname in enumerate(CLASSES):
            for pi, pname in enumerate(PATTERNS):
                for level in RF_LEVELS:
                    sel = (cls == ci) & (pat == pi) & np.isclose(rf, level)
                    names = [f"{c}[{cname}|{pname}|rf{level}]" for c in CURVE]
                    if sel.sum() < len(CURVE):
                        raise FitError(f"ramulator surrogate: {int(sel.sum())} rows for {cname}/{pname}/rf {level}; "
                                       f"need >= {len(CURVE)}")
                    args = (rho[sel], ch[sel], rf[sel], peak[sel] / REQUEST_BYTES)
                    y_lat, y_util = lat[sel], util[sel]

                    def residuals(theta, args=args, y_lat=y_lat, y_util=y_util):
                        t, u = curve(theta, *args)
                        return np.concatenate([np.log(t / y_lat), (u - y_util) / y_util])

                    x0 = list(X0)
                    x0[0] = float(np.min(y_lat))
                    x0[3] = float(np.max(y_util))
                    res = least_squares_fit(residuals, names, x0, LOWER, UPPER)
                    params.update(res.params)
                    unc.update(res.uncertainty)
        self.params, self.uncertainty = params, unc

    def _theta_rows(self, cls: np.ndarray, pat: np.ndarray, rf: np.ndarray) -> list[np.ndarray]:
        """Per-row curve parameters: the (class, pattern) curves at rf 0.7 and 1.0, blended linearly in rf."""
        table = np.array([self.params[n] for n in _curve_names()]).reshape(len(CLASSES) * len(PATTERNS),
                                                                         len(RF_LEVELS), len(CURVE))
        group = np.clip(cls, 0, None) * len(PATTERNS) + np.clip(pat, 0, None)
        w = (rf - RF_LEVELS[0]) / (RF_LEVELS[1] - RF_LEVELS[0])
        bad = (cls < 0) | (pat < 0)
        out = []
        for j in range(len(CURVE)):
            lo, hi = np.take(table[:, 0, j], group), np.take(table[:, 1, j], group)
            out.append(np.where(bad, np.nan, lo + (hi - lo) * w))
        return out

    def _predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        cls, pat, peak, tck = self._rows(frame)
        rf = frame["read_fraction"].to_numpy(dtype=float)
        ch = frame["channels"].to_numpy(dtype=float)
        rho = frame["offered_load_frac_of_peak"].to_numpy(dtype=float)
        theta = self._theta_rows(cls, pat, rf)
        latency, util = curve(theta, rho, ch, rf, peak / REQUEST_BYTES)
        return {
            "load_fraction_of_ceiling": rho / ceiling(theta, ch),
            "avg_read_latency_ns": latency,
            "achieved_bandwidth_GBps": util * peak * ch,
            "bandwidth_utilization": util,
            "avg_read_latency_cycles": latency / tck,
            "peak_bandwidth_GBps": peak * ch,
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
        knee = (u >= KNEE[0]) & (u < KNEE[1])
        if knee.any():
            out.append((knee, f"offered load is {u[knee].min():.2f}-{u[knee].max():.2f} x the fitted bandwidth "
                              f"ceiling: inside the knee [{KNEE[0]}, {KNEE[1]}) where latency jumps to its plateau "
                              f"and is not validated ({int(knee.sum())} row(s))"))
        return out

    def constraint_descriptions(self) -> list[str]:
        return [f"offered load not within [{KNEE[0]}, {KNEE[1]}) x the fitted bandwidth ceiling (the knee)",
                "channels is a power of 2",
                "read_fraction between the fitted levels 0.7 and 1.0 (parameters interpolated linearly)"]


def training_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The Ramulator 2.0 calibration CSV as a training frame (corrected latency, see its PROVENANCE)."""
    return pd.DataFrame({
        "standard": raw["standard"], "pattern": raw["pattern"], "channels": raw["channels"],
        "read_fraction": raw["read_fraction"], "offered_load_frac_of_peak": raw["offered_load_frac_of_peak"],
        "avg_read_latency_ns": raw["avg_read_latency_ns"],
        "achieved_bandwidth_GBps": raw["achieved_bandwidth_GBps"],
        "bandwidth_utilization": raw["bandwidth_utilization"],
    })
