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
from typing import Any, Iterable, Mapping, Sequence

from eoesim.eoe.hardware import build_hardware
from eoesim.eoe.mapping import ExpertMapping
from eoesim.errors import ConfigError
from eoesim.serving.background import BackgroundLoad
from eoesim.serving.failures import FailurePlan
from eoesim.stitch.components import ComponentModel
from eoesim.stitch.e2e import stitch_point, write_summary
from eoesim.stitch.point_job import point_tables
from eoesim.stitch.study_model import StudyComponentModel
from eoesim.training.placement import training_chiplets


def background_from_summary(summary: Mapping[str, Any]) -> BackgroundLoad:
    load = summary["colocation"]["background_load"]
    return BackgroundLoad(chiplet_busy_fraction={int(c): f for c, f in load["chiplet_busy_fraction"].items()},
                          device_bytes_per_s=dict(load["device_bytes_per_s"]), label=load["label"])


def check_split(share: float, training: Sequence[int], used: Iterable[int], n_chiplets: int) -> None:
    """A split package (``training.share`` 1) must not serve on a chiplet that only trains."""
    if share < 1:
        return
    overlap = sorted(set(used) & set(training))
    if overlap:
        serving = [c for c in range(n_chiplets) if c not in set(training)]
        room = (f"a mapping on the serving chiplets {serving} (e.g. mapping.strategy one_to_many with fewer "
                "chiplets_per_expert), " if serving else "")
        raise ConfigError(f"mapping: the serving instances use chiplets {overlap}, which train only "
                          f"(training.share 1, training.chiplets {len(training)}); allowed: {room}fewer "
                          "training.chiplets, or training.share below 1 (training and serving share the chiplets)")


def serving_chiplets_used(mapping: ExpertMapping) -> set[int]:
    return {c for reps in mapping.placements.values() for rep in reps for c in rep}


def planned_serving_chiplets(mapping: ExpertMapping, failures: FailurePlan | None) -> set[int]:
    """The chiplets the point's experts run on: its mapping, and the replacement of every planned chiplet
    failure (in time order) that hits one of them."""
    used = serving_chiplets_used(mapping)
    for event in (failures.chiplets if failures is not None else ()):
        if event["chiplet"] in used:
            used = (used - {event["chiplet"]}) | {event["replacement"]}
    return used


def check_split_point(params: Mapping[str, Any], used: set[int]) -> None:
    """At planning time: a point whose training takes ``training.chiplets`` of the package alone (share 1)
    and whose experts run on one of them (``used``: planned_serving_chiplets) fails here, before its training
    job runs."""
    cfg = params.get("training")
    if cfg is None or cfg["chiplets"] is None:
        return
    hw = build_hardware(params["hardware"])
    check_split(cfg["share"], training_chiplets(hw, cfg["chiplets"]), used, hw.n_chiplets)


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
    used = serving_chiplets_used(result.engine.mapping)  # after any chiplet failure moved an expert
    colo = training_summary["colocation"]
    check_split(colo["share"], colo["training_chiplets"], used, build_hardware(params["hardware"]).n_chiplets)
    record = serving_record(result.summary, load, used)
    write_summary(out, record)
    return record


def serve_design_point(params: Mapping[str, Any], runs: Mapping[str, Mapping[str, Any]], training_summary: Path,
                       out: Path) -> dict[str, Any]:
    """The rule's entry: the point's component tables and training summary -> ``serving.json``."""
    hw = build_hardware(params["hardware"])
    model = StudyComponentModel(hw, point_tables(runs), {sim: info["point"] for sim, info in runs.items()})
    return serve_beside_training(params, model, json.loads(Path(training_summary).read_text()), out)
