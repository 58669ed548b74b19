"""SCALE-Sim 3.0.0's on-chip SRAM traffic of a GEMM, counted exactly (no fit, no heavy imports).

The stitcher charges SRAM energy from these counts for every GEMM SCALE-Sim did not run (decode GEMMs,
other prompt lengths); tests/unit/test_sram_counts.py checks them against real SCALE-Sim reports
(tests/golden/scalesim/sram_counts/).
"""
from __future__ import annotations

from eoesim.errors import ConfigError

DATAFLOWS = ("os", "ws", "is")


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def sram_access_words(m: int, n: int, k: int, array_rows: int, array_cols: int,
                      dataflow: str) -> tuple[int, int, int]:
    """(ifmap reads, filter reads, ofmap writes) in words of one GEMM instance (M x K) @ (K x N) on an
    R x C array, as SCALE-Sim 3.0.0 reports them (DETAILED_ACCESS_REPORT.csv ``SRAM IFMAP Reads`` etc.).

    SCALE-Sim's counters (scalesim/compute/systolic_compute_{os,ws,is}.py ``ifmap_reads``,
    ``filter_reads``, ``ofmap_writes``) add, per fold, the size of the operand slice the fold streams:

    - os (S_r = M, S_c = N, T = K): each column fold re-reads the inputs, each row fold the weights;
      ``ifmap = ceil(N/C) M K``, ``filter = ceil(M/R) K N``, ``ofmap = M N + folds (R + C)`` - the
      ``R + C`` per fold is SCALE-Sim's own count (it also adds the padded fold's height + width);
    - ws (S_r = K, S_c = N, T = M): weights read once, inputs once per column fold, outputs (partial
      sums) written once per row fold; ``ifmap = ceil(N/C) M K``, ``filter = K N``,
      ``ofmap = ceil(K/R) M N``;
    - is (S_r = K, S_c = M, T = N): inputs read once, weights once per column fold, outputs once per
      row fold; ``ifmap = M K``, ``filter = ceil(M/C) K N``, ``ofmap = ceil(K/R) M N``.

    DRAM traffic is a different count (the report's DRAM columns); these are on-chip accesses only.
    """
    if dataflow == "os":
        folds_r, folds_c = _ceil_div(m, array_rows), _ceil_div(n, array_cols)
        return folds_c * m * k, folds_r * k * n, m * n + folds_r * folds_c * (array_rows + array_cols)
    if dataflow == "ws":
        return _ceil_div(n, array_cols) * m * k, k * n, _ceil_div(k, array_rows) * m * n
    if dataflow == "is":
        return m * k, _ceil_div(m, array_cols) * k * n, _ceil_div(k, array_rows) * m * n
    raise ConfigError(f"hardware.chiplet.dataflow: {dataflow!r} is not allowed; allowed: {list(DATAFLOWS)}")
