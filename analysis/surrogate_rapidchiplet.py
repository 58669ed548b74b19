"""RapidChiplet surrogates: analytical latency/throughput/area/power, and BookSim latency vs load."""
from __future__ import annotations

import numpy as np
import pandas as pd

from eoesim.analysis.chiplet_geometry import TOPOLOGIES, TRAFFICS, hotspot_set, n_chiplets_of, route_stats
from eoesim.analysis.study_tables import Point, Runs, StudyTable, differs, run_params
from eoesim.analysis.surrogate import Surrogate, least_squares_fit, register_surrogate, unique_rows
from eoesim.surrogates import CALIBRATED, SETTINGS_COLUMN

LAT = ("lat_c0", "lat_hop", "lat_long", "lat_span")
THR = ("bw_per_phy_share", "bw_per_link", "eta_hotspot")
#: optional query column: the seed of Python's RNG in the RapidChiplet run (``random.seed(seed)``),
#: which fixes the hotspot chiplets; hotspot rows without it fall back to the expectation over them
SEED_COLUMN = "seed"
#: in-sample MAPE of the unseeded hotspot fallback's throughput on the calibration rows (max 256 %)
UNSEEDED_HOTSPOT_ERR_PCT = 40.0
AREA = ("area_base_mm2", "area_memory_mm2", "area_io_mm2", "area_per_phy_mm2")
POWER = ("power_base_W", "power_memory_W", "power_io_W", "power_per_phy_W")
#: optional query column: the design route's memory/IO edge columns, "west/east" (each none|memory|io)
EDGE_COLUMN = "edge_columns"
EDGE_KINDS = ("none", "memory", "io")


def _edges(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per row the (west, east) edge-column kinds ("none" where the column is absent); the few distinct
    values are split once and mapped back by their codes."""
    if EDGE_COLUMN not in frame:
        none = np.full(len(frame), "none", dtype=object)
        return none, none
    codes, uniques = pd.factorize(frame[EDGE_COLUMN].to_numpy(), use_na_sentinel=False)
    parts = [(str(u).split("/", 1) + ["none"])[:2] for u in uniques]
    west = np.array([p[0] for p in parts], dtype=object)
    east = np.array([p[1] for p in parts], dtype=object)
    return west[codes], east[codes]


def _design_keys(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Per row the index of its distinct design, and per design (topology, rows-or-radius, cols, traffic,
    seed, west and east edge columns) as route_stats wants them (seed -1: not a seeded hotspot design)."""
    n = len(frame)
    hexa = (frame["topology"] == "hexamesh").to_numpy()
    hot = (frame["traffic_pattern"] == "hotspot").to_numpy()
    radius = frame["hex_radius"].to_numpy(dtype=float) if "hex_radius" in frame else np.zeros(n)
    rows = np.where(hexa, np.nan_to_num(radius), np.nan_to_num(frame["grid_rows"].to_numpy(dtype=float)))
    cols = np.where(hexa, 0, np.nan_to_num(frame["grid_cols"].to_numpy(dtype=float)))
    seed = np.full(n, -1, dtype=np.int64)
    if SEED_COLUMN in frame:
        raw = pd.to_numeric(frame[SEED_COLUMN], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(raw) & hot
        seed[ok] = raw[ok].astype(np.int64)
    edges = frame[EDGE_COLUMN] if EDGE_COLUMN in frame else pd.Series(
        pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), ["none/none"]))
    keys = {"t": frame["topology"], "tr": frame["traffic_pattern"], "r": rows.astype(np.int64),
            "c": cols.astype(np.int64), "seed": seed, "edges": edges}
    combos, inverse = unique_rows(keys)
    designs = pd.DataFrame(combos, columns=list(keys))
    west, east = _edges(designs.rename(columns={"edges": EDGE_COLUMN}))
    designs = designs.drop(columns="edges").assign(w=west, e=east)
    return inverse, designs


def _seeded_hotspot(frame: pd.DataFrame) -> np.ndarray:
    """Rows of hotspot traffic whose hotspot set is known from a seed column."""
    inverse, designs = _design_keys(frame)
    return (designs["seed"].to_numpy() >= 0)[inverse]


FEATURES = ("hops", "long", "span", "load", "total", "nphys", "nchip", "ncompute", "nmemory", "nio")


def _features(frame: pd.DataFrame, pairs_of_designs: bool = True) -> dict[str, np.ndarray]:
    """Route features per row (NaN for invalid designs), ``seeded`` (hotspot set known) and, with
    ``pairs_of_designs``, ``groups`` ((row indices, per-pair features) per design, for the min/max latency)."""
    inverse, designs = _design_keys(frame)
    table = np.full((len(designs), len(FEATURES)), np.nan)
    pairs = []
    for i, (t, tr, r, c, seed, west, east) in enumerate(designs.itertuples(index=False)):
        edges = (int(west != "none"), int(east != "none"))
        valid = (t in TOPOLOGIES and tr in TRAFFICS and int(r) >= 1 and (t == "hexamesh" or int(c) >= 2)
                 and (tr != "transpose" or t == "hexamesh" or int(r) == int(c))
                 and not (t == "hexamesh" and tr == "transpose")
                 and west in EDGE_KINDS and east in EDGE_KINDS and (t != "hexamesh" or edges == (0, 0)))
        if not valid:   # outside the domain: NaN results
            pairs.append(np.full((1, 3), np.nan))
            continue
        hot = hotspot_set(n_chiplets_of(t, int(r), int(c)), int(seed)) if seed >= 0 else None
        st = route_stats(t, int(r), int(c), tr, hot, edges)
        kinds = [west] * int(r) * edges[0] + [east] * int(r) * edges[1]
        table[i] = (st.mean_hops, st.mean_long_hops, st.mean_long_span, st.max_link_load, st.total_load,
                    st.n_phys, st.n_chiplets, st.n_compute, kinds.count("memory"), kinds.count("io"))
        pairs.append(st.pairs)
    out = {key: table[inverse, j] for j, key in enumerate(FEATURES)}
    out["seeded"] = (designs["seed"].to_numpy() >= 0)[inverse]
    if pairs_of_designs:
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(designs) + 1))
        out["groups"] = [(order[bounds[i]:bounds[i + 1]], pairs[i]) for i in range(len(designs))]
    out["hotspot"] = (designs["tr"].to_numpy() == "hotspot")[inverse]
    return out


def _sum_by_type(f: dict[str, np.ndarray], p, names: tuple[str, ...]) -> np.ndarray:
    """Area or power of a package: per chiplet its type's base value plus its PHYs' (compute, memory, io)."""
    base, memory, io, per_phy = (p[n] for n in names)
    return (f["ncompute"] * base + f["nmemory"] * memory + f["nio"] * io) + f["nchip"] * per_phy * f["nphys"]


@register_surrogate
class RapidChipletSurrogate(Surrogate):
    """RapidChiplet's analytical metrics of a chiplet package (latency, throughput, area, power).

    Forms (features from chiplet_geometry: SPLIF routes on the topology graph)::

        latency        = c0 + c_hop * H + c_long * H_long + c_span * S_long     (avg, min and max over pairs)
        B_link         = b_share / n_phys + b_link                              (bits/cycle per direction)
        throughput     = B_link * total_load / max_link_load   (x eta_hotspot for hotspot traffic)
        chiplet area   = sum over chiplets (a_type + a_phy * n_phys)         (type: compute, memory, io)
        power          = sum over chiplets (p_type + p_phy * n_phys)

    Reasoning: RapidChiplet's latency adds, per packet, fixed endpoint costs (c0), a relay cost and
    a link latency per hop (c_hop), and for links that are not between facing PHYs a latency that
    grows with their physical length, i.e. with the number of chiplet pitches they span (c_long,
    c_span). H, H_long and S_long are the traffic-weighted hop count, long-link hops and their
    summed span under RapidChiplet's shortest-path-lowest-id routing, computed for any grid size.
    Its throughput is the bandwidth of the most loaded link divided by that link's load per unit
    injection; a link's bandwidth is the bump area of one PHY, which shrinks as a chiplet hosts
    more PHYs (n_phys = 4 on mesh/torus/folded torus, 6 on hexamesh, rows + cols - 2 on a
    flattened butterfly). Hotspot traffic: RapidChiplet picks its 4 hotspot chiplets with
    ``random.sample`` from Python's global RNG; given the run's seed (optional query column ``seed``)
    chiplet_geometry.hotspot_set reproduces that draw, so the link loads - and hence throughput and
    the traffic-weighted latency - are computed, not averaged (exact on every calibration row).
    Without the seed the features use the expectation over the choice of hotspots and eta_hotspot
    scales the result; such rows are outside the domain (that fallback errs by tens of percent).
    Area and power are linear sums over chiplets and PHYs (link power is not part of RapidChiplet's
    total). The design route's memory/IO edge columns (``edge_columns`` "west/east") add relaying
    chiplets of their own type that neither send nor receive; the routes run over the whole grid.
    """

    simulator = "rapidchiplet"
    form = "splif_routes_linear_v3"
    inputs = ("n_chiplets", "grid_rows", "grid_cols", "hex_radius")
    unbounded_inputs = ("grid_rows", "grid_cols", "hex_radius")
    categorical_inputs = ("topology", "traffic_pattern", EDGE_COLUMN, SETTINGS_COLUMN)
    optional_inputs = {"hex_radius": np.nan, EDGE_COLUMN: "none/none", SETTINGS_COLUMN: CALIBRATED}
    outputs = ("latency_avg_cycles", "aggregate_throughput_bits_per_cycle", "latency_min_cycles",
               "latency_max_cycles", "total_chiplet_area_mm2", "total_power_W")
    primary = ("latency_avg_cycles", "aggregate_throughput_bits_per_cycle")
    holdout_groups = ("n_chiplets", "traffic_pattern", "topology")

    def regimes(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame[["topology", "traffic_pattern", EDGE_COLUMN]]

    def _fit(self, frame: pd.DataFrame) -> None:
        f = _features(frame)
        params, unc = {}, {}
        y = frame["latency_avg_cycles"].to_numpy(dtype=float)

        def lat_res(th):
            return (th[0] + th[1] * f["hops"] + th[2] * f["long"] + th[3] * f["span"] - y) / y

        r = least_squares_fit(lat_res, LAT, (6.0, 28.0, 3.0, 2.0))
        params.update(r.params), unc.update(r.uncertainty)
        y = frame["aggregate_throughput_bits_per_cycle"].to_numpy(dtype=float)
        hot = f["hotspot"]
        exact = ~hot | f["seeded"]   # traffic known exactly: routes give the link loads
        base = f["total"] / f["load"]

        def thr_res(th):
            return np.log((th[0] / f["nphys"][exact] + th[1]) * base[exact] / y[exact])

        r = least_squares_fit(thr_res, THR[:2], (7000.0, 100.0))
        params.update(r.params), unc.update(r.uncertainty)
        bw = r.params[THR[0]] / f["nphys"] + r.params[THR[1]]
        if hot.any():
            # fallback for hotspot queries without a seed: expectation features scaled by eta_hotspot
            g = _features(frame[hot].drop(columns=[SEED_COLUMN], errors="ignore"))
            base_e = g["total"] / g["load"]
            r = least_squares_fit(lambda th: np.log(th[0] * bw[hot] * base_e / y[hot]), THR[2:], (1.0,),
                                  (0.05,), (5.0,))
            params.update(r.params), unc.update(r.uncertainty)
        else:
            params[THR[2]], unc[THR[2]] = 1.0, float("inf")
        for names, col, x0 in ((AREA, "total_chiplet_area_mm2", (50.0, 50.0, 50.0, 1.0)),
                               (POWER, "total_power_W", (10.0, 10.0, 10.0, 0.1))):
            y = frame[col].to_numpy(dtype=float)

            def lin_res(th, y=y, names=names):
                return (_sum_by_type(f, dict(zip(names, th)), names) - y) / y

            r = least_squares_fit(lin_res, names, x0)
            params.update(r.params), unc.update(r.uncertainty)
        self.params, self.uncertainty = params, unc

    def _predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        f = _features(frame)
        p = self.params
        c = np.array([p[n] for n in LAT])
        lat = c[0] + c[1] * f["hops"] + c[2] * f["long"] + c[3] * f["span"]
        lmin, lmax = np.empty(len(frame)), np.empty(len(frame))
        for idx, pairs in f["groups"]:
            per_pair = c[0] + pairs @ c[1:]
            lmin[idx], lmax[idx] = per_pair.min(), per_pair.max()
        unseeded = f["hotspot"] & ~f["seeded"]
        bw = p["bw_per_phy_share"] / f["nphys"] + p["bw_per_link"]
        thr = bw * f["total"] / f["load"] * np.where(unseeded, p["eta_hotspot"], 1.0)
        return {
            "latency_avg_cycles": lat,
            "aggregate_throughput_bits_per_cycle": thr,
            "latency_min_cycles": lmin,
            "latency_max_cycles": lmax,
            "total_chiplet_area_mm2": _sum_by_type(f, p, AREA),
            "total_power_W": _sum_by_type(f, p, POWER),
            "link_bandwidth_bits_per_cycle": bw,
            "hotspot_set_known": ~unseeded,
        }

    def constraint_violations(self, frame: pd.DataFrame, values=None) -> list[tuple[np.ndarray, str]]:
        out = _design_violations(frame)
        if values is not None and "hotspot_set_known" in values:
            unseeded = ~np.asarray(values["hotspot_set_known"], dtype=bool)
        else:
            unseeded = (frame["traffic_pattern"] == "hotspot").to_numpy() & ~_seeded_hotspot(frame)
        if unseeded.any():
            out.append((unseeded, f"hotspot traffic without a '{SEED_COLUMN}' column (RapidChiplet's Python RNG "
                                  f"seed, which picks the hotspots): predicted for the expected hotspot set, "
                                  f"throughput errs by ~{UNSEEDED_HOTSPOT_ERR_PCT:.0f} % on average, up to 2.6x "
                                  f"({int(unseeded.sum())} row(s))"))
        return out

    def constraint_descriptions(self) -> list[str]:
        return ["grid topologies need grid_rows, grid_cols >= 2 and n_chiplets = rows x cols; hexamesh needs "
                "hex_radius >= 1", "transpose traffic needs a square grid",
                f"hotspot traffic needs the optional '{SEED_COLUMN}' column (the run's random.seed), which "
                "determines RapidChiplet's hotspot chiplets",
                "RapidChiplet's example technology/packaging/chiplet (74 mm2, 4 units, internal latency 3)"]


def _design_violations(frame: pd.DataFrame) -> list[tuple[np.ndarray, str]]:
    hexa = (frame["topology"] == "hexamesh").to_numpy()
    rows = frame["grid_rows"].to_numpy(dtype=float)
    cols = frame["grid_cols"].to_numpy(dtype=float)
    out = []
    bad_grid = ~hexa & ~((rows >= 2) & (cols >= 2) & (rows % 1 == 0) & (cols % 1 == 0))
    if bad_grid.any():
        out.append((bad_grid, "grid topologies need integer grid_rows and grid_cols >= 2"))
    if "hex_radius" in frame:
        rad = frame["hex_radius"].to_numpy(dtype=float)
        bad_hex = hexa & ~(rad >= 1)
        if bad_hex.any():
            out.append((bad_hex, "hexamesh needs hex_radius >= 1"))
    if "traffic_pattern" in frame:
        bad_t = (frame["traffic_pattern"] == "transpose").to_numpy() & ~(hexa | (rows == cols))
        if bad_t.any():
            out.append((bad_t, "transpose traffic needs a square grid (RapidChiplet refuses it otherwise)"))
    return out


def training_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """RapidChiplet's analytical calibration CSV (successful runs only) as a training frame.

    ``seed`` (the run's ``random.seed``) is kept: it fixes the hotspot chiplets of hotspot traffic.
    """
    ok = raw[raw["status"] == "ok"]
    cols = ["topology", "traffic_pattern", "n_chiplets", "grid_rows", "grid_cols", "hex_radius", SEED_COLUMN,
            "latency_avg_cycles", "aggregate_throughput_bits_per_cycle", "latency_min_cycles",
            "latency_max_cycles", "total_chiplet_area_mm2", "total_power_W"]
    out = ok[cols].reset_index(drop=True)
    edges = ok[EDGE_COLUMN].fillna("none/none") if EDGE_COLUMN in ok else pd.Series("none/none", index=ok.index)
    out[EDGE_COLUMN] = edges.to_numpy()
    out[SETTINGS_COLUMN] = CALIBRATED
    return out


# ------------------------------------------------------------------------------------------- BookSim
BS = ("zl_scale", "eta_uniform", "eta_transpose", "eta_hotspot", "kappa", "p")
#: the saturation efficiency parameter of each traffic pattern
BS_ETA = {"random_uniform": "eta_uniform", "transpose": "eta_transpose", "hotspot": "eta_hotspot"}
BS_STARTS = ((1.0, 0.9, 0.9, 0.9, 0.05, 1.0), (1.0, 0.9, 0.9, 0.9, 0.05, 4.0), (1.0, 0.9, 0.9, 0.9, 0.02, 10.0),
             (1.0, 0.95, 0.95, 0.95, 0.01, 20.0))
BS_LO = (0.5, 0.3, 0.3, 0.3, 0.0, 0.5)
BS_HI = (2.0, 1.5, 1.5, 1.5, 50.0, 60.0)
#: RapidChiplet's zero-load latency with its example inputs: endpoints 3 + 2 x (12 + 3), relay 2 x 12 + 3
#: and a 1-cycle link per hop, and ceil(0.25 x length) on long links, ~2.2 cycles per 8.95 mm pitch
ANALYTIC_ZERO_LOAD = (6.0, 28.0, -1.0, 2.2)
UNITS_PER_CHIPLET = 4
#: load (fraction of the fitted saturation rate) up to which the validated error applies
BS_MAX_LOAD_FRACTION = 0.8
RHO_KNEE = 0.99
#: a stored point whose latency exceeds this multiple of the zero-load latency is near saturation
NEAR_SAT_LATENCY_RATIO = 2.0
#: ... and the fitted saturation must put it at least at this load fraction
NEAR_SAT_LOAD = 0.9


@register_surrogate
class RapidChipletBookSimSurrogate(Surrogate):
    """Average packet latency of RapidChiplet's BookSim simulation vs injection rate, per traffic pattern.

    Form (route features H, H_long, S_long and the busiest link's load per unit injection from
    chiplet_geometry, for the row's topology, grid and traffic pattern; hotspot sets from the seed)::

        L_a   = 6 + 28 * H - 1 * H_long + 2.2 * S_long                     # RapidChiplet's zero-load latency
        T0    = zl_scale * L_a
        lam_s = eta_pattern / (units_per_chiplet * max_link_load)          # flits/node/cycle
        T     = T0 * (1 + kappa * u**p / (1 - u)),  u = lam / lam_s

    Reasoning: at low load BookSim reproduces RapidChiplet's analytical latency (same routes and
    link/relay latencies). Each chiplet hosts 4 traffic units injecting lam flits/cycle each, so the
    busiest link carries 4 * lam * max_link_load flits per cycle and saturates at 1 flit/cycle,
    of which the network sustains a fraction eta - per traffic pattern: a permutation (transpose)
    has one flow per link and little contention, uniform and hotspot traffic merge many flows; the
    latency rise is Kingman-like in the load relative to that saturation. Fitted on points below
    twice the zero-load latency; the points above it (single noisy BookSim runs right at saturation,
    see the dataset's PROVENANCE) only constrain the fitted saturation (they must sit at >= 0.9 of it,
    and every stored stable point below it). Validated up to 0.8 x the fitted saturation; a
    (topology, traffic pattern) pair never run is outside the domain.
    """

    simulator = "rapidchiplet"
    pack = "rapidchiplet_booksim"
    form = "booksim_load_latency_v2"
    inputs = ("n_chiplets", "grid_rows", "grid_cols", "injection_rate_flits_per_node_per_cycle")
    categorical_inputs = ("topology", "traffic_pattern", SETTINGS_COLUMN)
    optional_inputs = {"traffic_pattern": "random_uniform", SETTINGS_COLUMN: CALIBRATED}
    outputs = ("packet_latency_avg_cycles",)
    primary = ("packet_latency_avg_cycles",)
    holdout_groups = ("n_chiplets", "injection_rate_flits_per_node_per_cycle", "traffic_pattern", "topology")
    training_columns = ("near_saturation",)

    def regimes(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame[["topology", "traffic_pattern"]]

    @staticmethod
    def _frame_features(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Route features of grid designs without edge columns (what the BookSim runs had)."""
        return _features(frame[[c for c in frame.columns if c not in ("hex_radius", EDGE_COLUMN)]],
                         pairs_of_designs=False)

    def _evaluate(self, theta: np.ndarray, f: dict[str, np.ndarray], lam: np.ndarray, pattern: pd.Series):
        p = dict(zip(BS, theta))
        c0, ch, cl, cs = ANALYTIC_ZERO_LOAD
        t0 = p["zl_scale"] * (c0 + ch * f["hops"] + cl * f["long"] + cs * f["span"])
        eta = np.full(len(lam), np.nan)
        for name, key in BS_ETA.items():
            eta[(pattern == name).to_numpy()] = p[key]
        lam_s = eta / (UNITS_PER_CHIPLET * f["load"])
        u = lam / lam_s
        r = np.minimum(u, RHO_KNEE)
        w = r ** p["p"] / (1 - r)
        slope = (p["p"] * RHO_KNEE ** (p["p"] - 1) * (1 - RHO_KNEE) + RHO_KNEE ** p["p"]) / (1 - RHO_KNEE) ** 2
        w = np.where(u <= RHO_KNEE, w, w + slope * (u - RHO_KNEE))
        return t0 * (1 + p["kappa"] * w), lam_s

    def _fit(self, frame: pd.DataFrame) -> None:
        f = self._frame_features(frame)
        lam = frame["injection_rate_flits_per_node_per_cycle"].to_numpy(dtype=float)
        pattern = frame["traffic_pattern"]
        y = frame["packet_latency_avg_cycles"].to_numpy(dtype=float)
        near = frame["near_saturation"].to_numpy(dtype=bool)
        ok = np.isfinite(y) & ~near

        def residuals(th):
            t, lam_s = self._evaluate(th, f, lam, pattern)
            u = lam / lam_s
            return np.concatenate([np.log(t[ok] / y[ok]), np.maximum(0.0, NEAR_SAT_LOAD - u[near]),
                                   np.maximum(0.0, u - 1.0)])

        best = None
        for x0 in BS_STARTS:
            r = least_squares_fit(residuals, BS, x0, BS_LO, BS_HI)
            if best is None or r.cost < best.cost:
                best = r
        self.params, self.uncertainty = best.params, best.uncertainty

    def _theta(self):
        return np.array([self.params[n] for n in BS])

    def _predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        f = self._frame_features(frame)
        lam = frame["injection_rate_flits_per_node_per_cycle"].to_numpy(dtype=float)
        t, lam_s = self._evaluate(self._theta(), f, lam, frame["traffic_pattern"])
        return {"packet_latency_avg_cycles": np.where(lam < lam_s, t, np.nan),
                "saturation_injection_rate": lam_s, "load_fraction_of_saturation": lam / lam_s}

    def constraint_violations(self, frame: pd.DataFrame, values=None) -> list[tuple[np.ndarray, str]]:
        out = _design_violations(frame[[c for c in frame.columns if c != "hex_radius"]])
        lam = frame["injection_rate_flits_per_node_per_cycle"].to_numpy(dtype=float)
        if values is not None:
            u = np.asarray(values["load_fraction_of_saturation"], dtype=float)
        else:
            _, lam_s = self._evaluate(self._theta(), self._frame_features(frame), lam,
                                      frame["traffic_pattern"])
            u = lam / lam_s
        bad = ~(u <= BS_MAX_LOAD_FRACTION)
        if bad.any():
            out.append((bad, f"injection rate is {np.nanmax(u[bad], initial=np.nan):.2f} x the fitted saturation "
                             f"rate; validated up to {BS_MAX_LOAD_FRACTION} ({int(bad.sum())} row(s))"))
        return out

    def constraint_descriptions(self) -> list[str]:
        return [f"injection rate <= {BS_MAX_LOAD_FRACTION} x fitted saturation_injection_rate",
                "RapidChiplet's default BookSim config (4 VCs x 16 flits, 1-flit packets); hotspot traffic needs the "
                f"'{SEED_COLUMN}' column"]


def booksim_training_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """RapidChiplet's BookSim latency-vs-load CSV as a training frame."""
    ok = raw[raw["status"] == "ok"]
    near = ok["packet_latency_avg_cycles"] > NEAR_SAT_LATENCY_RATIO * ok["zero_load_packet_latency_cycles"]
    return pd.DataFrame({
        "topology": ok["topology"], "grid_rows": ok["grid_rows"], "grid_cols": ok["grid_cols"],
        "n_chiplets": ok["n_chiplets"], "traffic_pattern": ok["traffic_pattern"],
        SEED_COLUMN: ok[SEED_COLUMN] if SEED_COLUMN in ok else 0, SETTINGS_COLUMN: CALIBRATED,
        "injection_rate_flits_per_node_per_cycle": ok["injection_rate_flits_per_node_per_cycle"],
        "packet_latency_avg_cycles": ok["packet_latency_avg_cycles"].where(~near),
        "near_saturation": near,
    }).reset_index(drop=True)


# ------------------------------------------------------------------------------------ study tables
# how a real study table becomes this pack's calibration dataset (eoesim.analysis.study_calibration)
RAPIDCHIPLET_OUTPUTS = ["chip_width_mm", "chip_height_mm", "total_chiplet_area_mm2", "total_interposer_area_mm2",
                        "total_power_W", "total_chiplet_power_W", "total_interposer_power_W", "link_count",
                        "latency_min_cycles", "latency_avg_cycles", "latency_max_cycles",
                        "aggregate_throughput_bits_per_cycle"]


def rapidchiplet_unmet(point: Point) -> list[str]:
    return (differs("workload.rapidchiplet.route", point["route"], "experiment", " (run_experiment.py)")
            + differs("workload.rapidchiplet.routing_algorithm", point["routing_algorithm"], "splif")
            + differs("workload.rapidchiplet.hex_radius", point["hex_radius"], None, " (a grid placement)"))


def rapidchiplet_booksim_unmet(point: Point) -> list[str]:
    return (rapidchiplet_unmet(point)
            + differs("workload.rapidchiplet.booksim.enabled", point["booksim"]["enabled"], True)
            + differs("workload.rapidchiplet.traffic.pattern", point["traffic"]["pattern"], "random_uniform"))


def _scale(rows: pd.DataFrame) -> pd.Series:
    """"RxC" of a grid placement, the radius of a hexagonal one (as the shared datasets write them)."""
    grid = (pd.to_numeric(rows["grid_rows"], errors="coerce").notna()
            & pd.to_numeric(rows["grid_cols"], errors="coerce").notna())
    rc = (pd.to_numeric(rows["grid_rows"], errors="coerce").fillna(0).astype(int).astype(str) + "x"
          + pd.to_numeric(rows["grid_cols"], errors="coerce").fillna(0).astype(int).astype(str))
    radius = rows["hex_radius"] if "hex_radius" in rows else pd.Series(np.nan, index=rows.index)
    return rc.where(grid, pd.to_numeric(radius, errors="coerce").fillna(0).astype(int).astype(str))


def rapidchiplet_dataset(table: pd.DataFrame, runs: Runs) -> pd.DataFrame:
    """The ``package`` row of each run; ``seed`` is the run's RNG seed (``point.seed`` or 0, as the rendered run
    uses it; it picks the hotspot chiplets). Required: the experiment route with splif routing on a grid placement
    (the dataset's setup)."""
    rows = table[table["record"] == "package"].reset_index(drop=True)
    out = pd.DataFrame({
        "run_id": rows["run_id"], "topology": rows["topology"], "scale": _scale(rows),
        "grid_rows": rows["grid_rows"], "grid_cols": rows["grid_cols"],
        "hex_radius": rows["hex_radius"] if "hex_radius" in rows else np.nan,
        "n_chiplets": rows["n_chiplets"], "traffic_pattern": rows["traffic_pattern"],
        "seed": [run_params(runs, rid, "rapidchiplet")["seed"] or 0 for rid in rows["run_id"]],
    })
    for col in RAPIDCHIPLET_OUTPUTS:
        out[col] = rows[col] if col in rows else np.nan
    out["status"] = "ok"
    return out


def rapidchiplet_booksim_dataset(table: pd.DataFrame, runs: Runs) -> pd.DataFrame:
    """The ``booksim_load`` rows; required in addition to the rapidchiplet pack's setup: the BookSim sweep
    enabled and random_uniform traffic (the dataset's sweeps)."""
    rows = table[table["record"] == "booksim_load"].reset_index(drop=True)
    return pd.DataFrame({
        "run_id": rows["run_id"], "topology": rows["topology"], "scale": _scale(rows),
        "grid_rows": rows["grid_rows"], "grid_cols": rows["grid_cols"], "n_chiplets": rows["n_chiplets"],
        "traffic_pattern": rows["traffic_pattern"],
        "injection_rate_flits_per_node_per_cycle": rows["injection_rate_flits_per_node_per_cycle"],
        "packet_latency_avg_cycles": rows["packet_latency_avg_cycles"],
        "packet_latency_min_cycles": rows["packet_latency_min_cycles"],
        "packet_latency_max_cycles": rows["packet_latency_max_cycles"],
        "hops_avg": rows["hops_avg"], "zero_load_packet_latency_cycles": rows["zero_load_packet_latency_cycles"],
        "beyond_rc_saturation_criterion": rows["beyond_saturation_criterion"],
        "is_max_stable_load": rows["is_max_stable_load"], "status": "ok",
    })


RapidChipletSurrogate.study_table = StudyTable(rapidchiplet_unmet, rapidchiplet_dataset)
RapidChipletBookSimSurrogate.study_table = StudyTable(rapidchiplet_booksim_unmet, rapidchiplet_booksim_dataset)
