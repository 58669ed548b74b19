"""Chiplet failures and link degradations during an end-to-end stitch, and how the EoE recovers.

The study's ``failures`` section (absent = nothing fails, and the stitch is exactly the one without it)::

    failures:
      events:
        - {kind: chiplet, chiplet: 5, at_s: 2.0}                              # chiplet 5 stops at t = 2 s
        - {kind: link, src: 1, dst: 2, at_s: 3.0, bandwidth_factor: 0.25}     # link 1-2 at a quarter speed
      policy: spare                 # where a failed chiplet's work goes: spare | least_loaded
      recovery_tolerance_pct: 10    # recovered: throughput within this % of the pre-failure rate of no-failure's
      bin_s: null                   # throughput bins (figure, recovery); null = the span / 60
      window_s: null                # trailing window of the rates compared; null = 5 bins

Semantics:

- **Chiplet failure** at ``t_f``: the chiplet stops. Its replacement is chosen by ``policy``
  (eoe.mapping.failover_chiplet: the nearest free chiplet, or the least-loaded surviving one) and takes
  over all it ran: its experts (every replica/shard placed there) and, if it was the router chiplet, the
  routing. Requests arriving at or after ``t_f`` are lowered onto the new mapping. The failed chiplet's
  copy of its experts' weights is lost with it: every moved expert that is resident in HBM at ``t_f`` is
  re-loaded for the replacement by real load ops released at ``t_f`` - DDR -> HBM (``load_ddr``), or
  SSD -> DDR -> HBM when the expert is not in DDR - costed by the component models like any load; a
  shard moves ``1 / shards`` of the weights. Requests that arrived before ``t_f`` keep their ops; the
  scheduler moves every one of them that would finish on the failed chiplet after ``t_f`` to the
  replacement (not yet started: re-mapped; in flight at ``t_f``: aborted and re-executed from the start),
  after all of the failure's reloads (eoesim.stitch.scheduler). Nothing is dropped, so no request is lost;
  ``lost_requests`` counts requests with an op finishing on a chiplet after it failed, which must be 0.
  Approximations: moved ops of earlier requests keep the hop count of their input transfers (the data
  still goes towards the failed chiplet's position; its router stays up); later requests that hit a
  moved expert wait for that expert's reload; the cache's residency is not changed by a reload.
- **Link degradation** at ``t_l``: the package link between adjacent chiplets ``src`` and ``dst`` (both
  directions) runs at ``bandwidth_factor`` of its bandwidth. The network model is a pool of channels, but
  every transfer knows its endpoints, so the degradation is per link: a transfer (or all-reduce) whose
  dimension-order route (x then y, the shorter way round on a torus) crosses the link and that starts
  at or after ``t_l`` takes its serialization time (the component model's time for its bytes minus that
  of an empty message: bytes / link bandwidth) x (1 / factor - 1) longer; the per-hop latency is
  unchanged. Transfers in flight at ``t_l`` keep their speed.

Metrics (``summary["failure"]``). The point is stitched a second time without its failures (same
requests, same routing: eoesim.stitch.e2e), so the failure's effect is separated from the arrival
process's own fluctuations. Times relative to the first event ``t_f``; a request counts when it completes;
``W(t)`` = completions in the trailing window ``[max(t_0, t - window_s), t)`` per second (``t_0`` = first
arrival):

- ``throughput_before_requests_per_s``: the pre-failure rate ``R = W(t_f)``;
- ``recovery_time_s``: ``t* - t_f`` where ``t*`` is the earliest edge ``t_f + k bin_s`` (k >= 0) such
  that at every later edge the throughput with the failure is within ``recovery_tolerance_pct`` % of ``R``
  of the throughput without it: ``|W(t) - W_no_failure(t)| <= tolerance x R``. 0 = it never left that
  band; a failure that lowers capacity for good recovers only once the backlog has drained after the
  last arrival. null when nothing completed before ``t_f``;
- ``delayed_requests_max``: the most requests completed without but not yet with the failure at any time;
- ``throughput_min_requests_per_s``: the lowest ``W`` at the edges in ``[t_f, t_a]``; ``throughput_after_requests_per_s``:
  completions in ``[t_f, t_a)`` per second (``t_a`` = last arrival), and the same without the failure;
- ``latency_before`` / ``latency_after``: e2e latency and TTFT of the requests arriving before / from
  ``t_f`` (and ``no_failure_latency_after``: the same requests without the failure);
- ``lost_requests``; ``requests_in_flight_at_failure``; ``aborted_busy_s`` (chiplet time lost to
  aborted ops; energy totals count every op once); per event the replacement, ops re-mapped and
  re-executed, reload ops and when they finished, transfers slowed;
- ``throughput_over_time``: completed requests (and output tokens) per second in ``bin_s`` bins with an
  edge on ``t_f``, with and without the failure (what figure failure_throughput plots).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from eoesim.eoe.hardware import Hardware
from eoesim.eoe.mapping import ExpertMapping, failover_chiplet, move_chiplet
from eoesim.errors import ConfigError
from eoesim.stitch.components import ComponentModel
from eoesim.stitch.scheduler import Disruptions, Schedule

DEFAULTS: dict[str, Any] = {"events": [], "policy": "spare", "recovery_tolerance_pct": 10.0, "bin_s": None,
                            "window_s": None}
AUTO_BINS = 60
AUTO_WINDOW_BINS = 5


@dataclass(frozen=True)
class ChipletFailure:
    event: int  # index in failures.events
    chiplet: int
    at_s: float
    replacement: int
    moved: tuple[tuple[str, float], ...]  # (expert, bytes of its weights the failed chiplet held)
    router: bool  # the failed chiplet was the router chiplet
    mapping_after: ExpertMapping


@dataclass(frozen=True)
class LinkDegradation:
    event: int
    src: int
    dst: int
    at_s: float
    bandwidth_factor: float


@dataclass(frozen=True)
class FailurePlan:
    chiplets: tuple[ChipletFailure, ...]  # in time order
    links: tuple[LinkDegradation, ...]
    policy: str
    tolerance_pct: float
    bin_s: float | None
    window_s: float | None

    @property
    def first_s(self) -> float:
        return min([f.at_s for f in self.chiplets] + [x.at_s for x in self.links])


@dataclass(frozen=True)
class FailureRun:
    """A plan as lowered: the scheduler's disruptions and, per chiplet failure, expert -> tier reloaded from."""

    plan: FailurePlan
    disruptions: Disruptions
    reloaded_from: list[dict[str, str]]


def plan_failures(cfg: Mapping[str, Any] | None, hw: Hardware, mapping: ExpertMapping,
                  popularity: Mapping[str, float], sizes: Mapping[str, float]) -> FailurePlan | None:
    """The failure plan of a design point (None when nothing fails); ConfigError for events the package
    cannot have (a chiplet or link outside the grid, a link between non-adjacent chiplets, a chiplet
    failing twice, no chiplet left to take over)."""
    cfg = {**DEFAULTS, **(cfg or {})}
    events = list(cfg["events"] or [])
    if not events:
        return None
    n = hw.n_chiplets
    allowed = f"0..{n - 1} (the {hw.grid_rows}x{hw.grid_cols} grid of hardware.package.grid)"
    order = sorted(range(len(events)), key=lambda i: (float(events[i]["at_s"]), i))
    chiplets: list[ChipletFailure] = []
    links: list[LinkDegradation] = []
    dead: set[int] = set()
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
            to = failover_chiplet(mapping, c, cfg["policy"], hw, popularity, dead, "failures")
            held: dict[str, float] = {}  # expert -> bytes of it on chiplet c (a shard holds 1/shards)
            for e, reps in mapping.placements.items():
                for rep in reps:
                    if c in rep:
                        held[e] = max(held.get(e, 0.0), sizes[e] * rep.count(c) / len(rep))
            moved = tuple(held.items())
            router = mapping.router_chiplet == c
            mapping = move_chiplet(mapping, c, to)
            dead.add(c)
            chiplets.append(ChipletFailure(i, c, at, to, moved, router, mapping))
        else:
            a, b = int(ev["src"]), int(ev["dst"])
            if hw.hops(a, b) != 1:
                raise ConfigError(f"{where}: src {a}, dst {b} is not allowed; allowed: adjacent chiplets "
                                  f"(one hop apart on the {hw.topology})")
            links.append(LinkDegradation(i, a, b, at, float(ev.get("bandwidth_factor", 0.5))))
    for key in ("bin_s", "window_s"):
        if cfg[key] is not None and not float(cfg[key]) > 0:
            raise ConfigError(f"failures.{key}: {cfg[key]} is not allowed; allowed: a number > 0 or null")
    return FailurePlan(tuple(chiplets), tuple(links), cfg["policy"], float(cfg["recovery_tolerance_pct"]),
                       None if cfg["bin_s"] is None else float(cfg["bin_s"]),
                       None if cfg["window_s"] is None else float(cfg["window_s"]))


def route_links(hw: Hardware, a: int, b: int) -> list[frozenset[int]]:
    """The links (as chiplet pairs) of the dimension-order route a -> b: along the row first, then the
    column; on a torus the shorter way round (ties: the positive direction)."""
    (ra, ca), (rb, cb) = hw.coords(a), hw.coords(b)
    links = []

    def walk(pos: int, target: int, size: int, wrap: bool):
        fwd = (target - pos) % size if wrap else target - pos
        step = 1 if (fwd <= size - fwd if wrap else fwd > 0) else -1
        while pos != target:
            nxt = (pos + step) % size if wrap else pos + step
            yield pos, nxt
            pos = nxt

    torus = hw.topology == "torus"
    for c0, c1 in walk(ca, cb, hw.grid_cols, torus):
        links.append(frozenset((ra * hw.grid_cols + c0, ra * hw.grid_cols + c1)))
    for r0, r1 in walk(ra, rb, hw.grid_rows, torus):
        links.append(frozenset((r0 * hw.grid_cols + cb, r1 * hw.grid_cols + cb)))
    return links


def disruptions(plan: FailurePlan, hw: Hardware, n_resources: int, gates: list[list[int]],
                transfers: np.ndarray, model: ComponentModel) -> Disruptions:
    """The scheduler's view of a plan: per resource (chiplet i is resource i, as lowered) its failure time,
    replacement and reload group (``gates[k]``: the reload ops lowered for ``plan.chiplets[k]``), and the
    network ops a degraded link slows (``transfers``: rows op, source, destination, bytes; a transfer's
    serialization time is what ``model`` charges for its bytes over one hop beyond an empty message)."""
    inf = float("inf")
    fail_at, repl, gate_of = [inf] * n_resources, [-1] * n_resources, [-1] * n_resources
    for k, f in enumerate(plan.chiplets):
        fail_at[f.chiplet], repl[f.chiplet], gate_of[f.chiplet] = f.at_s, f.replacement, k
    slow: dict[int, tuple[float, list[tuple[float, float]]]] = {}
    if plan.links and transfers.size:
        degraded = {frozenset((x.src, x.dst)): x for x in plan.links}
        routes: dict[tuple[int, int], list] = {}
        for op, a, b, nbytes in transfers.tolist():
            key = (int(a), int(b))
            if key not in routes:
                routes[key] = [degraded[link] for link in route_links(hw, *key) if link in degraded]
            hit = routes[key]
            if hit:
                ser = model.network_transfer(nbytes, 1).value - model.network_transfer(0.0, 1).value
                old = slow.get(int(op))
                events = sorted({(x.at_s, x.bandwidth_factor) for x in hit} | set(old[1] if old else ()))
                slow[int(op)] = (max(ser, old[0]) if old else ser, events)
    return Disruptions(fail_at, repl, gate_of, gates, slow)


# --- metrics ---------------------------------------------------------------------------------------------
def _stats(x: np.ndarray) -> dict[str, float | None]:
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


def _link_ops(run: FailureRun, link: LinkDegradation) -> set[int]:
    return {op for op, (_, links) in run.disruptions.slow.items() if (link.at_s, link.bandwidth_factor) in links}


def failure_summary(graph, sched: Schedule, base_graph, base_sched: Schedule) -> dict[str, Any]:
    """``{"failure": {...}}`` (module docstring) of a point with failures, given the same point stitched
    without them (``base_graph``, ``base_sched``); ``{}`` for a point without failures."""
    from eoesim.stitch.summary import request_times

    run: FailureRun | None = graph.failure
    if run is None:
        return {}
    plan = run.plan
    rq = graph.requests
    first, end = request_times(graph, sched)
    base_first, base_end = request_times(base_graph, base_sched)
    arrival = rq.arrival_s
    t0, t_a, tf = float(arrival.min()), float(arrival.max()), plan.first_s
    t_end = float(max(end.max(), sched.makespan_s, base_end.max()))
    bin_s = plan.bin_s or (t_end - t0) / AUTO_BINS
    window_s = plan.window_s or AUTO_WINDOW_BINS * bin_s
    info = sched.disrupted or {"moved": [], "slowed": [], "gate_s": [], "aborted_busy_s": []}
    failed_at = np.full(len(graph.resources), np.inf)
    for f in plan.chiplets:
        failed_at[f.chiplet] = f.at_s
    late = sched.finish > failed_at[graph.res]  # an op that finished on a chiplet after it failed
    lost = set(graph.req[late & (graph.req >= 0)].tolist()) | set(np.flatnonzero(~np.isfinite(end)).tolist())
    events: list[dict[str, Any]] = []
    remapped: list[dict[str, Any]] = []
    for k, f in enumerate(plan.chiplets):
        ops = [m for m in info["moved"] if m[1] == f.chiplet]
        events.append({"event": f.event, "kind": "chiplet", "chiplet": f.chiplet, "at_s": f.at_s,
                       "replacement": f.replacement, "router_moved": f.router,
                       "ops_remapped": sum(1 for m in ops if m[3] is None),
                       "ops_reexecuted": sum(1 for m in ops if m[3] is not None),
                       "reload_ops": len(run.disruptions.gates[k]),
                       "reload_done_s": info["gate_s"][k] if info["gate_s"] else None})
        for expert, nbytes in f.moved:
            remapped.append({"expert": expert, "from_chiplet": f.chiplet, "to_chiplet": f.replacement,
                             "at_s": f.at_s, "bytes": nbytes, "reloaded_from": run.reloaded_from[k].get(expert)})
    slowed = set(info["slowed"])
    for x in plan.links:
        events.append({"event": x.event, "kind": "link", "src": x.src, "dst": x.dst, "at_s": x.at_s,
                       "bandwidth_factor": x.bandwidth_factor, "transfers_slowed": len(slowed & _link_ops(run, x))})
    events.sort(key=lambda e: e["event"])
    pre = arrival < tf
    after = t_a > tf
    edges = bin_edges(t0, t_end, tf, bin_s)
    tokens = rq.output_tokens.astype(float)
    return {"failure": {
        "events": events,
        "policy": plan.policy,
        "first_failure_s": tf,
        "remapped_experts": remapped,
        "lost_requests": len(lost),
        "requests_in_flight_at_failure": int((pre & (end > tf)).sum()),
        "aborted_busy_s": float(sum(info["aborted_busy_s"])),
        "recovery_tolerance_pct": plan.tolerance_pct,
        "bin_s": bin_s,
        "window_s": window_s,
        **recovery(end, base_end, t0, tf, t_a, t_end, bin_s, window_s, plan.tolerance_pct),
        "throughput_after_requests_per_s": float(((end >= tf) & (end < t_a)).sum() / (t_a - tf)) if after else None,
        "no_failure_throughput_after_requests_per_s": (
            float(((base_end >= tf) & (base_end < t_a)).sum() / (t_a - tf)) if after else None),
        "latency_before": _split(first, end, arrival, pre),
        "latency_after": _split(first, end, arrival, ~pre),
        "no_failure_latency_after": _split(base_first, base_end, arrival, ~pre),
        "throughput_over_time": {
            "bin_start_s": edges[:-1].tolist(),
            "requests_per_s": binned_rate(end, None, edges).tolist(),
            "tokens_per_s": binned_rate(end, tokens, edges).tolist(),
            "no_failure_requests_per_s": binned_rate(base_end, None, edges).tolist(),
        },
    }}
