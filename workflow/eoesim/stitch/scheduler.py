"""Discrete-event scheduling of an op graph on FIFO resources.

Every resource serves its ops first come, first served, without preemption; a resource with ``servers``
> 1 (the network's channel pool) serves that many at once. An op is *ready* when its request has
arrived (``release``) and all its dependencies have finished; it starts at the earliest moment a server
of its resource is free at or after its ready time, ops being served in order of ready time (ties: op
index, i.e. lowering order). An op may also hold a secondary single-server resource (``res2``, e.g. HBM
for a compute phase): it then starts when both are free, holds ``res2`` for ``dur2`` and its primary
resource until ``max(dur, dur2)``, and finishes then.

Implementation: list scheduling in ready-time order. Because an op's successors become ready no earlier
than it finishes, taking ops from one heap keyed by ready time visits them in the order their resources
must serve them; a single-server resource is then just the time it becomes free (no event queue per
resource). Ops without dependencies are fed from a list sorted by release instead of the heap.

Error propagation (when ``rel`` is given): each op's finish-time variance is the variance of whatever
decided its start - the dependency that finished last, the op it queued behind, or none when it started
at its release - plus ``(rel * dur)^2`` (or ``(rel2 * dur2)^2`` when the secondary part is longer):
independent errors across ops, accumulated along the path that determined each finish time.

Failures (``disruptions``, built by eoesim.stitch.failures): a chiplet failing at ``t_f`` serves no op
that would finish after ``t_f``. An op taken from the heap whose (would-be) finish on a failed chiplet is
after ``t_f`` moves to the chiplet's replacement: not started yet -> re-mapped; started before ``t_f``
(in flight) -> aborted at ``t_f`` (the chiplet was busy until then) and re-executed from the start. Either
way it becomes ready again at ``t_f`` or when the failure's reload ops (the moved experts' weights) have
all finished, whichever is later, and is scheduled on its new chiplet like any op. A degraded link
lengthens the network ops whose route crosses it and that start after the degradation by their
serialization time x (1 / bandwidth_factor - 1) (the slowest degraded link on the route counts).
With disruptions, ``res`` and ``dur`` are updated in place to where and how long each op finally ran.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Disruptions:
    """What fails while the schedule runs (see the module docstring); built by eoesim.stitch.failures."""

    fail_at: list[float]  # per resource: when it fails (inf = never)
    replacement: list[int]  # per resource: the resource its ops move to after it failed (-1 = none)
    gate_of: list[int]  # per resource: the reload group its moved ops wait for (-1 = none)
    gates: list[list[int]]  # per reload group: its ops (the moved experts' weight loads)
    slow: dict[int, tuple[float, list[tuple[float, float]]]] = field(default_factory=dict)
    # ^ network op -> (serialization seconds, [(degraded from, bandwidth factor), ...] of the links it crosses)


@dataclass
class Schedule:
    start: np.ndarray
    finish: np.ndarray
    lane: np.ndarray  # server index within the op's primary resource
    busy_s: np.ndarray  # per resource: total service time (dur on primaries + dur2 on secondaries)
    var: np.ndarray | None  # per op: variance of the finish time (s^2), when errors were propagated
    #: with disruptions: ``moved`` [(op, from resource, to resource, aborted at or None)], ``slowed`` [op],
    #: ``gate_s`` [time each reload group finished]
    disrupted: dict[str, Any] | None = None

    @property
    def makespan_s(self) -> float:
        return float(self.finish.max()) if self.finish.size else 0.0


def _successors(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[list[int], list[int]]:
    order = np.argsort(src, kind="stable")
    succ = dst[order]
    ptr = np.searchsorted(src[order], np.arange(n + 1))
    return ptr.tolist(), succ.tolist()


def schedule(res: np.ndarray, dur: np.ndarray, release: np.ndarray, dep_src: np.ndarray, dep_dst: np.ndarray,
             servers: list[int], rel: np.ndarray | None = None, res2: np.ndarray | None = None,
             dur2: np.ndarray | None = None, rel2: np.ndarray | None = None,
             disruptions: Disruptions | None = None) -> Schedule:
    n = int(res.shape[0])
    nres = len(servers)
    if dep_src.size and (dep_src >= dep_dst).any():
        raise ValueError("op graph: a dependency points forward or to itself; lowering must emit a DAG in order")
    if res2 is None:
        res2 = np.full(n, -1, dtype=np.int64)
        dur2 = np.zeros(n)
    assert dur2 is not None
    if ((res2 >= 0) & (np.asarray(servers)[np.maximum(res2, 0)] > 1)).any():
        raise ValueError("op graph: a secondary resource must have one server")
    ptr, succ = _successors(n, dep_src, dep_dst)
    indeg = np.bincount(dep_dst, minlength=n).tolist()
    res_l, dur_l, res2_l, dur2_l = res.tolist(), dur.tolist(), res2.tolist(), dur2.tolist()
    ready = release.astype(float).tolist()
    start = [0.0] * n
    finish = [0.0] * n
    lane = [0] * n
    free = [0.0] * nres
    pools = {r: [(0.0, s, -1) for s in range(k)] for r, k in enumerate(servers) if k > 1}
    pool_of = [pools.get(r) for r in range(nres)]
    track = rel is not None
    if track:
        rel_l = rel.tolist()
        rel2_l = (rel2 if rel2 is not None else np.zeros(n)).tolist()
        var = [0.0] * n
        why = [-1] * n  # dependency that set the ready time
        last = [-1] * nres  # last op served on each single-server resource
    never = float("inf")
    fail_at = disruptions.fail_at if disruptions is not None else [never] * nres
    if disruptions is not None:
        slow = disruptions.slow
        gate_left = [len(g) for g in disruptions.gates]
        gate_of_op = {op: k for k, g in enumerate(disruptions.gates) for op in g}
        gate_s = [never if left else 0.0 for left in gate_left]
        waiting: list[list[int]] = [[] for _ in disruptions.gates]
        moved: list[tuple[int, int, int, float | None]] = []
        slowed: list[int] = []
        aborted_busy = [0.0] * nres
    roots = np.flatnonzero(np.bincount(dep_dst, minlength=n) == 0)
    roots = roots[np.argsort(release[roots], kind="stable")].tolist()
    root_t = [ready[i] for i in roots]
    nroots, ri = len(roots), 0
    heap: list[tuple[float, int]] = []
    pop, push = heapq.heappop, heapq.heappush
    while True:
        if heap:
            if ri < nroots and (root_t[ri], roots[ri]) < heap[0]:
                t, i = root_t[ri], roots[ri]
                ri += 1
            else:
                t, i = pop(heap)
        elif ri < nroots:
            t, i = root_t[ri], roots[ri]
            ri += 1
        else:
            break
        r = res_l[i]
        d = dur_l[i]
        r2 = res2_l[i]
        pool = pool_of[r]
        if pool is None:
            s = free[r]
            prev = last[r] if track else -1
            if r2 >= 0:
                f2 = free[r2]
                if f2 > s:
                    s = f2
                    if track:
                        prev = last[r2]
                d2 = dur2_l[i]
                if d2 > d:
                    d = d2
            if t >= s:
                s = t
                prev = why[i] if track else -1
            e = s + d
            if e > fail_at[r]:  # the chiplet fails before this op would finish: move it
                tf = fail_at[r]
                if s < tf:  # in flight: the work until the failure is lost
                    aborted_busy[r] += tf - s
                    if r2 >= 0:
                        free[r2] = s + dur2_l[i]
                    moved.append((i, r, disruptions.replacement[r], tf))
                else:
                    moved.append((i, r, disruptions.replacement[r], None))
                res_l[i] = disruptions.replacement[r]
                if ready[i] < tf:
                    ready[i] = tf
                k = disruptions.gate_of[r]
                if gate_s[k] == never:
                    waiting[k].append(i)
                else:
                    if gate_s[k] > ready[i]:
                        ready[i] = gate_s[k]
                    push(heap, (ready[i], i))
                continue
            if r2 >= 0:
                free[r2] = s + dur2_l[i]
            free[r] = e
            if track:
                last[r] = i
                if r2 >= 0:
                    last[r2] = i
        else:
            f, srv, prev_op = pop(pool)
            s = t if t >= f else f
            if disruptions is not None and i in slow:
                ser, links = slow[i]
                factor = min((b for a, b in links if a <= s), default=1.0)
                if factor < 1.0:
                    d += ser * (1.0 / factor - 1.0)
                    dur_l[i] = d
                    slowed.append(i)
            e = s + d
            push(pool, (e, srv, i))
            lane[i] = srv
            prev = (prev_op if s > t else why[i]) if track else -1
        start[i] = s
        finish[i] = e
        if track:
            x = rel_l[i] * dur_l[i]
            if r2 >= 0 and dur2_l[i] > dur_l[i]:
                x = rel2_l[i] * dur2_l[i]
            var[i] = (var[prev] if prev >= 0 else 0.0) + x * x
        for k in range(ptr[i], ptr[i + 1]):
            j = succ[k]
            if e > ready[j]:
                ready[j] = e
                if track:
                    why[j] = i
            indeg[j] -= 1
            if indeg[j] == 0:
                push(heap, (ready[j], j))
        if disruptions is not None and i in gate_of_op:  # a reload finished; its group may release moved ops
            k = gate_of_op[i]
            gate_left[k] -= 1
            if not gate_left[k]:
                gate_s[k] = max(finish[g] for g in disruptions.gates[k])
                for j in waiting[k]:
                    if gate_s[k] > ready[j]:
                        ready[j] = gate_s[k]
                    push(heap, (ready[j], j))
                waiting[k] = []
    if any(indeg) or (disruptions is not None and any(waiting)):
        raise ValueError("op graph: some ops never became ready (a dependency cycle)")
    disrupted = None
    if disruptions is not None:
        res[:] = res_l
        dur[:] = dur_l
        disrupted = {"moved": moved, "slowed": slowed, "gate_s": gate_s, "aborted_busy_s": aborted_busy}
    busy = np.bincount(res, weights=dur, minlength=nres) if n else np.zeros(nres)
    has2 = res2 >= 0
    if has2.any():
        busy = busy + np.bincount(res2[has2], weights=dur2[has2], minlength=nres)
    if disruptions is not None:
        busy = busy + np.array(aborted_busy)
    return Schedule(start=np.array(start), finish=np.array(finish), lane=np.array(lane, dtype=np.int64),
                    busy_s=busy, var=np.array(var) if track else None, disrupted=disrupted)
