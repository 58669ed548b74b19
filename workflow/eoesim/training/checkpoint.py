"""Checkpoints on the SSD: their size, how long a write takes, and their block-I/O trace for MQSim.

A checkpoint of an expert stores its working weights, master weights and optimizer state
(``Precision.checkpoint_bytes_per_param`` x parameters), written sequentially every
``training.checkpoint.interval_steps`` steps and once at the end; training waits for it (a synchronous
checkpoint). The ComponentModel answers SSD *reads* only, so the write takes the SSD's first-byte latency
plus bytes / ``training.checkpoint.ssd_write_bandwidth_gb_per_s`` (a data-sheet value, fidelity
``nominal``). ``write_checkpoint_trace`` writes the same writes as an MQSim DiskSim trace (every expert's
checkpoint as one sequential LBA range, requests issued at the write bandwidth), so MQSim can time them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from eoesim.eoe.expert import param_count
from eoesim.eoe.hardware import Hardware
from eoesim.simulators.mqsim_trace import (
    SECTOR_BYTES,
    WRITE,
    Arrivals,
    IODescription,
    Transfer,
    generate_requests,
    write_trace,
)
from eoesim.stitch.components import Estimate
from eoesim.training.spec import ExpertJob, TrainingSpec

WRITE_SOURCE = "SSD sequential write, data sheet (training.checkpoint.ssd_write_bandwidth_gb_per_s)"


def checkpoint_bytes(spec: TrainingSpec, job: ExpertJob) -> float:
    return spec.precision.checkpoint_bytes_per_param * param_count(job.expert)


def checkpoints(spec: TrainingSpec, job: ExpertJob) -> int:
    """Checkpoints written while training ``job``: every interval and once at the end."""
    steps = spec.steps(job)
    return steps // spec.checkpoint_interval_steps + (1 if steps % spec.checkpoint_interval_steps else 0)


def checkpoint_write(spec: TrainingSpec, hw: Hardware, nbytes: float) -> Estimate:
    seconds = hw.ssd.latency_s + nbytes / spec.ssd_write_bandwidth_bytes_per_s
    return Estimate(seconds, "nominal", WRITE_SOURCE)


def checkpoint_description(spec: TrainingSpec, jobs: Sequence[ExpertJob], hw: Hardware) -> IODescription:
    """One checkpoint of every job, one after another, each a contiguous LBA range."""
    request_sectors = spec.checkpoint_request_kib * 1024 // SECTOR_BYTES
    transfers, start = [], 0
    for job in jobs:
        t = Transfer(f"checkpoint_{job.expert.name}", WRITE, int(checkpoint_bytes(spec, job)), 1, start)
        transfers.append(t)
        start = -(-t.end_lba // request_sectors) * request_sectors
    request_s = request_sectors * SECTOR_BYTES / spec.ssd_write_bandwidth_bytes_per_s
    longest = max(checkpoint_write(spec, hw, checkpoint_bytes(spec, j)).value for j in jobs)
    return IODescription(request_sectors=request_sectors, transfers=tuple(transfers),
                         arrivals=Arrivals(process="fixed", mean_interval_ns=longest * 1e9,
                                           request_interval_ns=max(1, round(request_s * 1e9))))


def write_checkpoint_trace(path: str | Path, spec: TrainingSpec, hw: Hardware) -> Path:
    return write_trace(Path(path), generate_requests(checkpoint_description(spec, spec.jobs, hw)))
