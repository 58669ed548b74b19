"""SCALE-Sim surrogate: systolic-array folding with per-fold fill/drain overheads."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from eoesim.analysis.scalesim_sram import DATAFLOWS
from eoesim.analysis.study_tables import Runs, StudyTable, nothing_unmet
from eoesim.analysis.surrogate import (
    OutOfDomainError,
    OutOfDomainWarning,
    Surrogate,
    least_squares_fit,
    level_index,
    register_surrogate,
)


def spatio_temporal(m, n, k, dataflow_code):
    """SCALE-Sim's mapping of a GEMM (M x K) @ (K x N) onto (S_r, S_c, T) per dataflow.

    SCALE-Sim v3 turns a GEMM into a 1x1 "convolution" with M output pixels, N filters and a window of
    K (topology_utils.load_arrays_gemm), then (calc_spatio_temporal_params):
    os: S_r = M, S_c = N, T = K;  ws: S_r = K, S_c = N, T = M;  is: S_r = K, S_c = M, T = N.
    """
    sr = np.where(dataflow_code == 0, m, k)
    sc = np.where(dataflow_code == 2, m, n)
    t = np.where(dataflow_code == 0, k, np.where(dataflow_code == 1, m, n))
    return sr, sc, t


@register_surrogate
class ScaleSimSurrogate(Surrogate):
    """Compute cycles of one GEMM on an R x C systolic array (SCALE-Sim v3, stall-free ``calc`` bandwidth).

    Form (per dataflow d)::

        folds  = ceil(S_r / R) * ceil(S_c / C)
        cycles = folds * (T + a_d * R + b_d * C + c_d) + e_d

    Reasoning: SCALE-Sim tiles the S_r x S_c output-stationary (or weight/input-stationary) mapping
    into folds of at most R x C; each fold streams T operand rows through the array, and the
    demand matrices add a fill skew across the rows and a drain skew across the columns
    (systolic_compute_{os,ws,is}.py: the fold's demand is T + (C - 1) rows, skewed by R - 1 for os;
    the stationary operand of ws/is is first loaded through R rows, hence a second R). With
    ``interface_bandwidth: calc`` SCALE-Sim sizes the DRAM bandwidth so that no stall occurs, and
    the report's ``total_cycles`` is the length of that demand stream. The coefficients are fitted,
    not assumed; the derivation predicts a = (1, 2, 2), b = 1, c = -2, e = -1 for (os, ws, is).
    ``mapping_efficiency_pct`` (the mean fraction of PEs holding a mapped element) and
    ``overall_util_pct`` (MACs / (cycles * R * C)) follow from the same geometry.

    Valid for ``interface_bandwidth: calc`` only (the training runs); with a user-set DRAM
    bandwidth SCALE-Sim adds stall cycles this form does not model.
    """

    simulator = "scalesim"
    form = "systolic_folding_v1"
    inputs = ("m", "n", "k", "array_rows", "array_cols")
    #: the folding form is SCALE-Sim's own compute model, not a fit of the shape range: it reproduces real
    #: runs exactly far outside the training shapes (m up to 600, n 2048, k 1500, and n = 1 / k = 1 edges;
    #: tests/unit/test_surrogate_packs.py), so GEMM sizes do not bound its domain; array sizes still do
    unbounded_inputs = ("m", "n", "k")
    categorical_inputs = ("dataflow", "interface_bandwidth")
    outputs = ("total_cycles", "overall_util_pct", "mapping_efficiency_pct")
    primary = ("total_cycles",)
    holdout_groups = ("array_shape", "gemm")
    COEFFS = ("a_rows", "b_cols", "c_fold", "e_layer")

    def _names(self):
        return [f"{c}[{d}]" for d in DATAFLOWS for c in self.COEFFS]

    def _geometry(self, frame: pd.DataFrame):
        m, n, k = (frame[c].to_numpy(dtype=float) for c in ("m", "n", "k"))
        rows, cols = frame["array_rows"].to_numpy(dtype=float), frame["array_cols"].to_numpy(dtype=float)
        code = level_index(frame["dataflow"], DATAFLOWS)
        sr, sc, t = spatio_temporal(m, n, k, code)
        folds = np.ceil(sr / rows) * np.ceil(sc / cols)
        return m, n, k, rows, cols, code, sr, sc, t, folds

    def _cycles(self, theta: np.ndarray, geo) -> np.ndarray:
        _, _, _, rows, cols, code, _, _, t, folds = geo
        table = theta.reshape(len(DATAFLOWS), len(self.COEFFS))
        c = np.clip(code, 0, None)
        a, b, f, e = (np.take(table[:, j], c) for j in range(len(self.COEFFS)))
        cycles = folds * (t + a * rows + b * cols + f) + e
        return np.where(code >= 0, cycles, np.nan)

    def _fit(self, frame: pd.DataFrame) -> None:
        geo = self._geometry(frame)
        y = frame["total_cycles"].to_numpy(dtype=float)
        ok = np.isfinite(y)
        geo_ok = tuple(g[ok] for g in geo)

        def residuals(theta):
            return (self._cycles(theta, geo_ok) - y[ok]) / y[ok]

        x0 = [1.0, 1.0, 0.0, 0.0] * len(DATAFLOWS)
        res = least_squares_fit(residuals, self._names(), x0)
        self.params, self.uncertainty = res.params, res.uncertainty

    def _predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        geo = self._geometry(frame)
        m, n, k, rows, cols, _, sr, sc, _, folds = geo
        theta = np.array([self.params[name] for name in self._names()])
        cycles = self._cycles(theta, geo)
        return {
            "total_cycles": cycles,
            "overall_util_pct": 100.0 * m * n * k / (cycles * rows * cols),
            "mapping_efficiency_pct": 100.0 * sr * sc / (folds * rows * cols),
        }


    def cycles(self, m: int, n: int, k: int, array_rows: int, array_cols: int, dataflow: str,
               strict: bool = False) -> float:
        """Scalar fast path of ``total_cycles`` for one GEMM (pure Python, a few microseconds).

        Same form and domain check as ``predict`` (ranges and dataflow level; interface bandwidth is
        taken to be ``calc``), for callers that evaluate one operation at a time.
        """
        values = {"m": m, "n": n, "k": k, "array_rows": array_rows, "array_cols": array_cols}
        bad = [f"{c}={v} outside [{lo:g}, {hi:g}]" for c, v in values.items()
               for lo, hi in [self.domain.numeric.get(c, (-math.inf, math.inf))] if not lo <= v <= hi]
        if dataflow not in DATAFLOWS:
            raise OutOfDomainError(f"scalesim surrogate: dataflow={dataflow!r} is not allowed; allowed: "
                                   f"{list(DATAFLOWS)}")
        if bad:
            text = "scalesim surrogate queried outside its domain of validity: " + "; ".join(bad)
            if strict:
                raise OutOfDomainError(text + " (strict mode)")
            warnings.warn(text, OutOfDomainWarning, stacklevel=2)
        sr = m if dataflow == "os" else k
        sc = m if dataflow == "is" else n
        t = k if dataflow == "os" else (m if dataflow == "ws" else n)
        p = self.params
        folds = math.ceil(sr / array_rows) * math.ceil(sc / array_cols)
        return folds * (t + p[f"a_rows[{dataflow}]"] * array_rows + p[f"b_cols[{dataflow}]"] * array_cols
                        + p[f"c_fold[{dataflow}]"]) + p[f"e_layer[{dataflow}]"]


def training_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The calibration CSV (analysis/calibration/scalesim/) as a training frame (+ ``array_shape`` group)."""
    frame = raw.copy()
    frame["array_shape"] = frame["array_rows"].astype(str) + "x" + frame["array_cols"].astype(str)
    return frame


# ------------------------------------------------------------------------------------ study tables
# how a real study table becomes this pack's calibration dataset (eoesim.analysis.study_calibration)
SCALESIM_COLUMNS = ["source", "gemm", "m", "n", "k", "array_rows", "array_cols", "dataflow", "interface_bandwidth",
                    "ifmap_sram_kib", "filter_sram_kib", "ofmap_sram_kib", "total_cycles",
                    "total_cycles_incl_prefetch", "stall_cycles", "overall_util_pct", "mapping_efficiency_pct",
                    "compute_util_pct"]
SCALESIM_KEY = ["m", "n", "k", "array_rows", "array_cols", "dataflow", "interface_bandwidth",
                "ifmap_sram_kib", "filter_sram_kib", "ofmap_sram_kib"]


def scalesim_dataset(table: pd.DataFrame, runs: Runs) -> pd.DataFrame:
    """One row per (run, GEMM); ``gemm`` is the GEMM's shape ``MxNxK`` (the dataset's g00..g15 name shapes too; it is
    the leave-one-GEMM-out group). SCALE-Sim is deterministic, so a GEMM repeated on the same array configuration
    (another expert or run) is the same observation and is kept once."""
    out = table.copy()
    out["gemm"] = (out["m"].astype(int).astype(str) + "x" + out["n"].astype(int).astype(str) + "x"
                   + out["k"].astype(int).astype(str))
    out = out[["run_id", *SCALESIM_COLUMNS]]
    return out.drop_duplicates(subset=SCALESIM_KEY, keep="first").reset_index(drop=True)


def scalesim_unidentified(runs: Runs) -> list[str]:
    """The folding form has separate array-row and array-column coefficients: with square arrays only,
    the fit pins their sum and splits it arbitrarily (CV error 0 %, wrong on any non-square array)."""
    if any(point["array_rows"] != point["array_cols"] for point in runs.values()):
        return []
    return ["every run has a square array, so the form's row and column coefficients cannot be told apart; "
            "allowed: at least one non-square hardware.chiplet.array (e.g. [32, 64])"]


ScaleSimSurrogate.study_table = StudyTable(nothing_unmet, scalesim_dataset, scalesim_unidentified)
