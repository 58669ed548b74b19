"""Chiplet failures and link degradations while a design point is served, and how the EoE recovers.

The study's ``failures`` section (absent = nothing fails)::

    failures:
      events:
        - {kind: chiplet, chiplet: 5, at_s: 2.0}                              # chiplet 5 stops at t = 2 s
        - {kind: link, src: 1, dst: 2, at_s: 3.0, bandwidth_factor: 0.25}     # link 1-2 at a quarter speed
      policy: spare                 # where a failed chiplet's work goes: spare | least_loaded
      recovery_tolerance_pct: 10    # recovered: throughput within this % of the pre-failure rate of no-failure's
      bin_s: null                   # throughput bins (figure, recovery); null = the span / 60
      window_s: null                # trailing window of the rates compared; null = 5 bins

Semantics:

- **Chiplet failure** at ``t_f``: the chiplet stops; the iteration its instance was running is lost (it is
  re-executed; the chiplet time spent on it counts as ``aborted_busy_s``) - a step of several decode
  iterations keeps those complete by ``t_f``, as iteration by iteration they would be. The
  replacement is chosen by ``policy`` (eoe.mapping.failover_chiplet: the nearest free chiplet, or the
  least-loaded one in use). ``spare``: the instance continues on its chiplets with the failed one replaced;
  ``least_loaded``: its models move onto the instance that holds the replacement chiplet (co-location).
  Weights and KV caches live in the HBM stacks, not on the chiplet: a model whose new instance reads the
  same stacks, as many shards on each, keeps both; otherwise its weights are loaded into the new stacks
  (DDR -> HBM, SSD first when not in DDR) and its sequences' KV is dropped and recomputed (prefill of
  prompt + generated tokens).
  Routing moves to the replacement when the router chiplet fails. Nothing is dropped, so no request is
  lost (``lost_requests`` counts requests that did not complete, which must be 0). Under the static cache
  policy the hot set of a stack that gains an expert gives way, least popular first, until each group a
  request runs there fits beside it (Engine.replan_static). At planning, the stacks
  the moved experts will read must hold what a request runs there at once (the engine's capacity check, on
  the instances as each failure leaves them): a co-location that puts more experts of one request on a
  stack than it holds is a ConfigError naming the event, rather than requests waiting for each other mid-run.
- **Link degradation** at ``t_l``: both directions of the package link between adjacent chiplets ``src``
  and ``dst`` run at ``bandwidth_factor`` of their capacity; transfers crossing it are re-shared at once
  (the fluid model re-times them).

Metrics (``summary["failure"]``). The point is served a second time without its failures (same requests,
same routing), so the failure's effect is separated from the arrival process's own fluctuations. Times
relative to the first event ``t_f``; ``W(t)`` = completions in the trailing window ``[max(t_0, t -
window_s), t)`` per second (``t_0`` = first arrival):

- ``throughput_before_requests_per_s``: ``R = W(t_f)``; ``recovery_time_s``: ``t* - t_f``, ``t*`` the earliest
  edge ``t_f + k bin_s`` such that at every later edge ``|W(t) - W_no_failure(t)| <= tolerance x R`` (0 = it
  never left that band; null when nothing completed before ``t_f``);
- ``delayed_requests_max``, ``throughput_min_requests_per_s``, ``throughput_after_requests_per_s`` (and
  without the failure), ``latency_before`` / ``latency_after`` / ``no_failure_latency_after``;
- ``lost_requests``, ``requests_in_flight_at_failure``, ``aborted_busy_s``; per event the replacement, the
  sequences moved and recomputed, the weight reloads; ``throughput_over_time`` (figure failure_throughput).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from eoesim.eoe.mapping import failover_chiplet, move_chiplet
from eoesim.errors import ConfigError
from eoesim.serving.batching import ModelState
from eoesim.serving.instance import Instance
from eoesim.serving.memory import gib_at_least
from eoesim.serving.sequences import RUNNING, SWAPPED

DEFAULTS: dict[str, Any] = {"events": [], "policy": "spare", "recovery_tolerance_pct": 10.0, "bin_s": None,
                            "window_s": None}
AUTO_BINS = 60
AUTO_WINDOW_BINS = 5


@dataclass
class FailurePlan:
    chiplets: list[dict[str, Any]]  # {event, chiplet, at_s, replacement}, in time order
    links: list[dict[str, Any]]  # {event, src, dst, at_s, bandwidth_factor}
    policy: str
    tolerance_pct: float
    bin_s: float | None
    window_s: float | None
    log: list[dict[str, Any]] = field(default_factory=list)  # what happened at each event
    aborted_busy_s: float = 0.0

    @property
    def first_s(self) -> float:
        return min([f["at_s"] for f in self.chiplets] + [x["at_s"] for x in self.links])

    def schedule(self, engine) -> None:
        for f in self.chiplets:
            engine.at(f["at_s"], fail_chiplet, engine, f)
        for x in self.links:
            engine.at(x["at_s"], degrade_link, engine, x)


def attach_failures(engine, cfg: Mapping[str, Any] | None) -> None:
    """Plan the point's failures on ``engine`` (ConfigError for events the package cannot have: a chiplet or
    link outside the grid, a link between non-adjacent chiplets, a chiplet failing twice, no chiplet to take
    over)."""
    cfg = {**DEFAULTS, **(cfg or {})}
    events = list(cfg["events"] or [])
    if not events:
        return
    hw, mapping = engine.hw, engine.mapping
    n = hw.n_chiplets
    allowed = f"0..{n - 1} (the {hw.grid_rows}x{hw.grid_cols} grid of hardware.package.grid)"
    order = sorted(range(len(events)), key=lambda i: (float(events[i]["at_s"]), i))
    chiplets, links, dead = [], [], set()
    for i in order:
        ev = events[i]
        where = f"failures.events[{i}]"
        for key in ("chiplet",) if ev["kind"] == "chiplet" else ("src", "dst"):
            if key not in ev:
                raise ConfigError(f"{where}.{key}: missing for kind {ev['kind']}; allowed: a chiplet id {allowed}")
            if not 0 <= int(ev[key]) < n:
                raise ConfigError(f"{where}.{key}: {ev[key]} is not allowed; allowed: {allowed}")
        at = float(ev["at_s"])
        if ev["kind"] == "chiplet":
            c = int(ev["chiplet"])
            if c in dead:
                raise ConfigError(f"{where}.chiplet: {c} is not allowed; it already failed; allowed: each chiplet "
                                  "fails at most once")
            to = failover_chiplet(mapping, c, cfg["policy"], hw, engine.popularity, dead, "failures")
            mapping = move_chiplet(mapping, c, to)
            dead.add(c)
            chiplets.append({"event": i, "chiplet": c, "at_s": at, "replacement": to})
        else:
            a, b = int(ev["src"]), int(ev["dst"])
            if hw.hops(a, b) != 1:
                raise ConfigError(f"{where}: src {a}, dst {b} is not allowed; allowed: adjacent chiplets "
                                  f"(one hop apart on the {hw.topology})")
            links.append({"event": i, "src": a, "dst": b, "at_s": at,
                          "bandwidth_factor": float(ev.get("bandwidth_factor", 0.5))})
    _check_capacity_after(engine, chiplets, cfg["policy"])
    for key in ("bin_s", "window_s"):
        if cfg[key] is not None and not float(cfg[key]) > 0:
            raise ConfigError(f"failures.{key}: {cfg[key]} is not allowed; allowed: a number > 0 or null")
    engine.failures = FailurePlan(chiplets, links, cfg["policy"], float(cfg["recovery_tolerance_pct"]),
                                  None if cfg["bin_s"] is None else float(cfg["bin_s"]),
                                  None if cfg["window_s"] is None else float(cfg["window_s"]))


def _check_capacity_after(engine, chiplets: list[dict[str, Any]], policy: str) -> None:
    """After each chiplet failure, the stacks the moved experts read must still hold what a request runs there
    at once (eoesim.serving.engine: the capacity check), else the requests needing them would wait for each
    other for ever; checked here, at planning, on the instances as the failures will leave them."""
    pk = engine.package
    live = []
    for inst in engine.instances:
        copy = Instance(inst.iid, inst.chips, pk.stack_of, inst.role)
        copy.models = dict(inst.models)
        live.append(copy)
    replicas = {name: [live[i.iid] for i in insts] for name, insts in engine.replicas.items()}
    for f in chiplets:
        c, to = f["chiplet"], f["replacement"]
        for inst in [i for i in live if c in i.chips]:
            target = _holder(live, inst, to)
            if target is None:
                target = Instance(len(live), _spare_chips(inst, c, to), pk.stack_of, inst.role)
                live.append(target)
            for name in inst.models:
                if name not in target.models:
                    target.models[name] = ModelState(name, engine.costs_for(engine.experts[name], target.shards))
                replicas[name] = [target if i is inst else i for i in replicas[name]]
            live.remove(inst)
        short = engine.capacity_shortfalls(engine.hbm_needs(replicas))
        if short:
            s, (need, here, weights) = min(short.items())
            mem = engine.stacks[s]
            raise ConfigError(
                f"failures.events[{f['event']}]: chiplet {c} failing is not allowed with failures.policy {policy!r} "
                f"and {mem.capacity / 2**30:.4g} GiB per HBM stack: its experts move to chiplet {to}, and "
                f"{engine.capacity_need(s, here, weights)}, {need / 2**30:.4g} GiB; allowed: "
                f"{'' if policy == 'spare' else 'failures.policy spare, '}another chiplet, or "
                f"hardware.memory.hbm.capacity_gib >= {gib_at_least(need)}")


# --- what happens ------------------------------------------------------------------------------------------
def fail_chiplet(engine, f: dict[str, Any]) -> None:
    c, to = f["chiplet"], f["replacement"]
    entry = {"event": f["event"], "kind": "chiplet", "chiplet": c, "at_s": f["at_s"], "replacement": to,
             "router_moved": engine.router_chiplet == c, "sequences_moved": 0, "sequences_recomputed": 0,
             "steps_aborted": 0, "reloads": []}
    if engine.router_chiplet == c:
        engine.router_chiplet = to
    moved = []
    for inst in [i for i in engine.instances if i.alive and c in i.chips]:
        target = _target_instance(engine, inst, c, to)
        if inst.step is not None:
            entry["steps_aborted"] += 1
            engine.failures.aborted_busy_s += engine.fail_step(inst)
        inst.alive = False
        engine.redirect[inst.iid] = target
        for name, m in inst.models.items():
            _move_model(engine, inst, target, name, m, entry)
            moved.append((inst, target, name))
    # every model has moved before the static hot sets are re-planned, once, and before any moved expert's load
    # starts: a load started earlier could wait beside experts the re-plan unpins after it tried for room
    for s in engine.replan_static({st for _, new, _ in moved for st in new.stacks}):
        engine.retry_loads(s)
    for old, new, name in moved:
        _reload(engine, old, new, name, entry)
    engine.failures.log.append(entry)


def _target_instance(engine, inst: Instance, c: int, to: int) -> Instance:
    """Where a failed chiplet's instance goes: its chiplets with ``c`` replaced (a spare), or the instance
    already holding ``to`` (co-location; one of another disaggregation role then runs both prefills and
    decodes, as chiplets shared by both roles do from the start - else the moved work of the other role, say
    sequences decoding, never ran there)."""
    holder = _holder(engine.instances, inst, to)
    if holder is not None:
        if holder.role != inst.role:
            holder.role = "both"
        return holder
    new = Instance(len(engine.instances), _spare_chips(inst, c, to), engine.package.stack_of, inst.role)
    engine.instances.append(new)
    for st in set(new.stacks):
        engine.stack_users[st].append(new)
    engine.chiplets_used = sorted(set(engine.chiplets_used) | {to})
    return new


def _holder(instances, inst: Instance, to: int) -> Instance | None:
    """The live instance other than ``inst`` that holds chiplet ``to`` (``inst`` co-locates onto it), or None."""
    return next((i for i in instances if i.alive and to in i.chips and i is not inst), None)


def _spare_chips(inst: Instance, c: int, to: int) -> tuple[int, ...]:
    """``inst``'s chiplets with the failed ``c`` replaced by the spare ``to``."""
    return tuple(to if x == c else x for x in inst.chips)


def _move_model(engine, old: Instance, new: Instance, name: str, m: ModelState, entry: dict[str, Any]) -> None:
    engine.model_on(new, name)
    engine.replicas[name] = [new if i is old else i for i in engine.replicas.get(name, [])] or [new]
    same_stacks = new.keeps_kv_of(old)
    seqs = list(m.running) + list(m.waiting) + list(m.swapped)
    m.running.clear()
    m.waiting.clear()
    m.swapped.clear()
    if m.static_batch is not None:
        m.static_batch = None
    for s in seqs:
        entry["sequences_moved"] += 1
        if not same_stacks or s.state == SWAPPED:
            if s.state == RUNNING:
                entry["sequences_recomputed"] += 1
            engine.rehome(s, new, keep_kv=False)
        else:
            engine.rehome(s, new, keep_kv=True)
    nm = new.models[name]
    kept = [s for s in nm.running if s in seqs]
    if kept and engine.cfg["scheduler"] == "static":  # a static batch goes on with its KV on the new instance
        nm.static_batch = (nm.static_batch or []) + kept
        nm.static_pad_prompt = max([nm.static_pad_prompt] + [s.prompt_total for s in kept])


def _reload(engine, old: Instance, new: Instance, name: str, entry: dict[str, Any]) -> None:
    """Load a moved model's expert into the stacks its new instance reads, then wake that instance."""
    for st in set(new.stacks) - set(old.stacks):
        if not engine.stacks[st].is_resident(name):
            entry["reloads"].append({"expert": name, "stack": st,
                                     "from": "ddr" if engine.ddr.has(name) else "ssd"})
    engine.ensure_resident(name, new, lambda: engine.wake(new))


def degrade_link(engine, x: dict[str, Any]) -> None:
    pk = engine.package
    for a, b in ((x["src"], x["dst"]), (x["dst"], x["src"])):
        d = pk.link[(a, b)]
        engine.fluid.set_capacity(d, engine.fluid.capacity[d] * x["bandwidth_factor"], engine.now)
    engine.failures.log.append({"event": x["event"], "kind": "link", "src": x["src"], "dst": x["dst"],
                                "at_s": x["at_s"], "bandwidth_factor": x["bandwidth_factor"]})


# --- metrics -------------------------------------------------------------------------------------------------
def _stats(x: np.ndarray) -> dict[str, float | None]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"mean": None, "p50": None, "p99": None}
    return {"mean": float(x.mean()), "p50": float(np.percentile(x, 50)), "p99": float(np.percentile(x, 99))}


def bin_edges(t0: float, t_end: float, anchor: float, bin_s: float) -> np.ndarray:
    """Edges ``anchor + k bin_s`` from the last one <= ``t0`` to the first one > ``t_end``."""
    k0 = math.floor((t0 - anchor) / bin_s)
    k1 = math.floor((t_end - anchor) / bin_s) + 1
    return anchor + bin_s * np.arange(k0, k1 + 1)


def binned_rate(done: np.ndarray, weights: np.ndarray | None, edges: np.ndarray) -> np.ndarray:
    """Completions (or their ``weights``) per second in each bin ``[edges[k], edges[k+1])``."""
    idx = np.searchsorted(edges, done, side="right") - 1
    n = len(edges) - 1
    ok = (idx >= 0) & (idx < n)
    return np.bincount(idx[ok], weights=None if weights is None else weights[ok], minlength=n) / np.diff(edges)


def windowed_rate(done_sorted: np.ndarray, at: np.ndarray, window_s: float, t0: float) -> np.ndarray:
    """Completions per second in the trailing window ``[max(t0, t - window_s), t)`` at each time ``t``."""
    lo = np.maximum(at - window_s, t0)
    n = np.searchsorted(done_sorted, at) - np.searchsorted(done_sorted, lo)
    return np.where(at > lo, n / np.maximum(at - lo, 1e-300), np.nan)


def recovery(done: np.ndarray, base_done: np.ndarray, t0: float, tf: float, t_a: float, t_end: float,
             bin_s: float, window_s: float, tolerance_pct: float) -> dict[str, Any]:
    """Pre-failure rate and recovery time (module docstring) from the completion times with (``done``)
    and without (``base_done``) the failures."""
    done, base_done = np.sort(done), np.sort(base_done)
    before = windowed_rate(done, np.array([tf]), window_s, t0)[0]
    edges = tf + bin_s * np.arange(0, math.floor((t_end + window_s - tf) / bin_s) + 2)
    rate, base = windowed_rate(done, edges, window_s, t0), windowed_rate(base_done, edges, window_s, t0)
    lag = np.arange(1, base_done.size + 1) - np.searchsorted(done, base_done, side="right")
    after = rate[(edges <= t_a) & np.isfinite(rate)]
    out: dict[str, Any] = {"throughput_before_requests_per_s": None if np.isnan(before) else float(before),
                           "recovery_time_s": None,
                           "throughput_min_requests_per_s": float(after.min()) if after.size else None,
                           "delayed_requests_max": int(max(0, lag.max(initial=0)))}
    if np.isnan(before) or before <= 0:
        return out
    outside = np.flatnonzero(np.abs(rate - base) > tolerance_pct / 100 * before)
    out["recovery_time_s"] = float(edges[outside[-1] + 1] - tf) if outside.size else 0.0
    return out


def _split(first: np.ndarray, end: np.ndarray, arrival: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    return {"requests": int(mask.sum()), "e2e_latency_s": _stats(end[mask] - arrival[mask]),
            "ttft_s": _stats(first[mask] - arrival[mask])}


def failure_summary(engine, base) -> dict[str, Any]:
    """``{"failure": {...}}`` (module docstring) of a point with failures, given the same point served
    without them (``base``, an engine that ran)."""
    plan: FailurePlan | None = engine.failures
    if plan is None:
        return {}
    rq = engine.requests
    first, end = engine.rec.first, engine.rec.done
    base_first, base_end = base.rec.first, base.rec.done
    arrival = rq.arrival_s
    t0, t_a, tf = float(arrival.min()), float(arrival.max()), plan.first_s
    t_end = float(np.nanmax(np.r_[end, base_end]))
    bin_s = plan.bin_s or (t_end - t0) / AUTO_BINS
    window_s = plan.window_s or AUTO_WINDOW_BINS * bin_s
    lost = int(np.isnan(end).sum())
    pre = arrival < tf
    after = t_a > tf
    edges = bin_edges(t0, t_end, tf, bin_s)
    tokens = rq.output_tokens.astype(float)
    done = np.where(np.isnan(end), np.inf, end)
    return {"failure": {
        "events": sorted(plan.log, key=lambda e: e["event"]),
        "policy": plan.policy,
        "first_failure_s": tf,
        "lost_requests": lost,
        "requests_in_flight_at_failure": int((pre & (done > tf)).sum()),
        "aborted_busy_s": plan.aborted_busy_s,
        "recovery_tolerance_pct": plan.tolerance_pct,
        "bin_s": bin_s,
        "window_s": window_s,
        **recovery(done[np.isfinite(done)], base_end, t0, tf, t_a, t_end, bin_s, window_s, plan.tolerance_pct),
        "throughput_after_requests_per_s": float(((done >= tf) & (done < t_a)).sum() / (t_a - tf)) if after else None,
        "no_failure_throughput_after_requests_per_s": (
            float(((base_end >= tf) & (base_end < t_a)).sum() / (t_a - tf)) if after else None),
        "latency_before": _split(first, done, arrival, pre),
        "latency_after": _split(first, done, arrival, ~pre),
        "no_failure_latency_after": _split(base_first, base_end, arrival, ~pre),
        "throughput_over_time": {
            "bin_start_s": edges[:-1].tolist(),
            "requests_per_s": binned_rate(done, None, edges).tolist(),
            "tokens_per_s": binned_rate(done, tokens, edges).tolist(),
            "no_failure_requests_per_s": binned_rate(base_end, None, edges).tolist(),
        },
    }}

