"""MQSim surrogate: MQSim's request mechanics in closed form, queueing at its resources, and the flow's bursts."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from eoesim.analysis.flash_mechanics import (
    MAPPING_READ_BYTES,
    PAGE_BYTES,
    PROGRAM_CMD_NS,
    READ_CMD_NS,
    SECTOR_BYTES,
    TECHNOLOGIES,
    XFER_NS_PER_BYTE,
    entries_per_translation_page,
    flash_design,
)
from eoesim.analysis.study_tables import Point, Runs, StudyTable, differs, run_params, too_few_rows
from eoesim.analysis.surrogate import Surrogate, least_squares_fit, register_surrogate, unique_rows
from eoesim.errors import ConfigError
from eoesim.simulators.mqsim import surrogate_flow_row
from eoesim.surrogates import CALIBRATED, SETTINGS_COLUMN

#: query column: "sequential" or "random" addresses, every request its own range (the shared
#: calibration data), or "reread" - the same range(s) of ``footprint_KiB`` read again and again (the
#: project's expert loads: ``loads: N`` re-reads one expert's LBA range)
PATTERN_COLUMN = "pattern"
PATTERNS = ("sequential", "random", "reread")
#: optional query column: the transfers' arrival times (us; space-separated text or a sequence per row).
#: Given, the flow's backlog is computed on them (any load, overload included); absent, the steady state
#: of Poisson arrivals is used (only below saturation)
ARRIVALS_COLUMN = "transfer_arrivals_us"
OPTIONAL_INPUTS = {PATTERN_COLUMN: "sequential", "requests_per_transfer": 1, "footprint_KiB": np.nan,
                   "transfers": np.inf, SETTINGS_COLUMN: CALIBRATED}
#: offered load / fitted saturation up to which the validated error applies: single requests (their mean
#: moves by 20-30 % between trace seeds at 0.85; with arrival times also from 1.0 on, the SSD's backlog), and
#: bursts in the steady state (no arrival times given; with them, any load)
MAX_LOAD_SINGLE = 0.7
MAX_LOAD_BURST = 0.85
#: bursts shorter than this are outside the domain: MQSim completes their requests in bunches of flash rounds
#: (and fills the rounds from an idle start), which the drain form misses by 10-20 % (CV on the n = 8 cells)
MIN_BURST = 32
RHO_CAP = 0.995
#: utilisation at which the per-request flash queueing terms stop growing (an overloaded SSD's backlog is
#: the flow-level term; the back end itself cannot be more than busy)
U_FLASH_CAP = 0.9

PARAMS = ("eta_round", "eta_chip", "eta_write", "straggle", "batch", "c_queue", "c_range", "c_prog", "c_map_stage",
          "c_shared", "c_write", "c_burst", "c_wait")
X0 = (1.0, 1.0, 1.0, 0.2, 0.3, 0.6, 1.0, 0.5, 0.5, 1.0, 0.2, 1.0, 1.0)
LOWER = (0.3, 0.3, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
UPPER = (3.0, 3.0, 3.0, 5.0, 50.0, 10.0, 10.0, 10.0, 5.0, 10.0, 20.0, 5.0, 5.0)


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
                  "pages", "bytes", "t_read", "t_read_map", "t_prog", "t_prog2", "planes", "channels_used",
                  "chips_used", "multiplane")


def footprint_pages(frame: pd.DataFrame) -> np.ndarray:
    """Pages of the re-read range per row (0 for the other patterns): footprint_KiB / 8 KiB, at least the
    pages of one request."""
    reread = (frame[PATTERN_COLUMN] == "reread").to_numpy()
    kib = pd.to_numeric(frame["footprint_KiB"], errors="coerce").to_numpy(dtype=float)
    req = frame["request_size_KiB"].to_numpy(dtype=float)
    pages = np.ceil(np.fmax(np.nan_to_num(kib, nan=0.0), req) * 1024 / PAGE_BYTES)
    return np.where(reread, pages, 0.0)


def _design_table(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """flash_mechanics per row (computed once per distinct design; NaN for designs outside the model)."""
    sectors = np.round(frame["request_size_KiB"].to_numpy(dtype=float) * 1024 / SECTOR_BYTES)
    keys = {"C": frame["channels"].to_numpy(dtype=float), "W": frame["chips_per_channel"].to_numpy(dtype=float),
            "D": frame["dies_per_chip"].to_numpy(dtype=float), "P": frame["planes_per_die"].to_numpy(dtype=float),
            "tech": frame["flash_technology"], "s": sectors, "pat": frame[PATTERN_COLUMN], "fp": footprint_pages(frame)}
    combos, inverse = unique_rows(keys)
    table = np.full((len(combos), len(DESIGN_COLUMNS) + 1), np.nan)
    for i, (C, W, D, P, tech, s, pat, fp) in enumerate(combos):
        try:
            ok = (tech in TECHNOLOGIES and pat in PATTERNS and min(C, W, D, P) >= 1 and s >= 1
                  and all(float(v).is_integer() for v in (C, W, D, P)))
        except TypeError:
            ok = False
        if ok:
            des = flash_design(int(C), int(W), int(D), int(P), str(tech), int(s), pat != "random",
                               footprint_pages=int(fp))
            table[i, :-1] = [getattr(des, c) for c in DESIGN_COLUMNS]
            table[i, -1] = math.ceil(fp / entries_per_translation_page(int(C), int(W), int(D), int(P)))
    out = {c: table[inverse, j] for j, c in enumerate(DESIGN_COLUMNS)}
    out["map_pages"] = table[inverse, -1]
    patterns = np.array([c[6] for c in combos], dtype=object)
    out["sequential"] = (patterns != "random")[inverse]
    out["reread"] = (patterns == "reread")[inverse]
    return out


def parse_arrivals(values) -> list[np.ndarray | None]:
    """Transfer arrival times (us) per row from a column of space-separated numbers or sequences
    ('' / None / NaN: no arrivals given)."""
    out = []
    for v in values:
        if isinstance(v, str):
            out.append(np.array(v.split(), dtype=float) if v.strip() else None)
        elif v is None or (isinstance(v, float) and not math.isfinite(v)):
            out.append(None)
        else:
            arr = np.asarray(v, dtype=float)
            out.append(arr if arr.size else None)
    return out


def arrival_matrix(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(rows with listed arrivals, their arrival times padded with NaN to one matrix, us)."""
    if ARRIVALS_COLUMN not in frame:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0))
    parsed = parse_arrivals(frame[ARRIVALS_COLUMN].to_numpy())
    keep = [i for i, a in enumerate(parsed) if a is not None]
    arrays = [a for a in parsed if a is not None]
    width = max((a.size for a in arrays), default=0)
    mat = np.full((len(arrays), width), np.nan)
    for i, a in enumerate(arrays):
        mat[i, :a.size] = np.sort(a)
    return np.asarray(keep, dtype=np.int64), mat


def realized_batch_wait(arrivals_us: np.ndarray, work_us: np.ndarray) -> np.ndarray:
    """Mean wait of the transfers of each row for the ones before them, in units of one transfer's work.

    Lindley's recursion W_k = max(0, W_{k-1} + D - (a_k - a_{k-1})) over the realized arrival times of a
    row (NaN-padded), with every transfer bringing work D = ``work_us`` to a server draining at the SSD's
    saturation throughput: the device's backlog for a finite trace (any load, overload included). Unrolled,
    W_k = S_k - min_{j <= k} S_j with S_j = j D - a_j, which is evaluated for all k at once."""
    if arrivals_us.size == 0:
        return np.zeros(arrivals_us.shape[0])
    valid = np.isfinite(arrivals_us)
    k = np.arange(arrivals_us.shape[1], dtype=float)
    s = k[None, :] * work_us[:, None] - arrivals_us
    wait = np.where(valid, s - np.fmin.accumulate(s, axis=1), 0.0)
    return wait.sum(axis=1) / valid.sum(axis=1) / np.maximum(work_us, 1e-12)


@register_surrogate
class MQSimSurrogate(Surrogate):
    """Mean device response time and saturation throughput of MQSim for a flow of transfers (fresh drive,
    WRITE_CACHE): requests of a size, ``requests_per_transfer`` of them back to back per transfer (an expert
    load or a checkpoint), transfers arriving as a Poisson process (or at given times).

    Built on flash_mechanics (MQSim's code in closed form, see that module): per design the unloaded
    read latency T_miss (mapping read + per-channel data rounds + PCIe) and T_hit (first page already
    mapped), the unloaded write latency T_w (PCIe fetch + DRAM write of the write-back window, then
    one 8-KiB DRAM access per further page), the mean array read / program times of the pages the
    flow touches, the resources its pattern keeps busy (re-reads: only the channels C', chips K' and
    planes per command P' of the re-read range) and per request the pages n, bytes B and the share of
    requests whose first page the previous (sequential) request touched. With lam requests per ns:

    Resource occupancy (the saturation throughput is where the first one reaches 1)::

        m        = 1 (random) | (1 - shared) / (1 + batch lam T_map) (sequential) | map pages / requests (reread)
        rounds   = lam / C' [rf n/P' t_cmd + m t_cmd + B * 3 ns + (1 - rf) n/P' t_cmd,prog]
                   + lam (rf n/P' t_R + m t_Rmap) / K'                   per-channel round occupancy
        rho      = rounds / eta_round
        rho_chip = lam [(1 - rf) n/P' t_prog + rf n/P' t_R + m t_Rmap + rf B * 3 ns] / K' / eta_chip
        rho_w    = lam (1 - rf) n max(t_DRAM(page), t_prog / K') / eta_write    write-back path
        X_sat    = lam B / max(rho, rho_chip, rho_w)

    Response time of one request (u = min(max(rho, rho_chip), 0.9))::

        T_r0    = (1 - shared) [T_miss - joined T_map / 2]
                  + shared [T_hit + c_shared (T_miss - T_hit)(1 - e^(-lam T_miss)) + (1 - rf) E(t_prog - Exp(lam))+]
        T_read  = pcie + (T_r0 - pcie)(1 + c_queue u / (1 - u)) + c_prog R_g / (1 - rho_g) (fan + c_map_stage m)
        T_write = T_w + (n - planes)+ max(0, t_prog / K' - t_DRAM(page)) + c_write rho_w / (1 - rho_w) n t_DRAM(page)
        T_req   = rf T_read + (1 - rf) T_write

    The flow (N requests per transfer, s = B / X_sat the SSD's drain time per request, rho = offered /
    X_sat)::

        T = T_req + c_burst s [(N - 1) / 2 + c_wait N G]
        G = rho / (2 (1 - rho))                       steady state of Poisson transfers (M^X/D/1)
          = mean_k W_k / (N s)                         given the transfers' arrival times (Lindley)

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
    request's mapping read can meet another one. Sequential requests that arrive while their
    translation page is being read join that read (``batch``). Requests sharing a page with the
    previous one (sizes not a multiple of 8 KiB) wait for its mapping read if still in flight, and
    for its program if it was a write. Writes complete in the DRAM cache; under load the write-back
    window (one page per plane in flight) throttles them to one page per DRAM access or per program.
    A transfer's N requests enter the SSD at once and drain at X_sat, the i-th completing about i s
    after the first: (N - 1) / 2 s on average; transfers queue behind each other's backlog (an
    M^X/D/1 queue of transfers with work N s: its mean wait is the P-K formula, or Lindley's
    recursion on given arrival times - a short trace's backlog depends on the actual arrivals, a
    seed-to-seed spread of tens of percent at 0.85 of saturation with 32 transfers).

    Domain: steady state (no arrival times given) only up to MAX_LOAD_* of the fitted
    saturation; with arrival times any load for bursts (see ``outside_regimes``). Regimes are (flash technology,
    pattern, single request or burst, reads only or mixed): a combination never run is outside the domain.
    """

    simulator = "mqsim"
    form = "flash_mechanics_flow_queueing_v3"
    inputs = ("channels", "chips_per_channel", "dies_per_chip", "planes_per_die", "request_size_KiB",
              "read_fraction", "offered_load_MBps", "requests_per_transfer", "footprint_KiB", "transfers")
    unbounded_inputs = ("footprint_KiB", "transfers")
    categorical_inputs = ("flash_technology", PATTERN_COLUMN, SETTINGS_COLUMN)
    optional_inputs = OPTIONAL_INPUTS
    outputs = ("response_time_us", "saturation_throughput_MBps")
    primary = ("response_time_us",)
    holdout_groups = ("request_size_KiB", "requests_per_transfer", "offered_load_frac", "flash_technology",
                      PATTERN_COLUMN)
    training_columns = ("offered_load_frac",)

    def regimes(self, frame: pd.DataFrame) -> pd.DataFrame:
        burst = frame["requests_per_transfer"].to_numpy(dtype=float) > 1
        mixed = frame["read_fraction"].to_numpy(dtype=float) < 1
        return pd.DataFrame({"flash_technology": frame["flash_technology"].array,
                             PATTERN_COLUMN: frame[PATTERN_COLUMN].array,
                             "requests": pd.Categorical.from_codes(burst.astype(np.int8), ["single", "burst"]),
                             "mix": pd.Categorical.from_codes(mixed.astype(np.int8), ["reads", "mixed"])})

    def _evaluate(self, theta: np.ndarray, frame: pd.DataFrame, des: dict[str, np.ndarray] | None = None,
                  arrivals: tuple[np.ndarray, np.ndarray] | None = None):
        p = dict(zip(PARAMS, theta))
        des = _design_table(frame) if des is None else des
        C = des["channels_used"]
        chips = des["chips_used"]
        rf = frame["read_fraction"].to_numpy(dtype=float)
        nbytes = des["bytes"]
        offered = frame["offered_load_MBps"].to_numpy(dtype=float)
        lam = offered * 1e-3 / nbytes   # requests per ns
        n = des["pages"]
        burst = frame["requests_per_transfer"].to_numpy(dtype=float)
        shared = des["shared_fraction"]
        t_map = READ_CMD_NS + des["t_read_map"] + MAPPING_READ_BYTES * XFER_NS_PER_BYTE
        # mapping reads per request: sequential requests join an in-flight read of their translation page;
        # re-reads miss the CMT only on the first pass over their range
        total_requests = frame["transfers"].to_numpy(dtype=float) * burst
        m = np.where(des["sequential"], (1.0 - shared) / (1.0 + p["batch"] * lam * t_map), 1.0)
        m = np.where(des["reread"], des["map_pages"] / total_requests, m)
        # programs per written page: every write of a fresh range programs; a re-written (cached) range
        # programs only on its first pass, later writes stay in the DRAM cache
        first_pass = np.where(des["reread"], np.minimum(1.0, frame["footprint_KiB"].to_numpy(dtype=float) * 1024
                                                        / (total_requests * nbytes)), 1.0)
        planes_per_die = des["multiplane"]
        # loaded queues hold a partner in every plane of a die with the same page index: multiplane
        # commands of one page per plane (calibration: always, within the fit's resolution)
        n_rc = n / planes_per_die
        n_pc = n / planes_per_die * (1.0 - shared)
        # per-request busy times (ns): channel rounds, chip array time, write-back path
        prog_chip = (1 - rf) * first_pass * n_pc * des["t_prog"] / chips
        read_chip = (rf * n_rc * des["t_read"] + m * des["t_read_map"]) / chips
        channel = (rf * n_rc * READ_CMD_NS + m * (READ_CMD_NS + MAPPING_READ_BYTES * XFER_NS_PER_BYTE)
                   + nbytes * XFER_NS_PER_BYTE + (1 - rf) * n_pc * PROGRAM_CMD_NS) / C
        # a read needs all k_r chips it spans: while any of them programs (programs start staggered behind
        # the reads of each chip's queue), its other chips' share of the request waits - lost round time
        k_r = np.minimum(np.ceil(n), chips)
        writes = rf < 1     # the write-side terms are computed only where there are writes
        straggle = np.zeros_like(lam)
        if writes.any():
            rho_pc = np.minimum(lam[writes] * prog_chip[writes], RHO_CAP)
            straggle[writes] = 1.0 - (1.0 - rho_pc) ** k_r[writes] - rho_pc
        rho_round = lam * (channel + read_chip) / p["eta_round"] + p["straggle"] * straggle
        rho_chip = lam * (read_chip + prog_chip + rf * nbytes * XFER_NS_PER_BYTE / chips) / p["eta_chip"]
        # the write-back window throttles fresh writes to one DRAM access or program per page; a re-written
        # (cached) range is one DRAM access per request
        rho_write = np.zeros_like(lam)
        if writes.any():
            fp, wi = first_pass[writes], writes
            write_path = (1 - rf[wi]) * (fp * n[wi] * np.maximum(des["dram_page_ns"][wi], des["t_prog"][wi]
                                                                 * (1 - shared[wi]) / chips[wi])
                                         + (1 - fp) * des["dram_ns"][wi])
            rho_write[wi] = lam[wi] * write_path / p["eta_write"]
        u_all = np.maximum(np.maximum(rho_round, rho_chip), rho_write)
        x_sat = offered / u_all
        pcie = des["pcie_ns"]
        # sequential requests that join an in-flight read of their translation page wait only its rest
        joined = np.where(des["sequential"] & ~des["reread"], 1.0 - m / np.maximum(1.0 - shared, 1e-9), 0.0)
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
        # the unloaded read: a re-read's mapping entry is in the CMT after the first pass
        t_first = np.where(des["reread"], des["read_hit_ns"] + m * (des["read_miss_ns"] - des["read_hit_ns"]),
                           des["read_miss_ns"] - joined * t_map / 2.0)
        t_r0 = (1 - shared) * t_first + shared * (
            des["read_hit_ns"] + p["c_shared"] * (des["read_miss_ns"] - des["read_hit_ns"]) * overlap
            + (1 - rf) * prog_rest)
        # a read that finds a chip programming waits for the rest of the program (never suspended).
        # Sequential: a write programs its pages on the k_w chips it covers at once and reads of the same
        # size cover the same chips, so the array acts as chips / k_w footprints, each busy with rho_g
        # (mean residual of a non-preemptive priority queue). Random: writes land on unrelated footprints,
        # a read's k chips overlap up to min(k, chips / k_w) of them, each programming independently,
        # and the read waits for the longest (fan-out). The mapping read may meet another footprint.
        t_read = t_r0.copy()
        if writes.any():
            wi = writes
            k_w = np.minimum(np.ceil(n[wi]), chips[wi])
            cmds = np.ceil(n[wi] / k_w) / planes_per_die[wi]
            lam_g = lam[wi] * (1 - rf[wi]) * first_pass[wi] * (1 - shared[wi]) * k_w / chips[wi]
            rho_g = np.minimum(lam_g * cmds * des["t_prog"][wi], U_FLASH_CAP)
            second = cmds * des["t_prog2"][wi] + cmds * np.maximum(cmds - 1, 0) * des["t_prog"][wi] ** 2
            wait_g = lam_g * second / 2.0 / (1 - rho_g)
            fan = np.ones_like(lam_g)
            spread = ~des["sequential"][wi] & (rho_g > 0)   # only random writes have unrelated footprints
            if spread.any():
                fan[spread] = _fan_out(np.minimum(k_w, chips[wi] / k_w)[spread], rho_g[spread])
            t_read[wi] += p["c_prog"] * wait_g * (fan + p["c_map_stage"] * m[wi])
        # a read waits in the back end's queues: fresh ranges spread over the array, and a read's flash time
        # stretches with the rounds' load; a re-read range is the same few chips every time, which form
        # c = (chips of the range) / (chips per request) servers taking c / X_sat per request (M/D/c, Sakasegawa)
        drain = nbytes / (x_sat * 1e-3)
        u_back = np.minimum(np.maximum(rho_round, rho_chip), U_FLASH_CAP)
        u = np.minimum(offered / x_sat, U_FLASH_CAP)
        queue_read = (t_r0 - pcie) * p["c_queue"] * u_back / (1 - u_back)
        rr = des["reread"]
        if rr.any():
            servers = np.maximum(chips[rr] / k_r[rr], 1.0)
            queue_read[rr] = p["c_range"] * u[rr] ** (np.sqrt(2 * (servers + 1)) - 1) * drain[rr] / (2 * (1 - u[rr]))
        t_request, queue_request = t_read, queue_read
        if writes.any():
            # writes: DRAM cache and write-back window (their queueing grows with the write path's load), and
            # pages beyond the write-back window wait for programs when these are slower than the DRAM
            wi = writes
            uw = np.minimum(rho_write[wi], U_FLASH_CAP)
            extra_pages = np.maximum(0.0, n[wi] - des["planes"][wi])
            backpressure = first_pass[wi] * extra_pages * np.maximum(0.0, des["t_prog"][wi] / chips[wi]
                                                                    - des["dram_page_ns"][wi])
            t_write = des["write_ns"][wi] + backpressure
            queue_write = p["c_write"] * uw / (1 - uw) * n[wi] * des["dram_page_ns"][wi]
            t_request, queue_request = t_read.copy(), queue_read.copy()
            t_request[wi] = rf[wi] * t_read[wi] + (1 - rf[wi]) * t_write
            queue_request[wi] = rf[wi] * queue_read[wi] + (1 - rf[wi]) * queue_write
        # the flow: a transfer's requests drain one after the other at X_sat, transfers queue behind
        # each other's backlog (steady state below saturation, or Lindley on the given arrivals)
        rho = offered / x_sat
        capped = np.minimum(rho, RHO_CAP)     # finite while fitting; _predict drops the steady state at rho >= 1
        wait = capped / (2 * (1 - capped))
        rows, mat = arrivals if arrivals is not None else arrival_matrix(frame)
        if rows.size:
            wait[rows] = realized_batch_wait(mat, burst[rows] * drain[rows] / 1000.0)
        # waiting: in the back end's queues at moderate load (flash-level), behind the SSD's backlog when
        # transfers pile up (flow-level) - whichever is longer
        # (single requests below saturation: the back end is many servers and only the flash-level queues count)
        backlog = np.where((burst > 1) | (rho >= 1), p["c_wait"] * burst * drain * wait, 0.0)
        response = t_request + p["c_burst"] * drain * (burst - 1) / 2 + np.maximum(queue_request, backlog)
        return response / 1000.0, x_sat

    def _fit(self, frame: pd.DataFrame) -> None:
        y_t = frame["response_time_us"].to_numpy(dtype=float)
        y_x = frame["saturation_throughput_MBps"].to_numpy(dtype=float)
        des = _design_table(frame)
        arrivals = arrival_matrix(frame)
        # fitted on the flows the domain covers (judged with the measured load fraction)
        given = np.zeros(len(frame), dtype=bool)
        given[arrivals[0]] = True
        outside = np.zeros(len(frame), dtype=bool)
        for mask, text in outside_regimes(frame, frame["offered_load_frac"].to_numpy(dtype=float), given):
            if not text.startswith("single requests with writes"):   # those still inform the write path
                outside |= mask
        lat, sat = np.isfinite(y_t) & ~outside, np.isfinite(y_x) & ~outside

        def residuals(theta):
            t, x = self._evaluate(theta, frame, des, arrivals)
            return np.concatenate([np.log(t[lat] / y_t[lat]), np.log(x[sat] / y_x[sat])])

        res = least_squares_fit(residuals, PARAMS, X0, LOWER, UPPER)
        self.params, self.uncertainty = res.params, res.uncertainty

    def _theta(self) -> np.ndarray:
        return np.array([self.params[n] for n in PARAMS])

    def _predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        arrivals = arrival_matrix(frame)
        t, x_sat = self._evaluate(self._theta(), frame, arrivals=arrivals)
        lam = frame["offered_load_MBps"].to_numpy(dtype=float)
        steady = np.ones(len(frame), dtype=bool)
        steady[arrivals[0]] = False
        return {
            # without the transfers' arrival times only the steady state below saturation is defined
            "response_time_us": np.where(steady & (lam >= x_sat), np.nan, t),
            "saturation_throughput_MBps": x_sat,
            "achieved_throughput_MBps": np.minimum(lam, x_sat),
            "load_fraction_of_saturation": lam / x_sat,
        }

    def constraint_violations(self, frame: pd.DataFrame, values=None) -> list[tuple[np.ndarray, str]]:
        out = []
        bad = ~frame[PATTERN_COLUMN].isin(PATTERNS).to_numpy()
        if bad.any():
            out.append((bad, f"{PATTERN_COLUMN} must be one of {list(PATTERNS)} ({int(bad.sum())} row(s))"))
        if values is not None:
            u = np.asarray(values["load_fraction_of_saturation"], dtype=float)
        else:
            _, x_sat = self._evaluate(self._theta(), frame)
            u = frame["offered_load_MBps"].to_numpy(dtype=float) / x_sat
        given = np.zeros(len(frame), dtype=bool)
        given[arrival_matrix(frame)[0]] = True
        for mask, text in outside_regimes(frame, u, given):
            if mask.any():
                out.append((mask, f"{text} ({int(mask.sum())} row(s))"))
        return out

    def constraint_descriptions(self) -> list[str]:
        return [f"single requests: offered_load_MBps <= {MAX_LOAD_SINGLE} x fitted saturation_throughput_MBps, "
                "or >= 1 x "
                f"with the transfers' arrival times ('{ARRIVALS_COLUMN}')",
                f"bursts: requests_per_transfer >= {MIN_BURST}; offered_load_MBps <= {MAX_LOAD_BURST} x "
                "fitted saturation "
                "without arrival times (steady state), any load with them", "reads only (read_fraction 1)",
                "8 KiB pages, 333 MT/s x 8-bit channels, PCIe 4 x 1 GB/s, fresh drive (no GC), WRITE_CACHE, CWDP, "
                f"2 MiB CMT; '{PATTERN_COLUMN}' one of {list(PATTERNS)} (default sequential)"]


def outside_regimes(frame: pd.DataFrame, load: np.ndarray, arrivals_given: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """(row mask, why) for the flows the validated error does not cover (``load``: offered / fitted saturation)."""
    n = frame["requests_per_transfer"].to_numpy(dtype=float)
    mixed = frame["read_fraction"].to_numpy(dtype=float) < 1
    single, burst = n == 1, n > 1
    knee = single & (load > MAX_LOAD_SINGLE) & ~(arrivals_given & (load >= 1))
    fast = burst & (load > MAX_LOAD_BURST) & ~arrivals_given
    worst = float(np.nanmax(load[knee | fast], initial=0.0))
    return [
        (knee, f"single requests at up to {worst:.2f} x the fitted saturation throughput: validated up to "
               f"{MAX_LOAD_SINGLE} (MQSim's mean moves by 20-30 % between trace seeds near saturation), "
               "and from 1.0 on "
               f"with the transfers' arrival times ('{ARRIVALS_COLUMN}')"),
        (burst & (n < MIN_BURST),
         f"bursts of fewer than {MIN_BURST} requests per transfer: MQSim completes them in bunches of flash rounds, "
         "which the drain form misses by 10-20 %"),
        (burst & mixed,
         "bursts with checkpoint writes: MQSim serialises the DRAM writes of a write burst with the reads "
         "(saturation throughput ~40 % below the form's)"),
        (single & mixed,
         "single requests with writes (read_fraction < 1): reads queue behind programs of 0.2-3 ms and MQSim's mean "
         "moves by up to 17 % between trace seeds; cross-validated error 2-16 % (TLC worst)"),
        (fast, f"bursts at up to {worst:.2f} x the fitted saturation throughput without the transfers' arrival times "
               f"('{ARRIVALS_COLUMN}'): the steady state is validated up to {MAX_LOAD_BURST}"),
    ]


def training_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The MQSim calibration CSV as a training frame.

    Rows of the shared data (``load_spec`` nomBW / satX: one request per Poisson arrival, every request
    its own range, 2000 requests) and of the project's flows (``probe`` / satX: bursts, re-reads, see
    campaign_mqsim). Response time is a target where the flow's state is known: a satX row (below
    saturation), or any row whose transfers' arrival times are listed (the backlog is computed on them,
    overload included); the probes (``nomBW`` / ``probe``) give the saturation throughput.
    ``offered_load_frac`` (the row's fraction of the measured cell saturation, 1.0 for probes) is the
    group for leave-one-load-out validation.
    """
    probe = raw["load_spec"].isin(["nomBW", "probe"]).to_numpy()
    arrivals = raw[ARRIVALS_COLUMN].fillna("") if ARRIVALS_COLUMN in raw else pd.Series("", index=raw.index)
    listed = arrivals.astype(str).str.strip().str.len().to_numpy() > 0

    def col(name, default):
        return raw[name] if name in raw else pd.Series(default, index=raw.index)

    frame = pd.DataFrame({
        "channels": raw["channels"], "chips_per_channel": raw["chips_per_channel"],
        "dies_per_chip": col("dies_per_chip", 2).fillna(2), "planes_per_die": col("planes_per_die", 2).fillna(2),
        "flash_technology": raw["flash_technology"],
        "request_size_KiB": raw["request_size_KiB"], "read_fraction": raw["read_fraction"],
        "offered_load_MBps": raw["offered_load_MBps"], PATTERN_COLUMN: raw["pattern"],
        "requests_per_transfer": col("requests_per_transfer", 1).fillna(1),
        "footprint_KiB": col("footprint_KiB", np.nan),
        "transfers": col("transfers", np.nan).fillna(col("num_requests", np.inf)),
        ARRIVALS_COLUMN: arrivals.astype(str), SETTINGS_COLUMN: CALIBRATED,
        "offered_load_frac": np.where(probe, 1.0, raw["load_spec_frac"]),
    })
    frame["response_time_us"] = raw["device_response_time_mean_us"].where(~probe | listed)
    frame["saturation_throughput_MBps"] = raw["cell_saturation_throughput_MBps"].where(probe)
    return frame


# ------------------------------------------------------------------------------------ study tables
# how a real study table becomes this pack's calibration dataset (eoesim.analysis.study_calibration)
#: a flow whose achieved throughput is below this fraction of its offered load is saturated (a probe)
SATURATED_ACHIEVED_RATIO = 0.9
MB = 1e6


def mqsim_unmet(point: Point) -> list[str]:
    out = []
    for i, flow in enumerate(point["flows"]):
        out += differs(f"workload.mqsim flows[{i}].kind", flow["kind"], "trace")
        if flow["kind"] != "trace":
            continue
        row = surrogate_flow_row(point, i)
        if row[SETTINGS_COLUMN] != CALIBRATED:
            out.append(f"workload.mqsim flows[{i}]: {row[SETTINGS_COLUMN]}")
        if not np.isfinite(row["requests_per_transfer"]):
            out.append(f"workload.mqsim flows[{i}]: transfers of different request counts; allowed: every expert load "
                       "and checkpoint of the flow split into the same number of requests")
    return out


def mqsim_dataset(table: pd.DataFrame, runs: Runs) -> pd.DataFrame:
    """One row per trace flow, in the pack's inputs as the adapter's ``surrogate_flow_row`` makes them (request size,
    requests per transfer, transfers, re-read or fresh ranges, footprint, read fraction of the requests, nominal
    offered load = transfer bytes / mean gap, and the transfers' arrival times of the rendered trace). Required:
    trace flows, every setting the pack has no input for at its calibrated value (the row's ``fixed_settings``),
    and all transfers of a flow split into the same number of requests. As in the dataset, a flow whose achieved
    throughput is below ``SATURATED_ACHIEVED_RATIO`` x its offered load is its cell's probe; the cell's saturation
    throughput is its probes' highest achieved throughput, and ``load_spec_frac`` of the others is offered /
    saturation. A cell without a probe is an error."""
    rows = table.reset_index(drop=True)
    achieved = rows["throughput_bytes_per_s"] / MB
    probe = (achieved < SATURATED_ACHIEVED_RATIO * rows["offered_bandwidth_bytes_per_s"] / MB).to_numpy()
    inputs = pd.DataFrame([surrogate_flow_row(run_params(runs, rid, "mqsim"), int(i))
                           for rid, i in zip(rows["run_id"], rows["flow_index"])])
    frame = pd.DataFrame({
        "run_id": rows["run_id"], "source": "study", "flow_index": rows["flow_index"],
        **{c: inputs[c] for c in ("channels", "chips_per_channel", "dies_per_chip", "planes_per_die",
                                  "flash_technology", "request_size_KiB", "read_fraction", "pattern",
                                  "requests_per_transfer", "transfers", "footprint_KiB", "offered_load_MBps",
                                  "transfer_arrivals_us")},
        "load_spec": np.where(probe, "probe", "satX"),
        "realized_offered_load_MBps": rows["offered_bandwidth_bytes_per_s"] / MB,
        "achieved_throughput_MBps": achieved,
        "device_response_time_mean_us": rows["device_response_time_mean_us"],
        "end_to_end_delay_mean_us": rows["end_to_end_delay_mean_us"],
        "requests_serviced": rows["requests_serviced"], "status": "ok",
    })
    cell = ["channels", "chips_per_channel", "flash_technology", "request_size_KiB", "read_fraction", "pattern",
            "requests_per_transfer"]
    saturation = (frame[probe].groupby(cell)["achieved_throughput_MBps"].max()
                  .rename("cell_saturation_throughput_MBps").reset_index())
    frame = frame.merge(saturation, on=cell, how="left")
    missing = frame[frame["cell_saturation_throughput_MBps"].isna()]
    if len(missing):
        row = missing.iloc[0]
        raise ConfigError(
            f"calibrate mqsim: the cell {dict(row[cell])} (run {row['run_id']}) has no saturated flow, so its "
            "saturation throughput (the dataset's probe) is unknown; allowed: a sweep with, per cell, a flow offered "
            f"more than the SSD sustains (achieved < {SATURATED_ACHIEVED_RATIO} x offered), e.g. a smaller "
            "arrival.mean_interval_us")
    frame["load_spec_frac"] = np.where(probe, 1.0,
                                       frame["offered_load_MBps"] / frame["cell_saturation_throughput_MBps"])
    return frame


def mqsim_unidentified(runs: Runs) -> list[str]:
    """The dataset has one row per trace flow: enough flows to fit."""
    return too_few_rows(sum(len(point["flows"]) for point in runs.values()))


MQSimSurrogate.study_table = StudyTable(mqsim_unmet, mqsim_dataset, mqsim_unidentified)
