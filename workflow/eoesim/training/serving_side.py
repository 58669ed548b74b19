"""The serving side of a package shared with (or split from) a training job.

The design point's requests are served by the serving engine (eoesim.stitch.e2e.stitch_point) with the
training run's BackgroundLoad (``colocation.background_load`` of its ``summary.json``): on a shared package
every serving iteration on a training chiplet takes 1 / (1 - share) as long; on a split package the training
chiplets carry no busy share and the point's ``mapping`` must keep serving off them (training takes the end of
the snake order, the mappings fill it from the start). ``serving.json`` keeps what the colocation question
needs: latency percentiles, throughput and the SLO attainment (``goodput``: the share of requests meeting
``serving.slo``; every request when no SLO bound is set).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from eoesim.eoe.hardware import build_hardware
from eoesim.errors import ConfigError
from eoesim.serving.background import BackgroundLoad
from eoesim.stitch.components import ComponentModel
from eoesim.stitch.e2e import stitch_point, write_summary
from eoesim.stitch.point_job import point_tables
from eoesim.stitch.study_model import StudyComponentModel


def background_from_summary(summary: Mapping[str, Any]) -> BackgroundLoad:
    load = summary["colocation"]["background_load"]
    return BackgroundLoad(chiplet_busy_fraction={int(c): f for c, f in load["chiplet_busy_fraction"].items()},
                          device_bytes_per_s=dict(load["device_bytes_per_s"]), label=load["label"])


def check_split(summary: Mapping[str, Any], serving_chiplets: set[int]) -> None:
    """A split package must not serve on a chiplet that only trains."""
    colo = summary["colocation"]
    if colo["share"] < 1:
        return
    overlap = sorted(serving_chiplets & set(colo["training_chiplets"]))
    if overlap:
        raise ConfigError(f"mapping: the serving instances use chiplets {overlap}, which train only "
                          f"(training.share 1, training.chiplets {len(colo['training_chiplets'])}); allowed: a mapping "
                          f"on the serving chiplets {colo['serving_chiplets']} (e.g. mapping.strategy one_to_many with "
                          "fewer chiplets_per_expert)")


def serving_record(result_summary: Mapping[str, Any], load: BackgroundLoad, used: set[int]) -> dict[str, Any]:
    s = result_summary
    return {"serving_chiplets_used": sorted(used), "background_chiplet_busy_fraction": dict(load.chiplet_busy_fraction),
            "requests": s["requests"], "ttft_s": s["ttft_s"], "tpot_s": s["tpot_s"],
            "e2e_latency_s": s["e2e_latency_s"],
            "throughput": s["throughput"], "goodput": s["goodput"]}


def serve_beside_training(params: Mapping[str, Any], model: ComponentModel, training_summary: Mapping[str, Any],
                          out: Path) -> dict[str, Any]:
    load = background_from_summary(training_summary)
    result = stitch_point(params, model, background=load)
    used = {c for reps in result.engine.mapping.placements.values() for rep in reps for c in rep}
    check_split(training_summary, used)
    record = serving_record(result.summary, load, used)
    write_summary(out, record)
    return record


def serve_design_point(params: Mapping[str, Any], runs: Mapping[str, Mapping[str, Any]], training_summary: Path,
                       out: Path) -> dict[str, Any]:
    """The rule's entry: the point's component tables and training summary -> ``serving.json``."""
    hw = build_hardware(params["hardware"])
    model = StudyComponentModel(hw, point_tables(runs), {sim: info["point"] for sim, info in runs.items()})
    return serve_beside_training(params, model, json.loads(Path(training_summary).read_text()), out)
