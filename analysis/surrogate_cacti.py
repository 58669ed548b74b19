"""CACTI surrogate: energy per access, leakage, area and timing of an on-chip SRAM, log-log in its size.

Form, per family (technology node, cell type, SRAM kind, ways) and output y::

    ln y = sum_j c_j * phi_j(x, b, k),   x = log2(size_bytes), b = log2(block_bytes), k = log2(banks)

with phi = 1, x, x^2, x^3, b, b^2, x b, x^2 b, k, k^2, x k, x^2 k, b k (a cubic in log size whose
coefficients move linearly with log block size and log banks; the features a family's rows do not vary are
dropped). Reasoning: an SRAM of S bytes is a grid of ~sqrt(S) x sqrt(S) cells, so area and leakage grow
~S (slope 1 in log-log) and the energy of one access ~sqrt(S) (wordlines, bitlines and H-tree wires that
span the array), with curvature where CACTI's optimiser moves to another subarray organisation; a wider
block (more bits per access) or more banks (smaller arrays, more routing) tilt these lines. Fitted by
linear least squares on ln y, so the error is relative. A node between two fitted nodes is interpolated
linearly in the node (as CACTI interpolates its technology tables) - outside the validated domain.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from eoesim.analysis.surrogate import FitError, Surrogate, register_surrogate

FEATURES = ("1", "x", "x2", "x3", "b", "b2", "xb", "x2b", "k", "k2", "xk", "x2k", "bk")
FAMILY = ("technology_nm", "cell_type", "kind", "associativity")
OUTPUTS = ("read_energy_nJ", "write_energy_nJ", "leakage_mW", "area_mm2", "access_time_ns", "cycle_time_ns")
SEP = "|"


def _design(frame: pd.DataFrame) -> np.ndarray:
    x = np.log2(frame["size_bytes"].to_numpy(dtype=float))
    b = np.log2(frame["block_bytes"].to_numpy(dtype=float))
    k = np.log2(frame["banks"].to_numpy(dtype=float))
    one = np.ones_like(x)
    return np.column_stack([one, x, x ** 2, x ** 3, b, b ** 2, x * b, x ** 2 * b, k, k ** 2, x * k, x ** 2 * k, b * k])


def _family_key(node, cell, kind, ways) -> str:
    return SEP.join((str(int(node)), str(cell), str(kind), str(int(ways))))


def _used(design: np.ndarray) -> np.ndarray:
    """Features a family's rows can identify: block terms need two block sizes (b^2 three), bank terms two
    bank counts (k^2 three), x^3 five sizes and the x^2 terms four."""
    n_x, n_b, n_k = (len(np.unique(design[:, j])) for j in (1, 4, 8))
    drop = set()
    if n_b < 2:
        drop |= {"b", "b2", "xb", "x2b", "bk"}
    if n_b < 3:
        drop.add("b2")
    if n_k < 2:
        drop |= {"k", "k2", "xk", "x2k", "bk"}
    if n_k < 3:
        drop.add("k2")
    if n_x < 5:
        drop.add("x3")
    if n_x < 4:
        drop |= {"x2", "x2b", "x2k"}
    return np.array([name not in drop for name in FEATURES])


@register_surrogate
class CactiSurrogate(Surrogate):
    """Per-node log-log cubic in SRAM size, tilted by block size and banks (see the module docstring)."""

    simulator = "cacti"
    form = "loglog_cubic_size_per_node_v1"
    inputs = ("size_bytes", "block_bytes", "banks", "associativity", "technology_nm", "temperature_k", "rw_ports",
              "read_ports", "write_ports")
    categorical_inputs = ("cell_type", "peripheral_type", "kind")
    outputs = OUTPUTS
    primary = ("read_energy_nJ", "leakage_mW", "area_mm2")
    holdout_groups = ("size_bytes", "technology_nm")

    def _fit(self, frame: pd.DataFrame) -> None:
        params, unc, ranges = {}, {}, {}
        design = _design(frame)
        for key, idx in frame.groupby(list(FAMILY), sort=True).indices.items():
            fam = _family_key(*key)
            x = design[idx]
            used = _used(x)
            if len(idx) <= used.sum():
                raise FitError(f"cacti surrogate: family {fam} has {len(idx)} rows for {int(used.sum())} parameters")
            a = x[:, used]
            for out in OUTPUTS:
                y = np.log(frame[out].to_numpy(dtype=float)[idx])
                coef, *_ = np.linalg.lstsq(a, y, rcond=None)
                resid = y - a @ coef
                s2 = float(resid @ resid) / max(len(y) - a.shape[1], 1)
                sig = np.sqrt(np.abs(np.diag(np.linalg.pinv(a.T @ a)) * s2))
                full, full_sig = np.zeros(len(FEATURES)), np.zeros(len(FEATURES))
                full[used], full_sig[used] = coef, sig
                for name, c, s in zip(FEATURES, full, full_sig):
                    params[SEP.join((fam, out, name))] = float(c)
                    unc[SEP.join((fam, out, name))] = float(s)
            rows = frame.iloc[idx]
            for col in ("size_bytes", "block_bytes", "banks"):
                ranges[SEP.join((fam, "range", col, "min"))] = float(rows[col].min())
                ranges[SEP.join((fam, "range", col, "max"))] = float(rows[col].max())
        self.params = {**params, **ranges}
        self.uncertainty = unc

    # ---- prediction
    def _families(self) -> dict[tuple, dict[int, str]]:
        """(cell, kind, ways) -> node -> family key, from the fitted parameters."""
        out: dict[tuple, dict[int, str]] = {}
        for name in self.params:
            fam = name.split(SEP)
            node, cell, kind, ways = fam[:4]
            out.setdefault((cell, kind, int(ways)), {})[int(node)] = SEP.join(fam[:4])
        return out

    def _log_predict(self, fam: str, design: np.ndarray) -> dict[str, np.ndarray]:
        return {out: design @ np.array([self.params[SEP.join((fam, out, f))] for f in FEATURES]) for out in OUTPUTS}

    def _predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        design = _design(frame)
        logs = {out: np.full(len(frame), np.nan) for out in OUTPUTS}
        families = self._families()
        keys = zip(frame["cell_type"], frame["kind"], frame["associativity"].astype(int),
                   frame["technology_nm"].astype(float))
        for i, (cell, kind, ways, node) in enumerate(keys):
            nodes = families.get((str(cell), str(kind), int(ways)), {})
            lo = max((n for n in nodes if n <= node), default=None)
            hi = min((n for n in nodes if n >= node), default=None)
            if lo is None or hi is None:
                continue
            row = design[i:i + 1]
            p_lo = self._log_predict(nodes[lo], row)
            p_hi = p_lo if hi == lo else self._log_predict(nodes[hi], row)
            w = 0.0 if hi == lo else (node - lo) / (hi - lo)
            for out in OUTPUTS:
                logs[out][i] = (1 - w) * p_lo[out][0] + w * p_hi[out][0]
        return {out: np.exp(v) for out, v in logs.items()}

    def constraint_violations(self, frame: pd.DataFrame, values=None) -> list[tuple[np.ndarray, str]]:
        families = self._families()
        no_family, unfitted_node, outside = (np.zeros(len(frame), dtype=bool) for _ in range(3))
        rows = zip(frame["cell_type"], frame["kind"], frame["associativity"].astype(int),
                   frame["technology_nm"].astype(float), frame["size_bytes"], frame["block_bytes"], frame["banks"])
        for i, (cell, kind, ways, node, size, block, banks) in enumerate(rows):
            nodes = families.get((str(cell), str(kind), int(ways)))
            if not nodes:
                no_family[i] = True
                continue
            if node not in nodes:
                unfitted_node[i] = True
                continue
            fam = nodes[int(node)]
            for col, v in (("size_bytes", size), ("block_bytes", block), ("banks", banks)):
                lo = self.params[SEP.join((fam, "range", col, "min"))]
                hi = self.params[SEP.join((fam, "range", col, "max"))]
                outside[i] |= not lo <= float(v) <= hi
        out = []
        if no_family.any():
            out.append((no_family, f"no fitted (cell_type, kind, associativity) family ({int(no_family.sum())} row(s))"))
        if unfitted_node.any():
            out.append((unfitted_node, "technology_nm between fitted nodes: interpolated, not validated "
                                       f"({int(unfitted_node.sum())} row(s))"))
        if outside.any():
            out.append((outside, "size, block or banks outside what its family was fitted on "
                                 f"({int(outside.sum())} row(s))"))
        return out

    def constraint_descriptions(self) -> list[str]:
        return ["families (technology_nm, cell_type, kind, associativity) as fitted; a node between fitted nodes "
                "is interpolated (not validated)",
                "size_bytes, block_bytes and banks within the ranges of the row's family"]


def training_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """Successful CACTI rows (a calibration dataset's ``status == ok``, or a study's real table)."""
    rows = raw[raw["status"] == "ok"] if "status" in raw else raw
    cols = [*CactiSurrogate.inputs, *CactiSurrogate.categorical_inputs, *OUTPUTS]
    return rows[cols].reset_index(drop=True)


def family_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Rows per family (for the dataset's provenance)."""
    return {_family_key(*k): len(v) for k, v in frame.groupby(list(FAMILY)).indices.items()}

