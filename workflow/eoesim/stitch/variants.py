"""Re-stitching a design point with parameter overrides, from the same component tables its e2e stitch used.

A figure that asks "what if" of a design point - another Zipf skew, another cache policy, less HBM - must
not re-run a simulator: the latency of every op still comes from the point's own rows of the study's
tables (``StudyComponentModel``), exactly as in ``stitch_e2e``. Only the EoE description (requests,
mapping, memory capacities) changes. ``point_inputs`` gives the JSON-able description of a point the
Snakemake rules pass to their scripts (its parameters and, per simulator, its run id, table and
simulator point, as ``get_point_runs`` does for ``stitch_e2e``).

The memory-pressure scenario of the cache figures (``MemoryPressure``) sizes HBM and DDR in *experts*:
``n`` experts of residency = ``n`` times the largest expert's parameter bytes, so any ``n`` experts fit
together. In HBM the KV cache shares the capacity with the weights (eoesim.serving.memory), so HBM gets room
for the KV cache beside them (``kv_room_bytes``): at least the KV of the longest request the point can
generate (a trace's: its longest), run alone with the admission watermark kept free, for each expert a request
runs at once, and at least half an expert (so that, with experts larger than that KV, ``n + 1`` experts never
fit).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from eoesim.config import set_path
from eoesim.eoe.expert import kv_bytes_per_token, param_bytes, resolve_experts
from eoesim.eoe.hardware import GIB, build_hardware
from eoesim.eoe.morphology import Node, build_morphology
from eoesim.eoe.requests import DEFAULTS as REQUEST_DEFAULTS
from eoesim.eoe.requests import generate_requests
from eoesim.errors import ConfigError
from eoesim.serving.batching import lone_sequence_blocks
from eoesim.serving.settings import DEFAULTS as SERVING_DEFAULTS
from eoesim.stitch.e2e import E2EResult, check_point, stitch_point
from eoesim.stitch.point_job import point_tables
from eoesim.stitch.study_model import StudyComponentModel

#: the capacity keys the memory-pressure scenario overrides, per tier
CAPACITY_KEYS = {"hbm": "hardware.memory.hbm.capacity_gib", "ddr": "hardware.memory.ddr.capacity_gib"}
#: least HBM room for the KV cache beside ``n`` experts, in experts (below 1, so that ``n + 1`` never fit)
KV_ROOM_MIN_EXPERTS = 0.5
#: a lognormal length without ``max``: its median x exp(LOGNORMAL_TAIL_SIGMAS x sigma) (the 99.9th percentile)
LOGNORMAL_TAIL_SIGMAS = 3.09


def point_inputs(plan, paths, pid: str) -> dict[str, Any]:
    """``{"point", "params", "runs"}`` of design point ``pid`` (``plan``: StudyPlan, ``paths``: ResultPaths)."""
    runs = {sim: {"run_id": rid, "table": str(paths.table(sim)), "point": plan.runs[sim][rid]}
            for sim, rid in plan.point_runs[pid].items()}
    return {"point": pid, "params": plan.study.point(pid).params, "runs": runs}


def with_overrides(params: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``params`` with each dotted key of ``overrides`` set."""
    out = copy.deepcopy(dict(params))
    for key, value in overrides.items():
        set_path(out, key, value)
    return out


def largest_expert_bytes(params: Mapping[str, Any]) -> float:
    return max(param_bytes(e) for e in resolve_experts(params["eoe"]["experts"]))


def residency_overrides(params: Mapping[str, Any], hbm_experts: int | None,
                        ddr_experts: int | None) -> dict[str, float]:
    """Capacity overrides holding ``hbm_experts`` / ``ddr_experts`` of the largest expert, HBM with its KV
    room (None: unchanged)."""
    size = largest_expert_bytes(params)
    room = {"hbm": kv_room_bytes(params), "ddr": 0.0}
    out = {}
    for tier, count in (("hbm", hbm_experts), ("ddr", ddr_experts)):
        if count is not None:
            out[CAPACITY_KEYS[tier]] = (count * size + room[tier]) / GIB
    return out


def longest_tokens(spec: Mapping[str, Any]) -> int:
    """The most tokens a length distribution (eoe.requests.prompt_tokens / output_tokens) gives."""
    if spec.get("max") is not None:
        return int(spec["max"])
    if spec.get("dist", "fixed") == "fixed":
        return int(spec["value"])
    return math.ceil(float(spec["median"]) * math.exp(LOGNORMAL_TAIL_SIGMAS * float(spec["sigma"])))


def longest_request(params: Mapping[str, Any]) -> tuple[int, int]:
    """(prompt, prompt + output) tokens of the longest request the point can serve: the bounds of its length
    distributions, or a trace's own longest request (its path as the engine reads it, from the working
    directory)."""
    req = {**REQUEST_DEFAULTS, **(params["eoe"].get("requests") or {})}
    if req["arrival"] == "trace":
        rq = generate_requests(req, len(params["eoe"]["experts"]), int(params.get("seed", 1)))
        if not len(rq):
            return 0, 0
        return int(rq.prompt_tokens.max()), int((rq.prompt_tokens + rq.output_tokens).max())
    prompt = longest_tokens(req["prompt_tokens"])
    return prompt, prompt + longest_tokens(req["output_tokens"])


def experts_at_once(params: Mapping[str, Any], names: list[str]) -> int:
    """The most experts one request can run at once: 1, or under representation averaging the ``k`` picks of
    a router, a picked sub-router counting for the picks it composes in (top-k at every level)."""
    eoe = params["eoe"]
    if (eoe.get("composition") or {}).get("kind", "representation_average") != "representation_average":
        return 1
    k = int((eoe.get("router") or {}).get("k", 1))

    def picks(node: Node) -> int:
        return sum(sorted((picks(c) if c.kind == "router" else 1 for c in node.children), reverse=True)[:k])

    return max((picks(n) for n in build_morphology(eoe.get("morphology"), names).routers), default=1)


def kv_room_bytes(params: Mapping[str, Any]) -> float:
    """HBM for the KV cache beside the experts of a memory budget (module docstring)."""
    experts = resolve_experts(params["eoe"]["experts"])
    serving = {**SERVING_DEFAULTS, **(params.get("serving") or {})}
    block = int(serving["kv_block_tokens"])
    prompt, total = longest_request(params)
    blocks = lone_sequence_blocks(prompt, total, block, float(serving["kv_watermark"]),
                                  serving["scheduler"] == "static")
    at_once = experts_at_once(params, [e.name for e in experts])
    one = blocks * block * max(kv_bytes_per_token(e) for e in experts)
    floor = KV_ROOM_MIN_EXPERTS * max(param_bytes(e) for e in experts)
    return max(floor, at_once * one)


@dataclass(frozen=True)
class MemoryPressure:
    """HBM and DDR capacities in experts (``enabled`` false: the point's own capacities).

    ``hbm_experts`` None = half the point's experts (at least one), so the default makes some of them miss
    whatever the ensemble's size; an explicit budget is the user's and is checked by ``check``.
    """

    enabled: bool
    hbm_experts: int | None
    ddr_experts: int

    def counts(self, params: Mapping[str, Any]) -> tuple[int, int] | None:
        """(HBM, DDR) experts for this point, or None without pressure."""
        if not self.enabled:
            return None
        n = len(params["eoe"]["experts"])
        return (max(1, n // 2) if self.hbm_experts is None else self.hbm_experts), self.ddr_experts

    def overrides(self, params: Mapping[str, Any]) -> dict[str, float]:
        counts = self.counts(params)
        return residency_overrides(params, *counts) if counts else {}

    def can_miss(self, params: Mapping[str, Any]) -> bool:
        """Whether some expert of the point stays out of HBM (always true without pressure: unknowable)."""
        counts = self.counts(params)
        return counts is None or counts[0] < len(params["eoe"]["experts"])

    def check(self, params: Mapping[str, Any], key: str, point: str, tiers: tuple[str, ...]) -> None:
        """ConfigError if an explicit budget of one of ``tiers`` holds every expert of the point."""
        if not self.enabled:
            return
        n = len(params["eoe"]["experts"])
        for tier in tiers:
            value = getattr(self, f"{tier}_experts")
            if value is not None and value >= n:
                raise ConfigError(f"{key}.{tier}_experts: {value} is not allowed; allowed: an integer below the "
                                  f"{n} experts of design point {point} (with every expert resident in "
                                  f"{tier.upper()} none is ever loaded into it)")


def check_variant(params: Mapping[str, Any], overrides: Mapping[str, Any], where: str,
                  base_dir: str | Path | None = None) -> None:
    """Raise ConfigError if the overridden point cannot be stitched (e.g. its hot set no longer fits in the
    smaller HBM), saying which setting (``where``) asked for the variant."""
    try:
        check_point(with_overrides(params, overrides), base_dir=base_dir)
    except ConfigError as exc:
        raise ConfigError(f"{where}: the design point re-stitched with {dict(overrides)} is invalid: {exc}") from None


class Restitcher:
    """Stitches variants of one design point; its table rows are read once (``inputs``: see point_inputs)."""

    def __init__(self, inputs: Mapping[str, Any], base_dir: str | Path | None = None):
        self.point = inputs["point"]
        self.params = inputs["params"]
        self.runs = inputs["runs"]
        self.base_dir = base_dir
        self.tables = point_tables(self.runs)
        self.sim_points = {sim: info["point"] for sim, info in self.runs.items()}

    def stitch(self, overrides: Mapping[str, Any]) -> E2EResult:
        params = with_overrides(self.params, overrides)
        model = StudyComponentModel(build_hardware(params["hardware"]), self.tables, self.sim_points)
        return stitch_point(params, model, base_dir=self.base_dir)
