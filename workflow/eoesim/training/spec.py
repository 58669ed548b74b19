"""The study's ``training`` section, resolved and checked across fields (before any job runs).

``training_spec(params)`` turns a design point's parameters into a TrainingSpec: one ExpertJob per trained
expert (its dataset, chiplets and parallel layout) and one RouterJob per router of the morphology. Every
cross-field problem is a ConfigError naming the key, the value and what is allowed: micro-batch larger than
the batch, a batch that does not split into micro-batches, more pipeline stages than layers, a
tensor-parallel degree that does not divide the heads, a layout that does not tile an expert's chiplets,
unknown expert names, more training chiplets than the package has. Whether the layout's training state fits
in memory is checked by eoesim.training.memory_fit.checked_training_spec, which planning calls.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from eoesim.eoe.expert import Expert, resolve_experts
from eoesim.eoe.hardware import Hardware, build_hardware
from eoesim.eoe.morphology import build_morphology
from eoesim.errors import ConfigError
from eoesim.serving.package import stack_regions
from eoesim.training.accounting import Layout, Precision
from eoesim.training.placement import expert_groups, training_chiplets


@dataclass(frozen=True)
class ExpertJob:
    expert: Expert
    dataset_tokens: float
    chiplets: tuple[int, ...]  # in rank order (see placement.RankMap)
    layout: Layout
    micro_batches: int  # per data-parallel replica and optimizer step


@dataclass(frozen=True)
class RouterJob:
    name: str
    hidden: int
    children: int
    tokens: float
    chiplet: int


@dataclass(frozen=True)
class TrainingSpec:
    jobs: tuple[ExpertJob, ...]
    routers: tuple[RouterJob, ...]
    chiplets: tuple[int, ...]
    precision: Precision
    seq_len: int
    global_batch_tokens: int
    micro_batch: int
    epochs: float
    recompute: bool
    dropout: bool
    schedule: str
    share: float
    checkpoint_interval_steps: int
    ssd_write_bandwidth_bytes_per_s: float
    checkpoint_request_kib: int
    timeline_steps: int
    scalesim_max_cycles: int
    hbm_regions: tuple[tuple[int, ...], ...]  # the chiplets each HBM stack serves

    def hbm_sharers(self, job: ExpertJob) -> int:
        """Training chiplets streaming from the busiest HBM stack ``job`` uses while it trains (every expert's
        when they train concurrently)."""
        busy = set(self.chiplets) if self.schedule == "concurrent" else set(job.chiplets)
        return max(len(busy & set(r)) for r in self.hbm_regions if set(r) & set(job.chiplets))

    def steps(self, job: ExpertJob) -> int:
        """Optimizer steps to pass ``epochs`` times over the job's dataset."""
        return max(1, math.ceil(job.dataset_tokens * self.epochs / self.global_batch_tokens))


def _trained_experts(experts: list[Expert], names: list[str] | None) -> list[Expert]:
    if names is None:
        return experts
    known = [e.name for e in experts]
    bad = [n for n in names if n not in known]
    if bad:
        raise ConfigError(f"training.experts: {bad} are not experts; allowed: names from eoe.experts {known}")
    return [e for e in experts if e.name in names]


def _layout(e: Expert, chiplets: int, tp: int, pp: int, zero: int) -> Layout:
    if pp > e.layers:
        raise ConfigError(f"training.layout.pp: {pp} is not allowed; allowed: at most the {e.layers} layers of "
                          f"expert {e.name!r}")
    for field, value in (("heads", e.heads), ("kv_heads", e.kv_heads), ("d_ff", e.d_ff)):
        if value % tp:
            raise ConfigError(f"training.layout.tp: {tp} is not allowed; allowed: a divisor of {field}={value} "
                              f"of expert {e.name!r} (heads={e.heads}, kv_heads={e.kv_heads}, d_ff={e.d_ff})")
    if chiplets % (tp * pp):
        raise ConfigError(f"training.layout: tp x pp = {tp * pp} does not divide the {chiplets} chiplet(s) of expert "
                          f"{e.name!r}; allowed: tp x pp dividing {chiplets} (data parallel = chiplets / (tp x pp))")
    return Layout(tp=tp, pp=pp, dp=chiplets // (tp * pp), zero=zero)


def _micro_batches(cfg: Mapping[str, Any], layout: Layout, name: str) -> int:
    seq_len, mb, batch = cfg["seq_len"], cfg["micro_batch"], cfg["global_batch_tokens"]
    if mb * seq_len > batch:
        raise ConfigError(f"training.micro_batch: {mb} is not allowed; allowed: at most global_batch_tokens / seq_len "
                          f"= {batch // seq_len} sequence(s)")
    unit = seq_len * mb * layout.dp
    if batch % unit:
        raise ConfigError(f"training.global_batch_tokens: {batch} is not allowed; allowed: a multiple of seq_len x "
                          f"micro_batch x data parallel = {seq_len} x {mb} x {layout.dp} = {unit} (expert {name!r})")
    return batch // unit


def _router_jobs(params: Mapping[str, Any], experts: list[Expert], tokens: Mapping[str, float],
                 cfg: Mapping[str, Any], chiplets: tuple[int, ...]) -> tuple[RouterJob, ...]:
    """One job per router of the morphology; by default it sees the datasets of every expert under it."""
    routers_cfg = cfg["routers"]
    hidden = int(((params["eoe"].get("router") or {}).get("cost") or {}).get("hidden", 512))
    if not routers_cfg["train"] or hidden <= 0:
        return ()
    morph = build_morphology(params["eoe"].get("morphology"), [e.name for e in experts])
    jobs = []
    for i, node in enumerate(morph.routers):
        under = node.leaves()
        n_tokens = routers_cfg["tokens"]
        if n_tokens is None:
            n_tokens = sum(tokens[x] for x in under)
        jobs.append(RouterJob(node.name, hidden, len(node.children), float(n_tokens), chiplets[i % len(chiplets)]))
    return tuple(jobs)


def training_spec(params: Mapping[str, Any], hw: Hardware | None = None) -> TrainingSpec:
    """The resolved training of a design point (``params`` must have a ``training`` section)."""
    cfg = params["training"]
    hw = hw or build_hardware(params["hardware"])
    experts = resolve_experts(params["eoe"]["experts"])
    trained = _trained_experts(experts, cfg["experts"])
    unknown = sorted(set(cfg["dataset_tokens_per_expert"]) - {e.name for e in experts})
    if unknown:
        raise ConfigError(f"training.dataset_tokens_per_expert: {unknown} are not experts; allowed: names from "
                          f"eoe.experts {[e.name for e in experts]}")
    if cfg["chiplets"] is not None and cfg["chiplets"] > hw.n_chiplets:
        raise ConfigError(f"training.chiplets: {cfg['chiplets']} is not allowed; allowed: at most the "
                          f"{hw.n_chiplets} chiplets of hardware.package.grid")
    chiplets = training_chiplets(hw, cfg["chiplets"])
    if cfg["schedule"] == "concurrent" and len(chiplets) < len(trained):
        raise ConfigError(f"training.schedule: 'concurrent' is not allowed with {len(trained)} experts on "
                          f"{len(chiplets)} training chiplet(s); allowed: 'sequential', or at least one chiplet per "
                          "expert (training.chiplets, hardware.package.grid)")
    groups = expert_groups(chiplets, len(trained), cfg["schedule"])
    lay_cfg = cfg["layout"]
    tokens = {e.name: float(cfg["dataset_tokens_per_expert"].get(e.name, cfg["dataset_tokens"])) for e in experts}
    jobs = []
    for e, group in zip(trained, groups):
        layout = _layout(e, len(group), lay_cfg["tp"], lay_cfg["pp"], lay_cfg["zero"])
        jobs.append(ExpertJob(e, tokens[e.name], group, layout, _micro_batches(cfg, layout, e.name)))
    prec = Precision(**{k: float(v) for k, v in cfg["precision"].items()})
    hbm = params["hardware"]["memory"]["hbm"]
    regions = stack_regions(hw.grid_rows, hw.grid_cols, int(hbm.get("stacks") or 1), hbm.get("serves"))
    ckpt = cfg["checkpoint"]
    return TrainingSpec(
        jobs=tuple(jobs), routers=_router_jobs(params, experts, tokens, cfg, chiplets), chiplets=chiplets,
        precision=prec, seq_len=int(cfg["seq_len"]), global_batch_tokens=int(cfg["global_batch_tokens"]),
        micro_batch=int(cfg["micro_batch"]), epochs=float(cfg["epochs"]), recompute=bool(cfg["recompute"]),
        dropout=bool(cfg["dropout"]), schedule=cfg["schedule"], share=float(cfg["share"]),
        checkpoint_interval_steps=int(ckpt["interval_steps"]),
        ssd_write_bandwidth_bytes_per_s=float(ckpt["ssd_write_bandwidth_gb_per_s"]) * 1e9,
        checkpoint_request_kib=int(ckpt["request_size_kib"]), timeline_steps=int(cfg["timeline_steps"]),
        scalesim_max_cycles=int(cfg["scalesim_max_cycles"]), hbm_regions=tuple(regions))
