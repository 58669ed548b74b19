"""Traffic geometry of gem5 Garnet's synthetic patterns on a router mesh with XY routing.

For a pattern and mesh this enumerates every (source, destination) flow the way gem5's
``GarnetSyntheticTraffic::generatePkt`` picks destinations (v24.0; uniform_random includes the source
itself), routes it dimension-ordered (X first, then Y: gem5's ``Mesh_XY`` - and the project's
``chiplet_mesh``, which copies its link weights - gives X links weight 1 and Y links weight 2 and the
routing unit prefers the lower-weight output), and accumulates per channel the load per unit
injection rate. Channels are the network links plus the ejection port of every router. The mesh is
``rows`` x ``cols`` routers (row-major ids), cut into ``chiplet_rows`` x ``chiplet_cols`` equal
chiplets: a link between two chiplets is an interposer link. Patterns that lay destinations on a
square grid need rows == cols. The result depends only on (pattern, mesh, chiplets) and is cached.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

PATTERNS = ("uniform_random", "transpose", "bit_complement", "neighbor", "tornado", "shuffle")


def destination(pattern: str, src: int, rows: int, cols: int | None = None) -> int:
    """Destination router of ``src`` under a deterministic gem5 pattern on a rows x cols mesh (square unless given
    ``cols``). Only shuffle is defined on a mesh that is not square: it rotates the id's bits over all routers."""
    k = rows if cols is None else cols
    n = rows * k
    x, y = src % k, src // k
    if pattern == "bit_complement":
        return (k - 1 - y) * k + (k - 1 - x)
    if pattern == "neighbor":
        return y * k + (x + 1) % k
    if pattern == "tornado":
        return y * k + (x + k // 2 - 1) % k
    if pattern == "transpose":
        return x * k + y
    if pattern == "shuffle":
        return 2 * src if src < n // 2 else 2 * src - n + 1
    raise ValueError(f"unknown deterministic pattern {pattern!r}")


def _route(src: int, dst: int, cols: int) -> list[tuple]:
    x, y = src % cols, src // cols
    dx, dy = dst % cols, dst // cols
    channels = []
    while x != dx:
        nx = x + (1 if dx > x else -1)
        channels.append(("link", x, y, nx, y))
        x = nx
    while y != dy:
        ny = y + (1 if dy > y else -1)
        channels.append(("link", x, y, x, ny))
        y = ny
    channels.append(("eject", dst))
    return channels


@dataclass(frozen=True)
class TrafficGeometry:
    """Per (pattern, mesh, chiplets): mean hops and the channel-load profile.

    ``gamma[j]``: load of channel class j per unit injection rate (packets/cycle per packet/node/cycle);
    ``weight[j]``: sum over the class's channels of gamma / N, i.e. the expected number of class-j
    channels a packet crosses; ``share[j]``: sum(w_f^2)/sum(w_f) over the flows sharing such a
    channel (1 for a single-flow channel, 1/N for uniform random), so that a channel's arrival
    dispersion is 1 - lambda * share (superposition of Bernoulli flows); ``interposer[j]``: whether the
    class is interposer links. ``hops`` counts every link, ``interposer_hops`` the interposer ones.
    """

    hops: float
    gamma: np.ndarray
    weight: np.ndarray
    share: np.ndarray
    gamma_max: float
    interposer: np.ndarray
    interposer_hops: float = 0.0
    gamma_max_interposer: float = 0.0


def supported(pattern: str, rows: int, cols: int) -> bool:
    """Whether gem5 defines the pattern on this mesh (square-grid patterns need rows == cols)."""
    if pattern == "uniform_random":
        return rows * cols >= 2
    if pattern == "shuffle":
        return rows * cols >= 2 and (rows * cols) % 2 == 0
    return pattern in PATTERNS and rows == cols and rows >= 2


@lru_cache(maxsize=512)
def traffic_geometry(pattern: str, rows: int, cols: int | None = None, chiplet_rows: int = 1,
                     chiplet_cols: int = 1) -> TrafficGeometry:
    cols = rows if cols is None else cols
    n = rows * cols
    per_rows, per_cols = rows // chiplet_rows, cols // chiplet_cols

    def chiplet(x: int, y: int) -> tuple[int, int]:
        return y // per_rows, x // per_cols

    if pattern == "uniform_random":
        flows = [(s, d, 1.0 / n) for s in range(n) for d in range(n)]
    else:
        flows = [(s, destination(pattern, s, rows, cols), 1.0) for s in range(n)]
    load: dict[tuple, float] = defaultdict(float)
    sq: dict[tuple, float] = defaultdict(float)
    hops = ip_hops = 0.0
    for s, d, w in flows:
        path = _route(s, d, cols)
        hops += w * (len(path) - 1)
        for c in path:
            load[c] += w
            sq[c] += w * w
            if c[0] == "link" and chiplet(c[1], c[2]) != chiplet(c[3], c[4]):
                ip_hops += w
    hops /= n
    ip_hops /= n
    classes: dict[tuple[float, float, bool], float] = defaultdict(float)
    for c, g in load.items():
        cross = c[0] == "link" and chiplet(c[1], c[2]) != chiplet(c[3], c[4])
        classes[(round(g, 12), round(sq[c] / g, 12), cross)] += g / n
    keys = sorted(classes)
    gamma = np.array([k_[0] for k_ in keys])
    share = np.array([k_[1] for k_ in keys])
    cross = np.array([k_[2] for k_ in keys], dtype=bool)
    weight = np.array([classes[k_] for k_ in keys])
    links = [g for c, g in load.items() if c[0] == "link"]
    return TrafficGeometry(hops, gamma, weight, share, float(max(gamma.max(), max(links, default=0.0))), cross,
                           ip_hops, float(gamma[cross].max()) if cross.any() else 0.0)
