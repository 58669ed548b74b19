"""Traffic geometry of gem5 Garnet's synthetic patterns on a k x k mesh with XY routing.

For a pattern and mesh size this enumerates every (source, destination) flow the way gem5's
``GarnetSyntheticTraffic::generatePkt`` picks destinations (v24.0; uniform_random includes the source
itself), routes it dimension-ordered (X first, then Y: gem5's ``Mesh_XY`` gives X links weight 1 and Y
links weight 2 and the routing unit prefers the lower-weight output), and accumulates per channel the
load per unit injection rate. Channels are the network links plus the ejection port of every
router. The result depends only on (pattern, k) and is cached.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

PATTERNS = ("uniform_random", "transpose", "bit_complement", "neighbor", "tornado", "shuffle")


def destination(pattern: str, src: int, k: int) -> int:
    """Destination router of ``src`` under a deterministic gem5 pattern on a k x k mesh."""
    n = k * k
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


def _route(src: int, dst: int, k: int) -> list[tuple]:
    x, y = src % k, src // k
    dx, dy = dst % k, dst // k
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
    """Per (pattern, k): mean hops and the channel-load profile.

    ``gamma[j]``: load of channel class j per unit injection rate (packets/cycle per packet/node/cycle);
    ``weight[j]``: sum over the class's channels of gamma / N, i.e. the expected number of class-j
    channels a packet crosses; ``share[j]``: sum(w_f^2)/sum(w_f) over the flows sharing such a
    channel (1 for a single-flow channel, 1/N for uniform random), so that a channel's arrival
    dispersion is 1 - lambda * share (superposition of Bernoulli flows).
    """

    hops: float
    gamma: np.ndarray
    weight: np.ndarray
    share: np.ndarray
    gamma_max: float


@lru_cache(maxsize=256)
def traffic_geometry(pattern: str, k: int) -> TrafficGeometry:
    n = k * k
    if pattern == "uniform_random":
        flows = [(s, d, 1.0 / n) for s in range(n) for d in range(n)]
    else:
        flows = [(s, destination(pattern, s, k), 1.0) for s in range(n)]
    load: dict[tuple, float] = defaultdict(float)
    sq: dict[tuple, float] = defaultdict(float)
    hops = 0.0
    for s, d, w in flows:
        path = _route(s, d, k)
        hops += w * (len(path) - 1)
        for c in path:
            load[c] += w
            sq[c] += w * w
    hops /= n
    classes: dict[tuple[float, float], float] = defaultdict(float)
    for c, g in load.items():
        key = (round(g, 12), round(sq[c] / g, 12))
        classes[key] += g / n
    keys = sorted(classes)
    gamma = np.array([k_[0] for k_ in keys])
    share = np.array([k_[1] for k_ in keys])
    weight = np.array([classes[k_] for k_ in keys])
    links = [g for c, g in load.items() if c[0] == "link"]
    return TrafficGeometry(hops, gamma, weight, share, float(max(gamma.max(), max(links, default=0.0))))
