"""Generate the SCALE-Sim calibration dataset by running the real simulator through the harness.

``python -m eoesim.analysis.scalesim_dataset --out analysis/calibration/scalesim/calibration.csv``

One harness run (``eoesim.jobs.run_simulation``, i.e. render -> SCALE-Sim subprocess -> check -> parse)
per (array shape, dataflow); every run holds the same list of small GEMMs as its layers, so one row per
(GEMM, array, dataflow). The GEMM list is drawn from a seeded RNG (log-uniform M, N, K, deliberately
not multiples of the array sides, plus a few decode-like M=1/2 shapes) and capped so that each run takes
seconds; the two large arrays also run six transformer-sized GEMMs (dimensions up to 1024). Run directories go to a
temporary directory and are deleted afterwards (only the table is kept).
"""
from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from eoesim.jobs import run_simulation

log = logging.getLogger(__name__)

#: (rows, cols) of the systolic arrays; non-square shapes make the row and column overheads separable
ARRAYS = ((8, 8), (16, 32), (32, 16))
#: large arrays, which also run the transformer-sized GEMMs (too slow to simulate on the small arrays)
LARGE_ARRAYS = ((64, 64), (128, 128))
#: transformer-sized GEMMs (M, N, K): tiny-25m prefill seq 64 (qkv, out/ffn), attention, a decode shape;
#: kept to those SCALE-Sim simulates in seconds on a 64 x 64 array
LARGE_GEMMS = ((64, 768, 256), (64, 256, 1024), (64, 1024, 256), (128, 128, 64), (1, 1024, 256),
               (32, 512, 512))
DATAFLOWS = ("os", "ws", "is")
SEED = 20240611
N_GEMMS = 36
#: upper bound on (estimated) cycles of one GEMM on the smallest array, keeps each run to seconds
MAX_EST_CYCLES = 40_000
#: columns kept in the dataset (inputs first, then SCALE-Sim's outputs)
KEEP = ["gemm", "m", "n", "k", "array_rows", "array_cols", "dataflow", "interface_bandwidth",
        "ifmap_sram_kib", "filter_sram_kib", "ofmap_sram_kib", "total_cycles", "total_cycles_incl_prefetch",
        "stall_cycles", "overall_util_pct", "mapping_efficiency_pct", "compute_util_pct"]


def draw_gemms(seed: int = SEED, n: int = N_GEMMS) -> list[dict]:
    """The GEMM shapes of the dataset (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    gemms: list[dict] = []
    fixed = [(1, 96, 64), (2, 160, 48), (1, 40, 200), (64, 64, 64)]
    for m, nn, k in fixed:
        gemms.append({"m": m, "n": nn, "k": k})
    while len(gemms) < n:
        m, nn, k = (int(round(v)) for v in np.exp(rng.uniform(np.log(3), np.log(300), size=3)))
        est = m * nn * k / 64 + (m + nn + k) * 4
        if est <= MAX_EST_CYCLES:
            gemms.append({"m": m, "n": nn, "k": k})
    return _named(gemms, "g")


def _named(gemms: list[dict], prefix: str) -> list[dict]:
    return [dict(g, name=f"{prefix}{i:02d}", expert="calib", gemm=f"{prefix}{i:02d}", instances=1)
            for i, g in enumerate(gemms)]


def large_gemms() -> list[dict]:
    return _named([{"m": m, "n": n, "k": k} for m, n, k in LARGE_GEMMS], "t")


def make_point(rows: int, cols: int, dataflow: str, gemms: list[dict]) -> dict:
    """A SCALE-Sim design point (the adapter's ``point_params`` shape) with the given GEMMs as layers."""
    return {
        "array_rows": rows,
        "array_cols": cols,
        "dataflow": dataflow,
        "sram_kib": {"ifmap": 256, "filter": 256, "ofmap": 128},
        "interface_bandwidth": "calc",
        "dram_bandwidth_words_per_cycle": 10,
        "freq_ghz": 1.0,
        "phase": "prefill",
        "seq_len": 1,
        "batch": 1,
        "gemms": gemms,
    }


def generate(workdir: Path) -> pd.DataFrame:
    """Run every (array, dataflow) through the harness; return the dataset rows."""
    small = draw_gemms()
    frames = []
    for rows, cols in ARRAYS + LARGE_ARRAYS:
        gemms = small + large_gemms() if (rows, cols) in LARGE_ARRAYS else small
        for df in DATAFLOWS:
            run_id = f"calib_{rows}x{cols}_{df}"
            t0 = time.monotonic()
            out = run_simulation("scalesim", make_point(rows, cols, df, gemms), {"mode": "python"}, run_id,
                                 workdir / "runs" / run_id, workdir / "logs" / run_id)
            wall = time.monotonic() - t0
            out = out.copy()
            out["run_wall_s"] = round(wall, 3)
            frames.append(out)
            log.info("%s: %d GEMMs in %.1f s", run_id, len(out), wall)
    table = pd.concat(frames, ignore_index=True)
    source = table["source"].iloc[0]
    table = table[KEEP + ["run_wall_s"]].copy()
    table.insert(0, "source", source)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="CSV to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory(prefix="eoesim-scalesim-calib-") as tmp:
        table = generate(Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    log.info("wrote %d rows to %s", len(table), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
