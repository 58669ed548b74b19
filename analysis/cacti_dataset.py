"""Generate the CACTI calibration dataset by running the real CACTI 7 through the harness's adapter.

``python -m eoesim.analysis.cacti_dataset --site <site.yaml> --out analysis/calibration/cacti/calibration.csv``

One harness run (``eoesim.jobs.run_simulation("cacti", ...)``: render -> cacti_driver -> check -> parse) per
(technology node, cell type, SRAM kind, block size, banks, ways), holding that group's SRAM sizes as its
SRAMs; a run that fails is repeated without the SRAMs CACTI could not organise, which stay as rows
(``status`` has CACTI's reason). Runs go to a temporary directory that is deleted afterwards; only the table is kept.
"""
from __future__ import annotations

import argparse
import itertools
import logging
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from eoesim.errors import SimulatorError
from eoesim.jobs import run_simulation
from eoesim.simulators.cacti import CONFIG_DIR
from eoesim.simulators.cacti_output import failure
from eoesim.site import load_site_config

log = logging.getLogger(__name__)

NODES = (22, 32, 45, 65, 90)
#: scratchpad sizes: every power of two from 4 KiB to 16 MiB, and four in between (3 x 2^k)
RAM_SIZES = tuple(2 ** k for k in range(12, 25)) + (48 * 1024, 192 * 1024, 768 * 1024, 3 * 1024 * 1024)
CACHE_SIZES = tuple(2 ** k for k in range(13, 25))
BLOCKS = (32, 64, 128)
BANKS = (1, 2, 4)
WAYS = (2, 4, 8)
#: what every SRAM of the dataset shares (the adapter's defaults)
FIXED = {"peripheral_type": "itrs-hp", "temperature_k": 360}
PORTS = {"rw_ports": 1, "read_ports": 0, "write_ports": 0}


def _sram(kind: str, size: int, block: int, banks: int, ways: int) -> dict[str, Any]:
    prefix = "s" if kind == "scratchpad" else "c"
    return {"name": f"{prefix}{size}_b{block}_k{banks}_a{ways}", "kind": kind, "size_bytes": size,
            "block_bytes": block, "associativity": ways, "banks": banks, **PORTS}


def groups() -> list[dict[str, Any]]:
    """The dataset's runs: each a CACTI point (node, cell type, SRAM list)."""
    out = []
    for node, block, banks in itertools.product(NODES, BLOCKS, BANKS):
        srams = [_sram("scratchpad", s, block, banks, 1) for s in RAM_SIZES]
        out.append({"technology_nm": node, "cell_type": "itrs-hp", **FIXED, "srams": srams})
    for node in NODES:
        srams = [_sram("scratchpad", s, 64, 1, 1) for s in RAM_SIZES]
        out.append({"technology_nm": node, "cell_type": "itrs-lstp", **FIXED, "srams": srams})
        for ways in WAYS:
            srams = [_sram("cache", s, 64, 1, ways) for s in CACHE_SIZES]
            out.append({"technology_nm": node, "cell_type": "itrs-hp", **FIXED, "srams": srams})
    return out


def _run(point: dict[str, Any], site: dict[str, Any], workdir: Path, tag: str) -> pd.DataFrame:
    t0 = time.monotonic()
    rows = run_simulation("cacti", point, site, tag, workdir / "runs" / tag, workdir / "logs" / tag)
    rows["run_wall_s"] = round(time.monotonic() - t0, 3)
    rows["status"] = "ok"
    return rows


def _failures(logs: Path, point: dict[str, Any]) -> dict[str, str]:
    """SRAM name -> why its CACTI run failed, from a failed group run's kept logs."""
    out = {}
    for sram in point["srams"]:
        base = logs / CONFIG_DIR / sram["name"]
        code = base.with_suffix(".exit_code")
        stdout = base.with_suffix(".stdout")
        if not code.is_file():
            out[sram["name"]] = "not run"
            continue
        why = failure(stdout.read_text(errors="replace") if stdout.is_file() else "",
                      base.with_suffix(".stderr").read_text(errors="replace"), int(code.read_text()))
        if why:
            out[sram["name"]] = why
    return out


def run_group(point: dict[str, Any], site: dict[str, Any], workdir: Path, tag: str) -> pd.DataFrame:
    """The group's rows; a failed run is repeated without the SRAMs CACTI could not organise, which become
    rows with CACTI's reason in ``status``."""
    try:
        return _run(point, site, workdir, tag)
    except SimulatorError:
        failed = _failures(workdir / "logs" / tag, point)
    log.warning("%s: %d SRAM(s) failed (%s); repeating the others", tag, len(failed), sorted(failed))
    keep = [s for s in point["srams"] if s["name"] not in failed]
    frames = [_run(dict(point, srams=keep), site, workdir, f"{tag}-ok")] if keep else []
    for sram in point["srams"]:
        if sram["name"] in failed:
            frames.append(pd.DataFrame([{**{k: v for k, v in point.items() if k != "srams"}, **sram,
                                         "status": f"failed: {failed[sram['name']]}"}]))
    return pd.concat(frames, ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, required=True, help="site config with cacti.binary set")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=2, help="harness runs at once")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    site = load_site_config(args.site)["cacti"]
    todo = groups()
    with tempfile.TemporaryDirectory(prefix="cacti_dataset_") as tmp, ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_group, point, site, Path(tmp), f"g{i:03d}") for i, point in enumerate(todo)]
        frames = []
        for i, future in enumerate(futures):
            frames.append(future.result())
            log.info("group %d/%d done", i + 1, len(todo))
    table = pd.concat(frames, ignore_index=True).drop(columns=["run_id"], errors="ignore")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    log.info("wrote %s: %d rows, %d failed", args.out, len(table), int((table["status"] != "ok").sum()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
