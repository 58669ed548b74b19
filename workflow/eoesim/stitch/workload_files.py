"""Lowering outputs: one stitched design point -> the workload file of every simulator.

``write_workloads(result, experts, hbm_capacity, outdir)`` writes ``results/<study>/workloads/<point>/``:

- ``scalesim_topology.csv`` - SCALE-Sim GEMM topology (``Layer Name, M, N, K,``): every distinct GEMM the
  chiplet model was asked for (layer name ``<gemm>_<m>x<n>x<k>``; how often each runs is in lowering.json);
- ``ramulator_trace.txt`` - Ramulator 2 LoadStoreTrace (``LD|ST 0x<addr>``, one 64 B request a line) of
  the HBM traffic (workloads.hbm_segments: weight streaming, KV-cache reads and writes, expert loads into
  HBM) in time order. A design point moves terabytes, so the trace keeps every ``sample_every``-th
  64 B line of the concatenated streams (uniform, at most ``max_ramulator_requests`` lines; the factor
  and the bytes represented are in lowering.json). Transfers are laid out one after another in start
  order (LoadStoreTrace carries no time: the offered load is the Ramulator run's clock ratio);
- ``mqsim_trace.txt`` - MQSim ASCII block trace of the SSD reads (cold expert loads: reads of the
  expert's LBA range, split into ``mqsim_request_kib`` requests arriving at the load's start, in ns).
  Empty when the schedule has no SSD read (every expert stayed resident); inference points have no
  checkpoint writes;
- ``traffic.json`` - inter-chiplet traffic: span, bytes and injection rate (bytes/s) per source chiplet;
- ``traffic_matrix.csv`` - bytes from chiplet ``src_chiplet`` (row) to each destination (columns ``0..n-1``),
  the matrix RapidChiplet's ``matrix`` traffic pattern takes;
- ``lowering.json`` - the manifest: time base, counts, sampling and what each file holds.

Time base: the serving run (see workloads).
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eoesim.eoe.hardware import build_hardware
from eoesim.simulators.mqsim_trace import SECTOR_BYTES, TraceRequest, format_line
from eoesim.simulators.ramulator_traces import write_loadstore
from eoesim.stitch.e2e import E2EResult, stitch_point
from eoesim.stitch.point_job import point_tables
from eoesim.stitch.study_model import StudyComponentModel
from eoesim.stitch.workloads import gemm_table, hbm_segments, ssd_reads, traffic_matrix

LINE_BYTES = 64
MAX_RAMULATOR_REQUESTS = 100_000
MQSIM_REQUEST_KIB = 256
FILES = ("scalesim_topology.csv", "ramulator_trace.txt", "mqsim_trace.txt", "traffic.json", "traffic_matrix.csv",
         "lowering.json")


def write_topology(path: Path, gemms: pd.DataFrame) -> Path:
    lines = ["Layer Name, M, N, K,"] + [f"{g.gemm}_{g.m}x{g.n}x{g.k}, {g.m}, {g.n}, {g.k},"
                                        for g in gemms.itertuples(index=False)]
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def sampled_lines(segments: pd.DataFrame, max_requests: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(addresses, write flags, sample_every): every k-th 64 B line of the segments, in order."""
    n = np.ceil(segments["size_bytes"].to_numpy(dtype=float) / LINE_BYTES).astype(np.int64)
    total = int(n.sum())
    k = max(1, math.ceil(total / max_requests)) if total else 1
    starts = np.concatenate([[0], np.cumsum(n)[:-1]]) if len(n) else np.zeros(0, dtype=np.int64)
    first = (-starts) % k  # local index of the first kept line of each segment
    counts = np.where(first < n, (n - first + k - 1) // k, 0)
    seg = np.repeat(np.arange(len(n)), counts)
    ordinal = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    local = first[seg] + ordinal * k
    base = segments["address_bytes"].to_numpy(dtype=np.int64)
    addr = (base[seg] // LINE_BYTES + local) * LINE_BYTES
    return addr, segments["write"].to_numpy(dtype=bool)[seg], k


def mqsim_requests(reads: pd.DataFrame, request_kib: int = MQSIM_REQUEST_KIB) -> list[TraceRequest]:
    """The SSD reads as MQSim requests: LBA = offset / 512, ``request_kib`` pieces, arrival = start (ns)."""
    per = request_kib * 1024 // SECTOR_BYTES
    out = []
    for r in reads.sort_values("start_s", kind="stable").itertuples(index=False):
        lba, sectors = int(r.offset_bytes) // SECTOR_BYTES, math.ceil(int(r.size_bytes) / SECTOR_BYTES)
        t = round(r.start_s * 1e9)
        out += [TraceRequest(t, 0, lba + j, min(per, sectors - j), 1) for j in range(0, sectors, per)]
    return out


def write_workloads(result: E2EResult, hbm_capacity_bytes: float, outdir: Path,
                    max_ramulator_requests: int = MAX_RAMULATOR_REQUESTS,
                    mqsim_request_kib: int = MQSIM_REQUEST_KIB) -> dict[str, Any]:
    """Write the lowering outputs of one stitched point into ``outdir``; returns the manifest."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    engine = result.engine
    gemms = gemm_table(engine)
    write_topology(outdir / "scalesim_topology.csv", gemms)

    segments, layout = hbm_segments(engine, hbm_capacity_bytes)
    addr, writes, every = sampled_lines(segments, max_ramulator_requests)
    write_loadstore(outdir / "ramulator_trace.txt", addr, writes)

    reads = ssd_reads(engine)
    mq = mqsim_requests(reads, mqsim_request_kib)
    (outdir / "mqsim_trace.txt").write_text("".join(format_line(r) for r in mq))

    tm = traffic_matrix(engine)
    mat = tm["bytes"]
    n = mat.shape[0]
    frame = pd.DataFrame(mat, columns=[str(j) for j in range(n)])
    frame.insert(0, "src_chiplet", range(n))
    frame.to_csv(outdir / "traffic_matrix.csv", index=False)
    traffic = {"span_s": tm["span_s"], "chiplets": n, "total_bytes": float(mat.sum()),
               "sent_bytes": mat.sum(axis=1).tolist(), "injection_bytes_per_s": tm["injection_bytes_per_s"].tolist()}
    (outdir / "traffic.json").write_text(json.dumps(traffic, indent=1) + "\n")

    by_stream = segments.groupby("stream")["size_bytes"].sum()
    manifest = {
        "time_base": "the serving run (seconds on the request-arrival clock), as e2e/<point>/",
        "scalesim_topology": {"gemms": len(gemms), "instances": int(gemms["instances"].sum()) if len(gemms) else 0,
                              "macs": int(gemms["macs"].sum()) if len(gemms) else 0},
        "ramulator_trace": {"format": "Ramulator 2 LoadStoreTrace", "tier": "hbm", "request_bytes": LINE_BYTES,
                            "lines": len(addr), "sample_every": every,
                            "write_lines": int(writes.sum()),
                            "bytes_represented": float(segments["size_bytes"].sum()),
                            "bytes_by_stream": {k: float(v) for k, v in by_stream.items()},
                            "first_start_s": float(segments["start_s"].min()) if len(segments) else None,
                            "last_start_s": float(segments["start_s"].max()) if len(segments) else None,
                            "layout": {"weight_base": layout.weight_base, "kv_base": layout.kv_base,
                                       "kv_slot_bytes": layout.kv_slot_bytes}},
        "mqsim_trace": {"format": "MQSim ASCII (DiskSim)", "requests": len(mq), "ssd_reads": len(reads),
                        "request_kib": mqsim_request_kib, "bytes": int(reads["size_bytes"].sum()) if len(reads) else 0,
                        "empty": not mq},
        "traffic": {"files": ["traffic.json", "traffic_matrix.csv"], "total_bytes": traffic["total_bytes"]},
    }
    (outdir / "lowering.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def lower_design_point(params: Mapping[str, Any], runs: Mapping[str, Mapping[str, Any]], outdir: Path,
                       base_dir: Path | None = None) -> dict[str, Any]:
    """Stitch one design point exactly as rule stitch_e2e does (same tables, same model, same seed) and write
    its lowering outputs; returns the manifest."""
    hw = build_hardware(params["hardware"])
    model = StudyComponentModel(hw, point_tables(runs), {sim: info["point"] for sim, info in runs.items()})
    result = stitch_point(params, model, base_dir=base_dir)
    return write_workloads(result, hw.hbm.capacity_bytes, outdir)
