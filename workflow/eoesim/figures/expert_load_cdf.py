"""Figure expert_load_cdf: the latency of expert loads from the SSD, one CDF per SSD configuration.

An SSD configuration is what decides the latency of an SSD read in the stitch: the ``hardware.ssd``
parameters and the MQSim result (run) the design point uses. Per configuration its first design point
(or, with ``points: all``, every point having it) is re-stitched from its own component tables
(eoesim.stitch.variants) under a memory-pressure budget - HBM holds ``hbm_experts`` experts (null = half
of them) and DDR ``ddr_experts``, capacities = that many times the largest expert - so that experts miss
and are read from the SSD (``memory_pressure: false`` keeps the points' own capacities); the point's own
cache policy and prefetch apply. Points with a single expert cannot miss under the default budget; when
all of them have one the figure is left out.

The load latency of one SSD read (eoesim.serving.engine: a load that found the expert in neither HBM nor
DDR) is the time from its issue - when a sequence (or a prefetch) needed the expert on a stack - until the
expert is in HBM, i.e. the DDR -> HBM copy that follows the read has finished. It is split
into SSD queueing, SSD service and the DDR -> HBM copy (with its queueing).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
from matplotlib.ticker import ScalarFormatter

from eoesim.config import Study
from eoesim.figures.style import FigureError, new_figure, save_figure, series_style
from eoesim.provenance import canonical_json
from eoesim.stitch.e2e import E2EResult
from eoesim.stitch.variants import MemoryPressure, Restitcher, check_variant, with_overrides
from eoesim.stitch.workloads import ssd_reads

KEY = "figures.expert_load"
log = logging.getLogger(__name__)
#: a latency axis spanning more than this ratio is drawn logarithmic
LOG_SPREAD = 20.0


@dataclass(frozen=True)
class ExpertLoad:
    """The resolved ``figures.expert_load`` section."""

    points: str
    memory_pressure: bool
    hbm_experts: int | None
    ddr_experts: int
    requests: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def pressure(self) -> MemoryPressure:
        return MemoryPressure(self.memory_pressure, self.hbm_experts, self.ddr_experts)


def ssd_configurations(plan) -> list[dict[str, Any]]:
    """The distinct SSD configurations of a StudyPlan, in points.csv order of their first point:
    ``{"ssd", "mqsim_run_id", "mqsim", "points"}`` (``points``: design point ids)."""
    groups: dict[str, dict[str, Any]] = {}
    for p in plan.study.points:
        ssd = dict(p.params["hardware"]["ssd"])
        rid = plan.point_runs[p.id].get("mqsim")
        key = canonical_json({"ssd": ssd, "mqsim": rid})
        group = groups.setdefault(key, {"ssd": ssd, "mqsim_run_id": rid,
                                        "mqsim": plan.runs["mqsim"][rid] if rid else None, "points": []})
        group["points"].append(p.id)
    return list(groups.values())


def _datasheet(group: Mapping[str, Any]) -> str:
    ssd = group["ssd"]
    return f"datasheet {ssd['read_bandwidth_gb_per_s']:g} GB/s, {ssd['read_latency_us']:g} µs"


def _mqsim(group: Mapping[str, Any]) -> str:
    mq = (group["mqsim"] or {}).get("ssd")
    return f"MQSim {mq['channels']}x{mq['chips_per_channel']} {mq['flash']['technology']}" if mq else "no MQSim"


def labels(groups: list[Mapping[str, Any]], fidelities: list[set[str]]) -> list[str]:
    """Legend label of each configuration: what decided its SSD reads (the datasheet values when every
    read fell back to them, else the MQSim configuration and fidelity), then more of the configuration
    while two labels coincide."""
    out = []
    for g, fids in zip(groups, fidelities):
        used = sorted(fids - {"nominal"})
        out.append(_mqsim(g) + f" ({'/'.join(used)})" if used else _datasheet(g))
    if len(set(out)) < len(out):
        out = [f"{lab}; {_datasheet(g) if lab.startswith('MQSim') else _mqsim(g)}" for lab, g in zip(out, groups)]
    if len(set(out)) < len(out):
        out = [f"{lab}; MQSim run {g['mqsim_run_id']}" for lab, g in zip(out, groups)]
    return out


def settings(study: Study, plan) -> ExpertLoad | None:
    """The figure's settings, checked against every point it re-stitches (ConfigError names key, value,
    allowed), or None when no such point can miss (each has a single expert, under the default budget)."""
    section = study.config["figures"]["expert_load"]
    out = ExpertLoad(points=section["points"], memory_pressure=section["memory_pressure"],
                     hbm_experts=section["hbm_experts"], ddr_experts=section["ddr_experts"],
                     requests=section["requests"])
    pids = [pid for group in ssd_configurations(plan) for pid in stitched_points(out, group)]
    for pid in pids:
        params = study.point(pid).params
        out.pressure.check(params, KEY, pid, ("hbm", "ddr"))
        check_variant(params, overrides(out, params), KEY)
    if not any(out.pressure.can_miss(study.point(pid).params) for pid in pids):
        log.warning("figure expert_load_cdf left out: design points %s have a single expert, which never misses",
                    pids)
        return None
    return out


def stitched_points(s: ExpertLoad, group: Mapping[str, Any]) -> list[str]:
    return list(group["points"]) if s.points == "all" else list(group["points"][:1])


def overrides(s: ExpertLoad, params: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if s.requests is not None:
        out.update({"eoe.requests.count": s.requests, "eoe.requests.duration_s": None})
    out.update(s.pressure.overrides(with_overrides(params, out)))  # the KV room of the requests re-stitched
    return out


def load_table(result: E2EResult) -> pd.DataFrame:
    """One row per SSD read of a served point: issue, SSD start/finish, in HBM, and the latency split."""
    return ssd_reads(result.engine)


def collect(groups: list[Mapping[str, Any]], restitchers: Mapping[str, Restitcher], s: ExpertLoad) -> pd.DataFrame:
    """The plotted rows: every SSD read of the stitched points, per SSD configuration, with its CDF value
    (FigureError if no point read an expert from the SSD)."""
    parts = []
    for group in groups:
        rows = []
        for pid in stitched_points(s, group):
            r = restitchers[pid]
            ov = overrides(s, r.params)
            t = load_table(r.stitch(ov))
            memory = r.params["hardware"]["memory"]
            hbm_n, ddr_n = s.pressure.counts(r.params) or (None, None)
            rows.append(t.assign(
                point=pid, hbm_experts=hbm_n, ddr_experts=ddr_n,
                hbm_capacity_gib=ov.get("hardware.memory.hbm.capacity_gib", memory["hbm"]["capacity_gib"]),
                ddr_capacity_gib=ov.get("hardware.memory.ddr.capacity_gib", memory["ddr"]["capacity_gib"]),
                cache_policy=r.params["mapping"]["cache_policy"]))
        t = pd.concat(rows, ignore_index=True)
        if t.empty:
            log.warning("SSD configuration of points %s: no expert was read from the SSD", group["points"])
            continue
        t["load_latency_s"] = t["hbm_ready_s"] - t["issue_s"]
        t["ssd_queue_s"] = t["start_s"] - t["issue_s"]
        t["ssd_service_s"] = t["finish_s"] - t["start_s"]
        t["ddr_to_hbm_s"] = t["hbm_ready_s"] - t["finish_s"]
        t = t.sort_values("load_latency_s", kind="stable", ignore_index=True)
        t["cdf"] = np.arange(1, len(t) + 1) / len(t)
        ssd = group["ssd"]
        fidelity = t["provenance"].str.split("+").map(lambda parts: {x.partition(":")[0] for x in parts})
        parts.append((group, set().union(*fidelity), t.assign(
            mqsim_run_id=group["mqsim_run_id"], ssd_read_bandwidth_gb_per_s=ssd["read_bandwidth_gb_per_s"],
            ssd_read_latency_us=ssd["read_latency_us"])))
    if not parts:
        raise FigureError(f"expert_load_cdf: no expert was read from the SSD in any re-stitched point; allowed: "
                          f"{KEY}.memory_pressure true with hbm_experts and ddr_experts below the number of experts")
    names = labels([g for g, _, _ in parts], [f for _, f, _ in parts])
    frame = pd.concat([t.assign(ssd_config=name) for name, (_, _, t) in zip(names, parts)], ignore_index=True)
    front = ["ssd_config", "load_latency_s", "cdf", "ssd_queue_s", "ssd_service_s", "ddr_to_hbm_s"]
    return frame[front + [c for c in frame.columns if c not in front]].rename(
        columns={"start_s": "ssd_start_s", "finish_s": "ssd_finish_s"})


def plot(frame: pd.DataFrame, stem) -> dict:
    """One step CDF per SSD configuration, load latency in ms."""
    fig, ax = new_figure("single")
    for i, (label, rows) in enumerate(frame.groupby("ssd_config", sort=False)):
        style = series_style(i)
        ax.step(rows["load_latency_s"] * 1e3, rows["cdf"], where="post", color=style["color"],
                linestyle=style["linestyle"], marker="", label=f"{label} ({len(rows)} loads)")
    latency = frame["load_latency_s"]
    if latency.min() > 0 and latency.max() / latency.min() > LOG_SPREAD:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlabel("expert load latency, issue to in HBM (ms)")
    ax.set_ylabel("CDF of SSD expert loads")
    ax.set_ylim(0, 1.02)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside upper center", ncol=1)
    return save_figure(fig, frame, stem)
