"""MQSim calibration campaign: the flows the project renders (bursts, re-reads, load relative to saturation).

``python -m eoesim.analysis.campaign_mqsim --workdir DIR --out analysis/calibration/mqsim/flows.csv``
(site config from ``$EOESIM_SIMULATORS``; run it under ``nice``).

A *cell* is a flow shape on an SSD: request size, requests per transfer (an expert load or checkpoint
of ``n x request size`` bytes is a burst of n back-to-back requests), how transfers use the LBA space
(``reread``: the same ranges read again and again - the ``loads: N`` idiom of the project's studies;
``fresh``: every transfer its own range, as the shared calibration data), and the share of checkpoint
writes. Each cell is run twice over: first a probe offered far above what the SSD sustains (its achieved
throughput is the cell's saturation throughput), then at fractions of that throughput (``LOADS``).
A few points are repeated with other trace seeds to measure MQSim's seed-to-seed spread.
"""
from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eoesim.analysis.realruns import run_id_of, run_points, simulator_point
from eoesim.simulators.mqsim_trace import description_from_params, generate_requests
from eoesim.site import load_site_config

log = logging.getLogger(__name__)

KIB = 1024
#: offered load of the runs, as fractions of the cell's measured saturation throughput
LOADS = (0.1, 0.3, 0.5, 0.7, 0.85)
#: the probe offers this multiple of the nominal channel bandwidth (saturates every cell)
PROBE_FACTOR = 4.0
#: transfers per run by requests per transfer (about 2000-8000 requests per run)
TRANSFERS = {1: 2000, 8: 250, 64: 32, 512: 8}
#: (cell, load) points repeated with other study seeds (trace seeds) to measure the seed-to-seed spread
REPEAT_SEEDS = (2, 3)
#: a flow with at most this many transfers, and every probe, keeps its transfer arrival times in the dataset
#: (short or overloaded flows: their mean response depends on the realized arrivals, not only on the rate)
MAX_LISTED_TRANSFERS = 256

TLC_8x4 = {"channels": 8, "chips_per_channel": 4, "flash": {"technology": "TLC"}}
TLC_4x2 = {"channels": 4, "chips_per_channel": 2, "flash": {"technology": "TLC"}}
MLC_4x2 = {"channels": 4, "chips_per_channel": 2, "flash": {"technology": "MLC"}}
SLC_8x4 = {"channels": 8, "chips_per_channel": 4, "flash": {"technology": "SLC"}}


@dataclass(frozen=True)
class Cell:
    name: str
    ssd: dict
    request_kib: int
    requests_per_transfer: int
    idiom: str = "reread"        # reread | fresh
    experts: int = 1             # distinct expert ranges (reread, round robin)
    write_share: float = 0.0     # fraction of transfers that are checkpoint writes (of the same size)
    repeat_loads: tuple = field(default_factory=tuple)

    @property
    def transfer_bytes(self) -> int:
        return self.request_kib * KIB * self.requests_per_transfer

    @property
    def transfers(self) -> int:
        return TRANSFERS[self.requests_per_transfer]

    def nominal_Bps(self) -> float:
        return min(4e9, self.ssd["channels"] * 333e6)


CELLS: tuple[Cell, ...] = (
    *(Cell(f"tlc8x4_rr_{b}k_n{n}", TLC_8x4, b, n, repeat_loads=(0.5, 0.85) if (b, n) in ((128, 1), (128, 64)) else ())
      for b in (32, 128, 512) for n in (1, 8, 64, 512)),
    *(Cell(f"tlc8x4_fresh_128k_n{n}", TLC_8x4, 128, n, idiom="fresh") for n in (1, 8, 64)),
    Cell("tlc8x4_rr4_128k_n64", TLC_8x4, 128, 64, experts=4),
    *(Cell(f"tlc8x4_rw_128k_n{n}", TLC_8x4, 128, n, write_share=0.25, repeat_loads=(0.5,) if n == 64 else ())
      for n in (1, 64)),
    *(Cell(f"tlc4x2_rr_128k_n{n}", TLC_4x2, 128, n) for n in (1, 64)),
    *(Cell(f"mlc4x2_rr_128k_n{n}", MLC_4x2, 128, n) for n in (1, 64)),
    *(Cell(f"slc8x4_rr_128k_n{n}", SLC_8x4, 128, n) for n in (8, 64)),
)


def flow_section(cell: Cell, gap_us: float) -> dict[str, Any]:
    """workload.mqsim of one run of ``cell`` with transfers ``gap_us`` apart on average (Poisson)."""
    k = cell.transfers
    io: dict[str, Any] = {"request_size_kib": cell.request_kib,
                          "arrival": {"process": "poisson", "mean_interval_us": round(float(gap_us), 3)}}
    if cell.idiom == "fresh":
        io["expert_loads"] = [{"name": f"e{i}", "weight_bytes": cell.transfer_bytes, "loads": 1} for i in range(k)]
    else:
        writes = int(round(cell.write_share * k))
        reads = k - writes
        per = -(-reads // cell.experts)
        io["expert_loads"] = [{"name": f"e{i}", "weight_bytes": cell.transfer_bytes, "loads": per}
                              for i in range(cell.experts)]
        if writes:
            io["checkpoint_writes"] = [{"name": "ckpt", "bytes": cell.transfer_bytes, "writes": writes}]
            io["order"] = "shuffled"
    return {"ssd": cell.ssd, "flows": [{"kind": "trace", "io": io}]}


def transfer_arrivals_us(point: dict) -> list[float]:
    """Arrival times (us) of every transfer of the point's first flow (its first request's arrival)."""
    flow = point["flows"][0]
    desc = description_from_params(flow["io"], flow["trace_seed"], "campaign")
    starts = {(t.start_lba, t.op) for t in desc.transfers}
    return [r.arrival_ns / 1000.0 for r in generate_requests(desc) if (r.lba, r.op) in starts]


def _gap_us(cell: Cell, offered_Bps: float) -> float:
    return cell.transfer_bytes / offered_Bps * 1e6


def cell_rows(cell: Cell, table: pd.DataFrame, runs: dict, spec: dict[str, tuple[str, float, int]]) -> pd.DataFrame:
    """Dataset rows of the runs of ``cell`` (``spec``: run id -> (load_spec, fraction, seed))."""
    rows = []
    for run_id, (load_spec, frac, seed) in spec.items():
        got = table[table["run_id"] == run_id]
        if got.empty:
            continue
        r = got.iloc[0]
        point = runs[run_id]
        arrivals = transfer_arrivals_us(point)
        k = len(arrivals)
        rows.append({
            "run_id": run_id, "cell": cell.name, "channels": cell.ssd["channels"],
            "chips_per_channel": cell.ssd["chips_per_channel"], "dies_per_chip": int(r["dies_per_chip"]),
            "planes_per_die": int(r["planes_per_die"]), "flash_technology": cell.ssd["flash"]["technology"],
            "request_size_KiB": cell.request_kib, "requests_per_transfer": cell.requests_per_transfer,
            "transfers": k, "pattern": "reread" if cell.idiom == "reread" else "sequential",
            "footprint_KiB": (cell.experts + (cell.write_share > 0)) * cell.transfer_bytes // KIB
            if cell.idiom == "reread" else np.nan,
            "read_fraction": round(float(r["read_requests_generated"]) / float(r["requests_generated"]), 6),
            "load_spec": load_spec, "load_spec_frac": frac, "trace_seed": point["flows"][0]["trace_seed"],
            "study_seed": seed,
            "mean_interval_us": float(r["mean_interval_us"]),
            "offered_load_MBps": cell.transfer_bytes / float(r["mean_interval_us"]),
            "realized_offered_load_MBps": float(r["offered_bandwidth_bytes_per_s"]) / 1e6,
            "achieved_throughput_MBps": float(r["throughput_bytes_per_s"]) / 1e6,
            "device_response_time_mean_us": float(r["device_response_time_mean_us"]),
            "device_response_time_max_us": float(r["device_response_time_max_us"]),
            "requests_serviced": int(r["requests_serviced"]),
            "transfer_arrivals_us": " ".join(f"{a:.1f}" for a in arrivals)
            if k <= MAX_LISTED_TRANSFERS or load_spec == "probe" else "",
            "status": "ok",
        })
    out = pd.DataFrame(rows)
    probe = out[out["load_spec"] == "probe"]
    out["cell_saturation_throughput_MBps"] = float(probe["achieved_throughput_MBps"].max()) if len(probe) else np.nan
    return out


def run_campaign(workdir: Path, site: dict, jobs: int = 2, cells: tuple[Cell, ...] = CELLS) -> pd.DataFrame:
    """Probe every cell, then run its loads (and repeats); the dataset, one row per run."""
    probes = {c.name: simulator_point("mqsim", flow_section(c, _gap_us(c, PROBE_FACTOR * c.nominal_Bps())))
              for c in cells}
    table, runs = run_points("mqsim", list(probes.values()), site, workdir, jobs)
    points, specs = [], {c.name: {run_id_of("mqsim", probes[c.name]): ("probe", 1.0, 1)} for c in cells}
    for c in cells:
        got = table[table["run_id"] == run_id_of("mqsim", probes[c.name])]
        if got.empty:
            log.warning("cell %s: probe failed, cell skipped", c.name)
            continue
        x_sat = float(got["throughput_bytes_per_s"].iloc[0])
        for frac in LOADS:
            for seed in (1, *(REPEAT_SEEDS if frac in c.repeat_loads else ())):
                p = simulator_point("mqsim", flow_section(c, _gap_us(c, frac * x_sat)), seed=seed)
                points.append(p)
                specs[c.name][run_id_of("mqsim", p)] = ("satX", frac, seed)
    more, more_runs = run_points("mqsim", points, site, workdir, jobs)
    table = pd.concat([table, more], ignore_index=True)
    runs.update(more_runs)
    return pd.concat([cell_rows(c, table, runs, specs[c.name]) for c in cells], ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="run directories (outside the repository)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="cell names (default: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cells = tuple(c for c in CELLS if not args.only or c.name in args.only)
    frame = run_campaign(args.workdir, load_site_config()["mqsim"], args.jobs, cells)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    log.info("wrote %d rows to %s (pid %d)", len(frame), args.out, os.getpid())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
