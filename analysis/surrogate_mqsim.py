"""MQSim surrogate: per-request flash/channel/PCIe service plus utilisation-driven waiting."""
from __future__ import annotations

import numpy as np
import pandas as pd

from eoesim.analysis.surrogate import Surrogate, least_squares_fit, level_index, register_surrogate

#: flash timing of the calibration runs (PROVENANCE): read / program latency in us; TLC uses the mean
#: of its LSB/CSB/MSB page latencies (60/80/100 us, 0.8/1.6/3.0 ms)
READ_US = {"SLC": 25.0, "TLC": 80.0}
PROGRAM_US = {"SLC": 200.0, "TLC": 1800.0}
TECHS = ("SLC", "TLC")
TECH_READ = np.array([READ_US[t] for t in TECHS])
TECH_PROG = np.array([PROGRAM_US[t] for t in TECHS])
PAGE_BYTES = 8192.0
CHANNEL_MBPS = 333.0   # 333 MT/s x 1 B flash channel
PCIE_MBPS = 4000.0     # 4 lanes x 1 GB/s
#: offered load (fraction of the fitted saturation throughput) up to which the validated error applies
MAX_LOAD_FRACTION = 0.75

PARAMS = ("a_read", "x_chan", "o_read_us", "g_chips", "n_smooth", "k_prog", "w_central_MBps",
          "c_read_us", "m_read", "c_write_us", "y_write", "k_queue", "k_prog_wait")
X0 = (1.0, 1.2, 10.0, 0.5, 4.0, 1.0, 300.0, 20.0, 1.0, 20.0, 1.0, 1.0, 0.5)
LOWER = (0.01, 0.1, 0.0, 0.0, 1.0, 0.01, 10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
UPPER = (50.0, 10.0, 1e4, 2.0, 20.0, 100.0, 1e5, 1e4, 20.0, 1e4, 50.0, 50.0, 50.0)
STARTS = (X0, (1.0, 1.2, 10.0, 0.5, 20.0, 1.0, 250.0, 20.0, 1.0, 20.0, 1.0, 0.5, 0.2),
          (0.8, 1.2, 20.0, 0.5, 2.0, 1.0, 1000.0, 20.0, 1.0, 50.0, 5.0, 2.0, 1.0))
RHO_KNEE = 0.99


def _wait_factor(rho: np.ndarray) -> np.ndarray:
    """rho / (1 - rho), continued linearly above RHO_KNEE (finite while fitting)."""
    r = np.minimum(rho, RHO_KNEE)
    w = r / (1 - r)
    return np.where(rho <= RHO_KNEE, w, w + (rho - RHO_KNEE) / (1 - RHO_KNEE) ** 2)


@register_surrogate
class MQSimSurrogate(Surrogate):
    """Mean device response time of MQSim (fresh drive, WRITE_CACHE) under Poisson block I/O.

    Capacity (operational law: per-byte service demand of the bottleneck, reads and writes mixed)::

        pages  = ceil(S / 8 KiB);  P_r = channels * chips**g
        D_read  = smoothmax_n( (pages * a_read * tR + o_read) / P_r,  pages * 8 KiB * x_chan / (channels * 333 MB/s) ) / S
        D_write = max( 1 / w_central,  k_prog * tPROG / (channels * chips * 8 KiB) )
        D       = rf * D_read + (1 - rf) * D_write            X_sat = 1 / D,  u = lam * D

    Response time::

        T_read  = c_read + m_read * a_read * tR + pages * 8 KiB * x_chan / (min(pages, ch) * 333 MB/s) + S / PCIe
        T_write = c_write + y_write * S / PCIe
        rho_p   = lam * (1 - rf) * k_prog * tPROG / (channels * chips * 8 KiB)   # chips busy programming
        T       = rf * (T_read + k_prog_wait * rho_p / (1 - u) * tPROG / 2) + (1 - rf) * T_write
                  + k_queue * u / (1 - u) * S * D

    Reasoning: a read costs a flash array read, the page transfers over the channels it is striped
    across and the PCIe transfer; reads of a request proceed in parallel over the channels and,
    less than linearly (g), over the chips. A write is absorbed by the DRAM write cache and later
    programmed: in MQSim's mixed runs the program of a page occupies its whole chip (dies and planes
    do not help: write capacity scales with channels x chips x 8 KiB / tPROG), and SLC mixes are
    capped by a central write path (w_central) that does not scale with the flash at all. The
    operational law mixes the per-byte demands of reads and writes. Reads that find their chip
    programming wait for the rest of the program (mean residual tPROG/2), which is why mixed
    workloads slow reads even at low load; on top, an M/M/1-like wait with the bottleneck's service
    time S * D diverges at X_sat.

    Known limits (see the pack's validation): MQSim's firmware effects (mapping reads, cache flush
    policy) are only captured on average; above MAX_LOAD_FRACTION of the fitted saturation the
    response time of these N = 2000 request runs is not a steady state.
    """

    simulator = "mqsim"
    form = "flash_bottleneck_v2"
    inputs = ("channels", "chips_per_channel", "dies_per_chip", "planes_per_die", "request_size_KiB",
              "read_fraction", "offered_load_MBps")
    categorical_inputs = ("flash_technology",)
    outputs = ("response_time_us", "saturation_throughput_MBps")
    primary = ("response_time_us",)
    holdout_groups = ("request_size_KiB", "offered_load_frac", "chips_per_channel")
    training_columns = ("offered_load_frac",)

    def _evaluate(self, theta: np.ndarray, frame: pd.DataFrame):
        p = dict(zip(PARAMS, theta))
        S = frame["request_size_KiB"].to_numpy(dtype=float) * 1024.0
        C = frame["channels"].to_numpy(dtype=float)
        chips = frame["chips_per_channel"].to_numpy(dtype=float)
        rf = frame["read_fraction"].to_numpy(dtype=float)
        tech = level_index(frame["flash_technology"], TECHS)
        t_r = np.where(tech >= 0, np.take(TECH_READ, np.clip(tech, 0, None)), np.nan) * p["a_read"]
        t_p = np.where(tech >= 0, np.take(TECH_PROG, np.clip(tech, 0, None)), np.nan)
        lam = frame["offered_load_MBps"].to_numpy(dtype=float)
        pages = np.ceil(S / PAGE_BYTES)
        n = p["n_smooth"]
        fl = (pages * t_r + p["o_read_us"]) / (C * chips ** p["g_chips"])
        xfer = pages * PAGE_BYTES * p["x_chan"] / CHANNEL_MBPS
        d_read = (fl ** n + (xfer / C) ** n) ** (1 / n) / S
        prog_per_byte = p["k_prog"] * t_p / (C * chips * PAGE_BYTES)
        d_write = np.maximum(1.0 / p["w_central_MBps"], prog_per_byte)
        D = rf * d_read + (1 - rf) * d_write
        u = lam * D
        rho_p = lam * (1 - rf) * prog_per_byte
        w = _wait_factor(u)
        inv = w / np.maximum(u, 1e-12)  # 1 / (1 - u), continued past the knee
        t_read = (p["c_read_us"] + p["m_read"] * t_r + xfer / np.minimum(pages, C) + S / PCIE_MBPS
                  + p["k_prog_wait"] * rho_p * inv * t_p / 2)
        t_write = p["c_write_us"] + p["y_write"] * S / PCIE_MBPS
        response = rf * t_read + (1 - rf) * t_write + p["k_queue"] * w * S * D
        return response, 1.0 / D

    def _fit(self, frame: pd.DataFrame) -> None:
        y_t = frame["response_time_us"].to_numpy(dtype=float)
        y_x = frame["saturation_throughput_MBps"].to_numpy(dtype=float)
        lat, sat = np.isfinite(y_t), np.isfinite(y_x)

        def residuals(theta):
            t, x = self._evaluate(theta, frame)
            return np.concatenate([np.log(t[lat] / y_t[lat]), np.log(x[sat] / y_x[sat])])

        best = None
        for x0 in STARTS:
            res = least_squares_fit(residuals, PARAMS, x0, LOWER, UPPER)
            if best is None or res.cost < best.cost:
                best = res
        self.params, self.uncertainty = best.params, best.uncertainty

    def _theta(self) -> np.ndarray:
        return np.array([self.params[n] for n in PARAMS])

    def _predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        t, x_sat = self._evaluate(self._theta(), frame)
        lam = frame["offered_load_MBps"].to_numpy(dtype=float)
        return {
            "response_time_us": np.where(lam < x_sat, t, np.nan),
            "saturation_throughput_MBps": x_sat,
            "achieved_throughput_MBps": np.minimum(lam, x_sat),
            "load_fraction_of_saturation": lam / x_sat,
        }

    def constraint_violations(self, frame: pd.DataFrame, values=None) -> list[tuple[np.ndarray, str]]:
        if values is not None:
            u = np.asarray(values["load_fraction_of_saturation"], dtype=float)
        else:
            _, x_sat = self._evaluate(self._theta(), frame)
            u = frame["offered_load_MBps"].to_numpy(dtype=float) / x_sat
        bad = u > MAX_LOAD_FRACTION
        if bad.any():
            return [(bad, f"offered_load_MBps is {u[bad].max():.2f} x the fitted saturation throughput; "
                          f"validated up to {MAX_LOAD_FRACTION} ({int(bad.sum())} row(s))")]
        return []

    def constraint_descriptions(self) -> list[str]:
        return [f"offered_load_MBps <= {MAX_LOAD_FRACTION} x fitted saturation_throughput_MBps",
                "8 KiB pages, 333 MT/s x 8-bit channels, PCIe 4 x 1 GB/s, fresh drive (no GC), WRITE_CACHE"]


def training_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The MQSim calibration CSV as a training frame.

    Response time is kept for the ``satX`` rows (0.1/0.4/0.75 of the cell's saturation); the
    saturating ``nomBW`` probes contribute only their throughput (their latency is not a steady
    state). ``offered_load_frac`` (the row's fraction of the measured cell saturation, 1.0 for
    probes) is the group for leave-one-load-out validation. Dies and planes are the dataset's
    fixed 2 x 2.
    """
    probe = raw["load_spec"] == "nomBW"
    frame = pd.DataFrame({
        "channels": raw["channels"], "chips_per_channel": raw["chips_per_channel"],
        "dies_per_chip": 2, "planes_per_die": 2, "flash_technology": raw["flash_technology"],
        "request_size_KiB": raw["request_size_KiB"], "read_fraction": raw["read_fraction"],
        "offered_load_MBps": raw["offered_load_MBps"],
        "offered_load_frac": np.where(probe, 1.0, raw["load_spec_frac"]),
    })
    frame["response_time_us"] = raw["device_response_time_mean_us"].where(~probe)
    frame["saturation_throughput_MBps"] = raw["cell_saturation_throughput_MBps"].where(probe)
    return frame
