"""What a training run achieves with the share of the package it was given, and the load it puts on serving.

The serving engine takes a ``eoesim.serving.background.BackgroundLoad``. With ``training.share`` f < 1 the
training chiplets also serve: each is busy f of its time with training. With f = 1 the training chiplets are
the training job's alone (serving runs on the others, ``serving_chiplets``), so they carry no busy share,
but the devices both jobs use still do: the training's average byte streams over the run on each HBM stack
(``hbm<s>``; a device's traffic goes to the stack that serves it), the SSD (``ssd``: token reads and checkpoint
writes) and every package link it uses (``link <src>-><dst>``, directed, chiplet ids) - the serving engine's
device names (eoesim.serving.package) - each = the run's bytes on it / the run's wall time.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from eoesim.eoe.hardware import Hardware
from eoesim.serving.background import BackgroundLoad
from eoesim.training.run import TrainingRun


def link_device(src: int, dst: int) -> str:
    return f"link {src}->{dst}"


def run_bytes(run: TrainingRun) -> tuple[Counter, float, Counter]:
    """(bytes per HBM stack, SSD bytes, bytes per directed link) of the whole training run; a job's HBM bytes
    are split evenly over its chiplets, each going to the stack that serves it."""
    stack_of = {c: s for s, region in enumerate(run.spec.hbm_regions) for c in region}
    hbm: Counter = Counter()
    ssd = 0.0
    links: Counter = Counter()
    for r in run.experts:
        chips = r.step.job.chiplets
        for c in chips:
            hbm[stack_of[c]] += r.step.hbm_bytes * r.steps / len(chips)
        ssd += (r.step.ssd_read_bytes + r.step.ssd_write_bytes) * r.steps
        links.update({link: b * r.steps for link, b in r.step.link_load.items()})
    return hbm, ssd, links


def background_load(run: TrainingRun) -> BackgroundLoad:
    spec = run.spec
    busy = {c: spec.share for c in spec.chiplets} if spec.share < 1 else {}
    hbm, ssd, links = run_bytes(run)
    streams = {f"hbm{s}": b / run.time_s for s, b in sorted(hbm.items())}
    streams["ssd"] = ssd / run.time_s
    streams.update({link_device(*link): b / run.time_s for link, b in sorted(links.items())})
    return BackgroundLoad(chiplet_busy_fraction=busy, device_bytes_per_s=streams, label="training")


def colocation_summary(run: TrainingRun, hw: Hardware) -> dict[str, Any]:
    """The training side of a shared / split package: throughput achieved and the load imposed on serving."""
    load = background_load(run)
    spec = run.spec
    serving = [c for c in range(hw.n_chiplets) if spec.share < 1 or c not in spec.chiplets]
    return {
        "share": spec.share,
        "training_chiplets": list(spec.chiplets),
        "serving_chiplets": serving,
        "training_tokens_per_s": run.tokens / run.time_s,
        "background_load": {"label": load.label,
                            "chiplet_busy_fraction": {str(c): f for c, f in load.chiplet_busy_fraction.items()},
                            "device_bytes_per_s": dict(load.device_bytes_per_s)},
    }
