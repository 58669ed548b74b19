"""Ring collectives and point-to-point sends on the package network, priced by the network component.

A ring of n chiplets all-reduces B bytes in 2(n-1) steps (reduce-scatter then all-gather), each moving
B/n bytes from every member to the next; a reduce-scatter or an all-gather alone takes n-1 such steps.
Every ring edge is routed over the package links with dimension-order routing (along the row first, then
the column; the shorter way round on a torus). Rings that run at the same time (e.g. the data-parallel
rings of every tensor-parallel rank) share links: an edge whose busiest link carries c edges moves c x B/n
bytes through it, so one ring step takes ``network_transfer(c x B/n, hops)`` of the slowest edge (the
component's per-hop latency x hops + bytes / link bandwidth). Link energy counts every byte once per link
crossed.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from eoesim.eoe.hardware import Hardware
from eoesim.stitch.components import ComponentModel

Link = tuple[int, int]


@dataclass
class NetworkCost:
    """Seconds of a communication phase, the bytes it puts on each directed link, and the estimate labels
    it used."""

    seconds: float = 0.0
    link_load: Counter = field(default_factory=Counter)  # (src, dst) link -> bytes
    labels: Counter = field(default_factory=Counter)

    @property
    def link_bytes(self) -> float:
        """Bytes x links crossed (what link energy is charged on)."""
        return float(sum(self.link_load.values()))

    def __add__(self, other: "NetworkCost") -> "NetworkCost":
        return NetworkCost(self.seconds + other.seconds, self.link_load + other.link_load, self.labels + other.labels)

    def times(self, k: float) -> "NetworkCost":
        return NetworkCost(self.seconds * k, Counter({link: b * k for link, b in self.link_load.items()}),
                           Counter({lab: n * k for lab, n in self.labels.items()}))


def _steps(a: int, b: int, size: int, torus: bool) -> list[int]:
    """Coordinates visited from a to b along one dimension (excluding a)."""
    if a == b:
        return []
    forward = (b - a) % size
    if torus and forward > size - forward or not torus and b < a:
        return [(a - i) % size for i in range(1, (a - b) % size + 1)]
    return [(a + i) % size for i in range(1, forward + 1)]


def route(hw: Hardware, src: int, dst: int) -> list[Link]:
    """The directed links from chiplet ``src`` to ``dst`` (dimension-order routing, row first)."""
    (r0, c0), (r1, c1) = hw.coords(src), hw.coords(dst)
    torus = hw.topology == "torus"
    path = [r0 * hw.grid_cols + c for c in _steps(c0, c1, hw.grid_cols, torus)]
    path += [r * hw.grid_cols + c1 for r in _steps(r0, r1, hw.grid_rows, torus)]
    nodes = [src] + path
    return list(zip(nodes, nodes[1:]))


def ring_edges(ring: Sequence[int]) -> list[Link]:
    n = len(ring)
    return [(ring[i], ring[(i + 1) % n]) for i in range(n)] if n > 1 else []


def concurrent_transfers(model: ComponentModel, hw: Hardware, pairs: Sequence[Link], nbytes: float) -> NetworkCost:
    """Every (src, dst) in ``pairs`` sends ``nbytes`` at once; done when the slowest is."""
    routes = [route(hw, s, d) for s, d in pairs if s != d]
    if not routes or nbytes <= 0:
        return NetworkCost()
    load = Counter(link for r in routes for link in r)
    cost = NetworkCost()
    for r in routes:
        est = model.network_transfer(nbytes * max(load[link] for link in r), len(r))
        cost.seconds = max(cost.seconds, est.value)
        cost.link_load.update({link: nbytes for link in r})
        cost.labels[est.label] += 1
    return cost


def ring_steps(model: ComponentModel, hw: Hardware, rings: Sequence[Sequence[int]], nbytes: float,
               steps_per_member: int) -> NetworkCost:
    """``steps_per_member x (n-1)`` ring steps of ``nbytes / n`` over every ring at once (n = ring size)."""
    n = len(rings[0]) if rings else 0
    if n <= 1 or nbytes <= 0:
        return NetworkCost()
    step = concurrent_transfers(model, hw, [e for ring in rings for e in ring_edges(ring)], nbytes / n)
    return step.times(steps_per_member * (n - 1))


def all_reduce(model: ComponentModel, hw: Hardware, rings: Sequence[Sequence[int]], nbytes: float) -> NetworkCost:
    """Ring all-reduce of ``nbytes`` in every ring at once: 2(n-1) steps of nbytes/n."""
    return ring_steps(model, hw, rings, nbytes, 2)


def reduce_scatter(model: ComponentModel, hw: Hardware, rings: Sequence[Sequence[int]], nbytes: float) -> NetworkCost:
    """Ring reduce-scatter of ``nbytes`` (each member ends with nbytes/n reduced): n-1 steps."""
    return ring_steps(model, hw, rings, nbytes, 1)


def all_gather(model: ComponentModel, hw: Hardware, rings: Sequence[Sequence[int]], nbytes: float) -> NetworkCost:
    """Ring all-gather of ``nbytes`` in total (each member contributes nbytes/n): n-1 steps."""
    return ring_steps(model, hw, rings, nbytes, 1)
