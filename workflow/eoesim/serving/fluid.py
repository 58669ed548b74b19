"""Bandwidth shared by concurrent transfers: a fluid (processor-sharing) model of devices and flows.

A *device* (an HBM stack, the DDR channels, the SSD, one direction of a package link) has a capacity in
bytes per second. A *flow* moves ``nbytes`` across an ordered set of devices (its path) and may carry a
demand cap (bytes per second it cannot exceed, e.g. an iteration that streams ``B`` bytes while it
computes for ``C`` seconds never needs more than ``B / C``). Rates are max-min fair: progressive filling
raises every unfrozen flow's rate together until a flow reaches its cap or a device on its path is full
(the flows crossing a full device are frozen there). Rates are
recomputed whenever a flow starts or ends, over the flows that share a device with it (flows elsewhere keep
their rates), and every flow's remaining bytes are advanced to that moment first, so a flow's duration is
exact for piecewise-constant sharing. A flow whose devices stay below capacity with it admitted changes
nobody's rate: that common case costs no recomputation.

Completion is reported through the ``schedule`` callback the owner gives (time, flow): the owner keeps
the event queue; a flow re-timed by a rate change is scheduled again and its ``version`` tells stale
events apart.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

INF = math.inf
EPS_BYTES = 1e-6  # bytes: a flow with less left is done
EPS_RATE = 1e-9  # relative tolerance of "device full" / "flow at cap"


class Flow:
    __slots__ = ("fid", "path", "cap", "remaining", "rate", "t_upd", "version", "owner", "done", "nbytes",
                 "t_start")

    def __init__(self, fid: int, path: tuple[int, ...], nbytes: float, cap: float, now: float, owner: Any):
        self.fid = fid
        self.path = path
        self.cap = cap
        self.nbytes = nbytes
        self.remaining = nbytes
        self.rate = 0.0
        self.t_upd = now
        self.t_start = now
        self.version = 0
        self.owner = owner
        self.done = False

    def __hash__(self) -> int:
        """By id number, not address: the sets of flows iterate alike in every run (identical summaries)."""
        return self.fid

    def advance(self, now: float) -> None:
        if now > self.t_upd:
            if self.remaining == INF:
                self.t_upd = now
                return
            self.remaining -= self.rate * (now - self.t_upd)
            if self.remaining < 0.0:
                self.remaining = 0.0
            self.t_upd = now

    def finish_time(self) -> float:
        if self.remaining <= EPS_BYTES:
            return self.t_upd
        return self.t_upd + self.remaining / self.rate if self.rate > 0 else INF


class Fluid:
    """Devices and the flows crossing them (see the module docstring).

    ``schedule(t, flow)`` is called whenever a flow's (new) completion time is known; the owner calls
    ``complete(flow, now)`` when that event fires with a matching ``flow.version``.
    """

    def __init__(self, capacities: Sequence[float], schedule: Callable[[float, Flow], None]):
        self.capacity = [float(c) for c in capacities]
        self.flows_on: list[set[Flow]] = [set() for _ in capacities]
        self.cap_sum = [0.0] * len(capacities)  # sum of the caps of the flows on each device (inf if uncapped)
        self.load = [0.0] * len(capacities)  # sum of current rates on each device
        self.bytes_moved = [0.0] * len(capacities)  # bytes of finished or progressed flows, per device
        self.busy_integral = [0.0] * len(capacities)  # integral of load dt (byte), for utilization
        self._t_load = [0.0] * len(capacities)
        self.schedule = schedule
        self._next_id = 0

    # --- bookkeeping -------------------------------------------------------------------------------
    def _account(self, dev: int, now: float) -> None:
        dt = now - self._t_load[dev]
        if dt > 0:
            self.busy_integral[dev] += self.load[dev] * dt
            self._t_load[dev] = now

    def utilization(self, dev: int) -> float:
        """Current load / capacity of a device (0 when it has no capacity)."""
        cap = self.capacity[dev]
        return self.load[dev] / cap if cap > 0 else 0.0

    def set_capacity(self, dev: int, capacity: float, now: float) -> None:
        """Change a device's capacity (e.g. a degraded link) and re-share its flows."""
        self.capacity[dev] = float(capacity)
        flows = set(self.flows_on[dev])
        if flows:
            self._reshare(flows, now)

    # --- flows ---------------------------------------------------------------------------------------
    def start(self, now: float, nbytes: float, path: tuple[int, ...], cap: float = INF, owner: Any = None) -> Flow:
        """A new flow of ``nbytes`` over ``path``; its completion is scheduled through ``schedule``."""
        flow = Flow(self._next_id, path, float(nbytes), float(cap), now, owner)
        self._next_id += 1
        if flow.remaining <= EPS_BYTES or not path:
            flow.remaining = 0.0
            flow.version += 1
            self.schedule(now, flow)
            return flow
        fast = cap < INF
        for d in path:
            if fast and self.cap_sum[d] + cap > self.capacity[d] * (1 + EPS_RATE):
                fast = False
        for d in path:
            self.flows_on[d].add(flow)
            self.cap_sum[d] += cap
        if fast:  # every device stays below capacity: the flow runs at its cap, nobody else changes
            flow.rate = cap
            for d in path:
                self._account(d, now)
                self.load[d] += cap
            flow.version += 1
            self.schedule(flow.finish_time(), flow)
            return flow
        self._reshare(self._neighbours(path), now)
        return flow

    def complete(self, flow: Flow, now: float) -> None:
        """Remove a finished flow (its event fired) and re-share what it leaves."""
        flow.advance(now)
        self._remove(flow, now)

    def cancel(self, flow: Flow, now: float) -> float:
        """Stop a flow before it finishes (e.g. its chiplet failed); returns the bytes it had left."""
        if flow.done:
            return 0.0
        flow.advance(now)
        left = flow.remaining
        self._remove(flow, now)
        return left

    def truncate(self, flow: Flow, now: float, remaining: float) -> None:
        """Shorten a running flow so that ``remaining`` bytes are left from ``now``."""
        flow.advance(now)
        moved = flow.nbytes - flow.remaining
        flow.remaining = min(flow.remaining, max(0.0, remaining))
        flow.nbytes = moved + flow.remaining
        flow.version += 1
        self.schedule(flow.finish_time(), flow)

    def _remove(self, flow: Flow, now: float) -> None:
        flow.done = True
        flow.version += 1
        moved = flow.nbytes - flow.remaining
        saturated = False
        for d in flow.path:
            self._account(d, now)
            if not self.cap_sum[d] <= self.capacity[d] * (1 + EPS_RATE):  # others were held back (or inf/nan)
                saturated = True
            self.flows_on[d].discard(flow)
            if self.flows_on[d]:
                self.cap_sum[d] = (sum(f.cap for f in self.flows_on[d]) if flow.cap == INF
                                   else self.cap_sum[d] - flow.cap)
                self.load[d] = max(0.0, self.load[d] - flow.rate)
            else:
                self.cap_sum[d] = 0.0
                self.load[d] = 0.0
            self.bytes_moved[d] += moved
        flow.rate = 0.0
        if saturated:
            self._reshare(self._neighbours(flow.path), now)

    def _neighbours(self, path: tuple[int, ...]) -> set[Flow]:
        out: set[Flow] = set()
        for d in path:
            out |= self.flows_on[d]
        return out

    def _reshare(self, flows: set[Flow], now: float) -> None:
        """Max-min fair rates (progressive filling) for ``flows``; flows not in the set keep their rates and
        take their share of each device first."""
        if not flows:
            return
        first = next(iter(flows)).path
        if len(first) == 1 and all(f.path == first for f in flows):
            self._reshare_one(first[0], flows, now)
            return
        devs: set[int] = set()
        for f in flows:
            f.advance(now)
            devs.update(f.path)
        rem = {}
        for d in devs:
            self._account(d, now)
            other = sum(f.rate for f in self.flows_on[d] if f not in flows)
            rem[d] = max(0.0, self.capacity[d] - other)
        members = list(flows)
        rates = max_min_rates([f.path for f in members], [f.cap for f in members], rem, self.capacity)
        rate = dict(zip(members, rates))
        for d in devs:
            self.load[d] = sum(f.rate for f in self.flows_on[d] if f not in flows)
        for f in flows:
            old = f.rate
            f.rate = rate[f]
            for d in f.path:
                self.load[d] += f.rate
            if f.rate != old or f.version == 0:
                f.version += 1
                self.schedule(f.finish_time(), f)

    def _reshare_one(self, d: int, flows: set[Flow], now: float) -> None:
        """Water-filling on one device whose flows cross only it (the common case of a stack's iterations)."""
        self._account(d, now)
        other = sum(f.rate for f in self.flows_on[d] if f not in flows)
        left = max(0.0, self.capacity[d] - other)
        ordered = sorted(flows, key=lambda f: (f.cap, f.fid))
        n = len(ordered)
        load = other
        for f in ordered:
            f.advance(now)
            rate = min(f.cap, left / n)
            n -= 1
            left -= rate
            load += rate
            if rate != f.rate or f.version == 0:
                f.rate = rate
                f.version += 1
                self.schedule(f.finish_time(), f)
        self.load[d] = load


def max_min_rates(paths: Sequence[tuple[int, ...]], caps: Sequence[float], room: dict[int, float],
                  capacity: Sequence[float]) -> list[float]:
    """Max-min fair rates by progressive filling: every unfrozen flow's rate rises together until it reaches
    its cap or a device on its path has no ``room`` left (bytes per second, by device; consumed here)."""
    rate = [0.0] * len(paths)
    active = list(range(len(paths)))
    while active:
        count = dict.fromkeys(room, 0)  # active flows on each device
        for i in active:
            for d in paths[i]:
                count[d] += 1
        inc = INF
        for d, n in count.items():
            if n:
                inc = min(inc, room[d] / n)
        for i in active:
            inc = min(inc, caps[i] - rate[i])
        if inc == INF:
            raise ValueError("fluid: a flow has neither a cap nor a device with finite capacity")
        inc = max(inc, 0.0)
        for i in active:
            rate[i] += inc
            for d in paths[i]:
                room[d] -= inc
        full = {d for d, n in count.items() if n and room[d] <= EPS_RATE * max(capacity[d], 1.0)}
        frozen = {i for i in active if rate[i] >= caps[i] * (1 - EPS_RATE) or any(d in full for d in paths[i])}
        if not frozen:  # numerical safety: freeze the most constrained flow
            frozen = {min(active, key=lambda i: caps[i] - rate[i])}
        active = [i for i in active if i not in frozen]
    return rate


def together_s(flows: Sequence[tuple[tuple[int, ...], float, float]], capacity: Sequence[float]) -> float:
    """Seconds until every one of ``flows`` - (path, bytes, cap) started together on otherwise idle devices -
    is done, max-min fair, the rates of the others rising as each finishes: an iteration of flows that wait
    for each other at its end (a cluster's members, a sharded step's shards) taken one at a time, its tail
    (the last flows alone, held at their caps) included."""
    left = [b for _, b, _ in flows]
    active = [i for i in range(len(flows)) if left[i] > EPS_BYTES]
    t = 0.0
    while active:
        room = {d: capacity[d] for i in active for d in flows[i][0]}
        rates = max_min_rates([flows[i][0] for i in active], [flows[i][2] for i in active], room, capacity)
        dt = min(left[i] / r if r > 0 else INF for i, r in zip(active, rates))
        if dt == INF:
            raise ValueError("fluid: flows that never finish")
        t += dt
        for i, r in zip(active, rates):
            left[i] -= r * dt
        active = [i for i in active if left[i] > EPS_BYTES + EPS_RATE * flows[i][1]]
    return t
