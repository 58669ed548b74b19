"""MQSim surrogate: MQSim's request mechanics in closed form plus queueing at its resources."""
from __future__ import annotations

import numpy as np
import pandas as pd

from eoesim.analysis.flash_mechanics import (MAPPING_READ_BYTES, PROGRAM_CMD_NS, READ_CMD_NS, SECTOR_BYTES,
                                             TECHNOLOGIES, XFER_NS_PER_BYTE, flash_design)
from eoesim.analysis.surrogate import Surrogate, least_squares_fit, register_surrogate

#: optional query column: "sequential" or "random" request addresses (default: sequential - expert
#: weight loads and checkpoint writes are contiguous)
PATTERN_COLUMN = "pattern"
PATTERNS = ("sequential", "random")
DEFAULT_PATTERN = "sequential"
#: offered load (fraction of the fitted saturation throughput) up to which the validated error applies
MAX_LOAD_FRACTION = 0.7
RHO_CAP = 0.995

PARAMS = ("eta_round", "eta_chip", "eta_write", "straggle", "batch", "c_queue", "c_prog", "c_map_stage", "c_shared",
          "c_write")
X0 = (1.0, 1.0, 1.0, 0.2, 0.3, 0.6, 0.5, 0.5, 1.0, 0.2)
LOWER = (0.3, 0.3, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
UPPER = (3.0, 3.0, 3.0, 5.0, 50.0, 10.0, 10.0, 5.0, 10.0, 20.0)


def _fan_out(k: np.ndarray, q: np.ndarray) -> np.ndarray:
    """E[max of k waits] / E[one wait] when each of k chips is busy with probability q (exponential residuals).

    E[max] = m * integral_0^inf 1 - (1 - q e^-t)^k dt = m * sum_{i=1..k} (1 - (1 - q)^i) / i with m the
    conditional mean residual; one chip's mean wait is m q. Tends to k for q -> 0 (a request meets at
    most one busy chip) and to the harmonic number H_k for q -> 1. ``k`` is rounded to an integer.
    """
    kk = np.maximum(np.rint(np.nan_to_num(np.asarray(k, dtype=float), nan=1.0)), 1.0)
    qq = np.clip(np.nan_to_num(np.asarray(q, dtype=float)), 1e-9, 1.0)
    total = np.zeros_like(qq)
    power = np.ones_like(qq)
    for i in range(1, int(kk.max(initial=1.0)) + 1):
        power = power * (1.0 - qq)
        total += np.where(i <= kk, (1.0 - power) / i, 0.0)
    return total / qq


DESIGN_COLUMNS = ("read_miss_ns", "read_hit_ns", "shared_fraction", "write_ns", "pcie_ns", "dram_ns", "dram_page_ns",
                  "pages", "bytes", "t_read", "t_read_map", "t_prog", "t_prog2", "planes")


def _design_table(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """flash_mechanics per row (computed once per distinct design; NaN for designs outside the model)."""
    n = len(frame)
    pattern = frame[PATTERN_COLUMN] if PATTERN_COLUMN in frame else pd.Series(DEFAULT_PATTERN, index=frame.index)
    sectors = np.round(frame["request_size_KiB"].to_numpy(dtype=float) * 1024 / SECTOR_BYTES)
    parts = [frame["channels"].to_numpy(dtype=float), frame["chips_per_channel"].to_numpy(dtype=float),
             frame["dies_per_chip"].to_numpy(dtype=float), frame["planes_per_die"].to_numpy(dtype=float),
             frame["flash_technology"].to_numpy(), sectors, pattern.to_numpy()]
    key = np.zeros(n, dtype=np.int64)
    uniques = []
    for part in parts:   # radix-combine the factorized columns, then one hash pass
        codes, uni = pd.factorize(part, use_na_sentinel=False)
        uniques.append((codes, uni))
        key = key * (len(uni) + 1) + codes
    inverse, _ = pd.factorize(key)
    n_designs = int(inverse.max(initial=-1)) + 1
    first = np.zeros(n_designs, dtype=np.int64)
    first[inverse[::-1]] = np.arange(n - 1, -1, -1)
    table = np.full((n_designs, len(DESIGN_COLUMNS)), np.nan)
    for i, row in enumerate(first):
        C, W, D, P, tech, s, pat = (uni[codes[row]] for codes, uni in uniques)
        try:
            ok = (tech in TECHNOLOGIES and pat in PATTERNS and min(C, W, D, P) >= 1 and s >= 1
                  and all(float(v).is_integer() for v in (C, W, D, P)))
        except TypeError:
            ok = False
        if ok:
            des = flash_design(int(C), int(W), int(D), int(P), str(tech), int(s), pat == "sequential")
            table[i] = [getattr(des, c) for c in DESIGN_COLUMNS]
    out = {c: table[inverse, j] for j, c in enumerate(DESIGN_COLUMNS)}
    pat_codes, pat_uni = uniques[-1]
    out["sequential"] = (np.asarray(pat_uni, dtype=object) == "sequential")[pat_codes]
    return out


@register_surrogate
class MQSimSurrogate(Surrogate):
    """Mean device response time and saturation throughput of MQSim (fresh drive, WRITE_CACHE, Poisson I/O).

    Built on flash_mechanics (MQSim's code in closed form, see that module): per design the unloaded
    read latency T_miss (mapping read + per-channel data rounds + PCIe) and T_hit (first page already
    mapped), the unloaded write latency T_w (PCIe fetch + DRAM write of the write-back window, then
    one 8-KiB DRAM access per further page), the mean array read / program times of the run's page
    indices, and per request the pages n, bytes B and the share of requests whose first page the
    previous (sequential) request touched. With lam requests per ns, P planes per die:

    Resource occupancy (the probes' saturation throughput is where the first one reaches 1)::

        m        = 1 (random) | (1 - shared) / (1 + batch lam T_map)   mapping reads per request
        rounds   = lam / C [rf n/P t_cmd + m t_cmd + B * 3 ns + (1 - rf) n/P t_cmd,prog]
                   + lam (rf n/P t_R + m t_Rmap) / (C W)                 per-channel round occupancy
        rho      = rounds / eta_round
        rho_chip = lam [(1 - rf) n/P t_prog + rf n/P t_R + m t_Rmap + rf B * 3 ns] / (C W) / eta_chip
        rho_w    = lam (1 - rf) n max(t_DRAM(page), t_prog / (C W)) / eta_write    write-back path
        X_sat    = lam B / max(rho, rho_chip, rho_w)

    Response time (u = max(rho, rho_chip))::

        T_r0   = (1 - shared) [T_miss - joined T_map / 2]
                 + shared [T_hit + c_shared (T_miss - T_hit)(1 - e^(-lam T_miss)) + (1 - rf) E(t_prog - Exp(lam))+]
        T_read = pcie + (T_r0 - pcie)(1 + c_queue u / (1 - u)) + c_prog R_g / (1 - rho_g) (fan + c_map_stage m)
        T_write = T_w + (n - planes)+ max(0, t_prog / (C W) - t_DRAM(page)) + c_write rho_w / (1 - rho_w) n t_DRAM(page)
        T      = rf T_read + (1 - rf) T_write

    Reasoning (each term is an MQSim mechanism): chips take a command only when their channel is
    idle, so reads advance in per-channel rounds (commands, parallel array reads, serial transfers),
    in loaded queues as multiplane commands of one page per plane; a read's flash time stretches
    with the rounds' load like a queue with near-deterministic service (c_queue ~ 0.5-1). MQSim
    never suspends a program (its suspension check falls through), so a read that meets a
    programming chip waits for the rest of it: a write programs its pages on the k_w chips it
    covers at once, so the array acts as chips / k_w footprints, each busy with rho_g and mean
    residual R_g = lam_g E[T_prog^2] / 2 (non-preemptive priority queue); sequential reads cover
    the same footprint as the writes (fan = 1), random ones overlap up to min(k_w, chips / k_w)
    independently programming footprints and wait for the longest (fan = E[max] / E[one]); the
    request's mapping read can meet another one. Sequential requests that arrive while their translation page is
    being read join that read (``batch``, fewer mapping reads, shorter waits). Sequential requests
    sharing a page with the previous one (sizes not a multiple of 8 KiB) wait for its mapping read
    if still in flight, and for its program if it was a write. Writes complete in the DRAM cache;
    under load the write-back window (one page per plane in flight) throttles them to one page
    per DRAM access or per program - the probes' write-limited throughput (~200 MB/s of writes on
    SLC, program-limited on TLC). Nine coefficients are fitted on the calibration runs (log
    residuals of response time and of the probes' saturation throughput).

    Known limits (see the pack's validation): the calibration runs are single 2000-request traces:
    at 0.75 of saturation a repeat with another seed moves the mean by 1-17 % (random addresses
    most), so validation is inside MAX_LOAD_FRACTION of the fitted saturation; page-index effects
    assume 2000-request runs on a fresh drive (no GC). A spot check against MQSim (7ec40e3, built
    from source) on 24 off-grid points (sizes 5-1021 KiB, read fraction 0.6-0.98, 0.1-0.55 of the
    fitted saturation) gave ~10 % MAPE, biased low (-7 %): TLC mixes of 26-45 KiB requests at
    0.4-0.55 of saturation are underpredicted by 30-50 % (reads queue behind programs more than
    the footprint model says). The optional ``pattern`` column (default
    sequential) selects the address pattern; random small requests differ by up to 10x at load.
    """

    simulator = "mqsim"
    form = "flash_mechanics_queueing_v2"
    inputs = ("channels", "chips_per_channel", "dies_per_chip", "planes_per_die", "request_size_KiB",
              "read_fraction", "offered_load_MBps")
    categorical_inputs = ("flash_technology",)
    #: optional query columns (not required; see PATTERN_COLUMN)
    optional_inputs = (PATTERN_COLUMN,)
    outputs = ("response_time_us", "saturation_throughput_MBps")
    primary = ("response_time_us",)
    holdout_groups = ("request_size_KiB", "offered_load_frac", "chips_per_channel")
    training_columns = ("offered_load_frac",)

    def _evaluate(self, theta: np.ndarray, frame: pd.DataFrame, des: dict[str, np.ndarray] | None = None):
        p = dict(zip(PARAMS, theta))
        des = _design_table(frame) if des is None else des
        C = frame["channels"].to_numpy(dtype=float)
        W = frame["chips_per_channel"].to_numpy(dtype=float)
        chips = C * W
        rf = frame["read_fraction"].to_numpy(dtype=float)
        nbytes = des["bytes"]
        lam = frame["offered_load_MBps"].to_numpy(dtype=float) * 1e-3 / nbytes   # requests per ns
        n = des["pages"]
        shared = des["shared_fraction"]
        t_map = READ_CMD_NS + des["t_read_map"] + MAPPING_READ_BYTES * XFER_NS_PER_BYTE
        # mapping reads per request: sequential requests join an in-flight read of their translation page
        m = np.where(des["sequential"], (1.0 - shared) / (1.0 + p["batch"] * lam * t_map), 1.0)
        planes_per_die = frame["planes_per_die"].to_numpy(dtype=float)
        # loaded queues hold a partner in every plane of a die with the same page index: multiplane
        # commands of one page per plane (calibration: always, within the fit's resolution)
        n_rc = n / planes_per_die
        n_pc = n / planes_per_die * (1.0 - shared)
        # per-request busy times (ns): channel rounds, chip array time, write-back path
        prog_chip = (1 - rf) * n_pc * des["t_prog"] / chips
        read_chip = (rf * n_rc * des["t_read"] + m * des["t_read_map"]) / chips
        channel = (rf * n_rc * READ_CMD_NS + m * (READ_CMD_NS + MAPPING_READ_BYTES * XFER_NS_PER_BYTE)
                   + nbytes * XFER_NS_PER_BYTE + (1 - rf) * n_pc * PROGRAM_CMD_NS) / C
        # a read needs all k_r chips it spans: while any of them programs (programs start staggered behind
        # the reads of each chip's queue), its other chips' share of the request waits - lost round time
        k_r = np.minimum(np.ceil(n), chips)
        rho_pc = np.minimum(lam * prog_chip, RHO_CAP)
        straggle = 1.0 - (1.0 - rho_pc) ** k_r - rho_pc
        rho_round = lam * (channel + read_chip) / p["eta_round"] + p["straggle"] * straggle
        rho_chip = lam * (read_chip + prog_chip + rf * nbytes * XFER_NS_PER_BYTE / chips) / p["eta_chip"]
        write_path = (1 - rf) * n * np.maximum(des["dram_page_ns"], des["t_prog"] * (1 - shared) / chips)
        rho_write = lam * write_path / p["eta_write"]
        u_all = np.maximum(np.maximum(rho_round, rho_chip), rho_write)
        x_sat = frame["offered_load_MBps"].to_numpy(dtype=float) / u_all
        # reads: flash time stretched by the back end's load, plus waiting for running programs
        u = np.minimum(np.maximum(rho_round, rho_chip), RHO_CAP)
        pcie = des["pcie_ns"]
        # sequential requests that join an in-flight read of their translation page wait only its rest
        joined = np.where(des["sequential"], 1.0 - m / np.maximum(1.0 - shared, 1e-9), 0.0)
        # a request sharing its first page with the previous one (only then are these terms non-zero)
        # waits for that request's mapping read if still in flight (overlap), and for the page's
        # program if the previous request was a write (prog_rest = E[(t_prog - Exp(lam))+])
        overlap = np.zeros_like(lam)
        prog_rest = np.zeros_like(lam)
        sh = shared > 0
        if sh.any():
            overlap[sh] = 1.0 - np.exp(-lam[sh] * des["read_miss_ns"][sh])
            x = lam[sh] * des["t_prog"][sh]
            prog_rest[sh] = des["t_prog"][sh] * np.where(x > 1e-6, 1.0 - (1.0 - np.exp(-x)) / np.maximum(x, 1e-12),
                                                         x / 2)
        t_r0 = (1 - shared) * (des["read_miss_ns"] - joined * t_map / 2.0) + shared * (
            des["read_hit_ns"] + p["c_shared"] * (des["read_miss_ns"] - des["read_hit_ns"]) * overlap
            + (1 - rf) * prog_rest)
        # a read that finds a chip programming waits for the rest of the program (never suspended).
        # Sequential: a write programs its pages on the k_w chips it covers at once and reads of the same
        # size cover the same chips, so the array acts as chips / k_w footprints, each busy with rho_g
        # (mean residual of a non-preemptive priority queue). Random: writes land on unrelated footprints,
        # a read's k chips overlap up to min(k, chips / k_w) of them, each programming independently,
        # and the read waits for the longest (fan-out). The mapping read may meet another footprint.
        seq = des["sequential"]
        k_w = np.minimum(np.ceil(n), chips)
        cmds = np.ceil(n / k_w) / planes_per_die
        lam_g = lam * (1 - rf) * (1 - shared) * k_w / chips
        rho_g = np.minimum(lam_g * cmds * des["t_prog"], RHO_CAP)
        second = cmds * des["t_prog2"] + cmds * np.maximum(cmds - 1, 0) * des["t_prog"] ** 2
        wait_g = lam_g * second / 2.0 / (1 - rho_g)
        fan = np.where(seq, 1.0, _fan_out(np.minimum(k_w, chips / k_w), rho_g))
        t_read = pcie + (t_r0 - pcie) * (1 + p["c_queue"] * u / (1 - u)) + \
            p["c_prog"] * wait_g * (fan + p["c_map_stage"] * m)
        # writes: DRAM cache and write-back window (their queueing grows with the write path's load; an
        # M/D/1 term for the DRAM channel alone fitted to zero), large-write back-pressure
        uw = np.minimum(rho_write, RHO_CAP)
        # pages beyond the write-back window wait for programs when these are slower than the DRAM
        extra_pages = np.maximum(0.0, n - des["planes"])
        backpressure = extra_pages * np.maximum(0.0, des["t_prog"] / chips - des["dram_page_ns"])
        t_write = des["write_ns"] + backpressure + p["c_write"] * uw / (1 - uw) * n * des["dram_page_ns"]
        response = rf * t_read + (1 - rf) * t_write
        return response / 1000.0, x_sat

    def _fit(self, frame: pd.DataFrame) -> None:
        y_t = frame["response_time_us"].to_numpy(dtype=float)
        y_x = frame["saturation_throughput_MBps"].to_numpy(dtype=float)
        lat, sat = np.isfinite(y_t), np.isfinite(y_x)
        des = _design_table(frame)

        def residuals(theta):
            t, x = self._evaluate(theta, frame, des)
            return np.concatenate([np.log(t[lat] / y_t[lat]), np.log(x[sat] / y_x[sat])])

        res = least_squares_fit(residuals, PARAMS, X0, LOWER, UPPER)
        self.params, self.uncertainty = res.params, res.uncertainty

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
        out = []
        if PATTERN_COLUMN in frame:
            bad = ~frame[PATTERN_COLUMN].isin(PATTERNS).to_numpy()
            if bad.any():
                out.append((bad, f"{PATTERN_COLUMN} must be one of {list(PATTERNS)} ({int(bad.sum())} row(s))"))
        if values is not None:
            u = np.asarray(values["load_fraction_of_saturation"], dtype=float)
        else:
            _, x_sat = self._evaluate(self._theta(), frame)
            u = frame["offered_load_MBps"].to_numpy(dtype=float) / x_sat
        bad = u > MAX_LOAD_FRACTION
        if bad.any():
            out.append((bad, f"offered_load_MBps is {u[bad].max():.2f} x the fitted saturation throughput; "
                             f"validated up to {MAX_LOAD_FRACTION} ({int(bad.sum())} row(s))"))
        return out

    def constraint_descriptions(self) -> list[str]:
        return [f"offered_load_MBps <= {MAX_LOAD_FRACTION} x fitted saturation_throughput_MBps",
                "8 KiB pages, 333 MT/s x 8-bit channels, PCIe 4 x 1 GB/s, fresh drive (no GC), WRITE_CACHE, "
                f"2000-request runs; optional column '{PATTERN_COLUMN}' (sequential|random, default {DEFAULT_PATTERN})"]


def training_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The MQSim calibration CSV as a training frame.

    Response time is kept for the ``satX`` rows (0.1/0.4/0.75 of the cell's saturation); the
    saturating ``nomBW`` probes contribute only their throughput (their latency is not a steady
    state). ``offered_load_frac`` (the row's fraction of the measured cell saturation, 1.0 for
    probes) is the group for leave-one-load-out validation. Dies and planes are the dataset's
    fixed 2 x 2; ``pattern`` (sequential/random addresses) is kept.
    """
    probe = raw["load_spec"] == "nomBW"
    frame = pd.DataFrame({
        "channels": raw["channels"], "chips_per_channel": raw["chips_per_channel"],
        "dies_per_chip": 2, "planes_per_die": 2, "flash_technology": raw["flash_technology"],
        "request_size_KiB": raw["request_size_KiB"], "read_fraction": raw["read_fraction"],
        "offered_load_MBps": raw["offered_load_MBps"], PATTERN_COLUMN: raw["pattern"],
        "offered_load_frac": np.where(probe, 1.0, raw["load_spec_frac"]),
    })
    frame["response_time_us"] = raw["device_response_time_mean_us"].where(~probe)
    frame["saturation_throughput_MBps"] = raw["cell_saturation_throughput_MBps"].where(probe)
    return frame
