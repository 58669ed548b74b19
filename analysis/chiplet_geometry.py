"""Inter-chiplet topologies of RapidChiplet and their route statistics under its default routing.

Chiplets are numbered row-major (grids) or row by row (hexamesh), as RapidChiplet's placement
generators do. Links:

* mesh: neighbours in a row / column (span 1 pitch);
* torus: mesh + a wrap-around link per row and column (span C-1 / R-1; a 2-wide dimension's wrap
  duplicates the mesh link and collapses, as in RapidChiplet's analytical link summary);
* folded_torus: per row/column links i <-> i+2 plus both end pairs (span 2, ends 1);
* flattened_butterfly: every pair in the same row or column (span = distance);
* hexamesh: hexagonal placement of radius r (rows of r+1 .. 2r+1 .. r+1 chiplets), 6 neighbours.

Routing is RapidChiplet's ``shortest_path_lowest_id_first`` (SPLIF): minimal hop count, and among
equally short next hops the lowest chiplet id. Traffic weights are RapidChiplet's: random_uniform
and transpose send 1/n_dst of a unit load per source; hotspot sends p=0.5 to n=4 hotspots and the
rest to the other chiplets. RapidChiplet draws the hotspots with ``random.sample(chiplet_ids, 4)``
from Python's global RNG, and nothing else in a SPLIF run draws from it before that call (the only
other users are the permutation pattern and the ``sptmr`` routing), so a run seeded with
``random.seed(seed)`` picks exactly ``hotspot_set(n, seed)`` - the same Mersenne-Twister stream
and the same ``sample`` algorithm (CPython >= 3.2). With the seed the hotspot metrics are computed
exactly; without it the traffic is replaced by its expectation over the choice of hotspots.

For each (topology, rows, cols, traffic) the module returns the traffic-weighted mean hop count and
mean span, the (hops, span) pairs of all communicating chiplets, the largest directed link load per
unit injection and the number of PHYs per chiplet. Cached; pure Python (milliseconds per design).
"""
from __future__ import annotations

import random
from collections import defaultdict, deque
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np

TOPOLOGIES = ("mesh", "torus", "folded_torus", "flattened_butterfly", "hexamesh")
TRAFFICS = ("random_uniform", "transpose", "hotspot")
N_HOTSPOTS = 4
P_HOTSPOT = 0.5


def _grid_links(topology: str, rows: int, cols: int) -> dict[tuple[int, int], tuple[int, bool]]:
    """Undirected links (a, b) with a < b -> (span in chiplet pitches, long).

    A link is *short* when it joins facing PHYs of adjacent chiplets (mesh links, torus links inside
    a row/column) and *long* otherwise (torus wrap-arounds - which replace the duplicate mesh link of
    a 2-wide dimension -, every folded-torus and flattened-butterfly link): long links run over or
    around chiplets and their length grows with the span.
    """
    links: dict[tuple[int, int], tuple[int, bool]] = {}

    def add(a: int, b: int, span: int, long: bool) -> None:
        if a != b:
            links[(min(a, b), max(a, b))] = (span, long)

    def line(ids: list[int]) -> None:
        k = len(ids)
        if topology in ("mesh", "torus"):
            for i in range(k - 1):
                add(ids[i], ids[i + 1], 1, topology == "torus" and k == 2)
            if topology == "torus" and k > 2:
                add(ids[0], ids[-1], k - 1, True)
        elif topology == "folded_torus":
            if k == 2:
                add(ids[0], ids[1], 1, True)
            for i in range(k - 2):
                add(ids[i], ids[i + 2], 2, True)
            if k > 2:
                add(ids[0], ids[1], 1, True)
                add(ids[k - 2], ids[k - 1], 1, True)
        elif topology == "flattened_butterfly":
            for i, j in combinations(range(k), 2):
                add(ids[i], ids[j], j - i, True)
        else:
            raise ValueError(f"unknown grid topology {topology!r}")

    for r in range(rows):
        line([r * cols + c for c in range(cols)])
    for c in range(cols):
        line([r * cols + c for r in range(rows)])
    return links


def _hexamesh_links(radius: int) -> tuple[int, dict[tuple[int, int], tuple[int, bool]]]:
    per_row = list(range(radius + 1, 2 * radius + 1)) + list(range(2 * radius + 1, radius, -1))
    start = [sum(per_row[:i]) for i in range(len(per_row))]
    links: dict[tuple[int, int], int] = {}
    for row, n in enumerate(per_row):
        for col in range(n):
            a = start[row] + col
            if col + 1 < n:
                links[(a, a + 1)] = (1, False)
            if row + 1 < len(per_row):
                nxt = per_row[row + 1]
                cands = (col, col + 1) if nxt > n else (col - 1, col)
                for c2 in cands:
                    if 0 <= c2 < nxt:
                        links[(a, start[row + 1] + c2)] = (1, False)
    return sum(per_row), links


@dataclass(frozen=True)
class RouteStats:
    n_chiplets: int            # all chiplets, edge columns included
    n_phys: int
    mean_hops: float
    mean_long_hops: float
    mean_long_span: float
    pairs: np.ndarray          # (n_pairs, 3): hops, long hops, summed span of long hops (unique rows)
    max_link_load: float       # largest directed link load, unit load per source
    total_load: float
    n_compute: int = 0         # compute chiplets (the ones that send and receive)


def hotspot_set(n_chiplets: int, seed: int) -> tuple[int, ...]:
    """The hotspot chiplets RapidChiplet picks after ``random.seed(seed)`` (its generate_hotspot_traffic).

    ``random.sample(range(n), k)`` and ``random.sample(list(range(n)), k)`` draw the same numbers (the
    algorithm only indexes the population); the order matters for nothing downstream.
    """
    return tuple(random.Random(int(seed)).sample(range(n_chiplets), min(N_HOTSPOTS, n_chiplets)))


def _hotspot_traffic(n: int, hotspots: tuple[int, ...]) -> dict[tuple[int, int], float]:
    """RapidChiplet's hotspot traffic for a known hotspot set, per source chiplet (unit load per source).

    A source sends p to the hotspots other than itself and 1 - p to the other non-hotspots; when a
    group has no destination its share is carried to the next group only (hotspots -> others), as
    in RapidChiplet's loop - so with n = 4 chiplets (all hotspots) half of every source's load is
    dropped, which lowers the aggregate load.
    """
    hot = [c for c in range(n) if c in set(hotspots)]
    others = [c for c in range(n) if c not in set(hotspots)]
    out: dict[tuple[int, int], float] = {}
    for s in range(n):
        unused = 0.0
        for group, share in ((hot, P_HOTSPOT), (others, 1.0 - P_HOTSPOT)):
            share += unused
            active = [d for d in group if d != s]
            if active:
                for d in active:
                    out[(s, d)] = share / len(active)
            else:
                unused = share
    return out


def _traffic(n: int, traffic: str, rows: int, cols: int,
             hotspots: tuple[int, ...] | None = None) -> dict[tuple[int, int], float]:
    """Traffic among ``n`` chiplets numbered 0..n-1 (a grid's compute chiplets row-major)."""
    if traffic == "hotspot" and hotspots is not None:
        return _hotspot_traffic(n, hotspots)
    out: dict[tuple[int, int], float] = {}
    if traffic == "random_uniform":
        for s in range(n):
            for d in range(n):
                if s != d:
                    out[(s, d)] = 1.0 / (n - 1)
    elif traffic == "transpose":
        for s in range(n):
            r, c = divmod(s, cols)
            d = c * cols + r
            if d != s:
                out[(s, d)] = 1.0
    elif traffic == "hotspot":
        # expectation over a uniformly random hotspot set of size h: P(d is a hotspot) = h / n
        h = min(N_HOTSPOTS, n - 1)
        w = (h / n) * P_HOTSPOT / h + (1 - h / n) * (1 - P_HOTSPOT) / max(n - h, 1)
        for s in range(n):
            for d in range(n):
                if s != d:
                    out[(s, d)] = w
    else:
        raise ValueError(f"unknown traffic {traffic!r}")
    return out


def n_chiplets_of(topology: str, rows: int, cols: int) -> int:
    """Chiplet count of a design (``rows`` = hexamesh radius)."""
    return 3 * rows * (rows + 1) + 1 if topology == "hexamesh" else rows * cols


@lru_cache(maxsize=2048)
def route_stats(topology: str, rows: int, cols: int, traffic: str,
                hotspots: tuple[int, ...] | None = None, edges: tuple[int, int] = (0, 0)) -> RouteStats:
    """Route statistics of one design (``rows`` = hexamesh radius and ``cols`` ignored for hexamesh).

    ``hotspots``: the hotspot chiplets of hotspot traffic (``hotspot_set``); None = expectation over
    a uniformly random choice. ``edges``: full columns of memory / IO chiplets west and east of a grid's
    ``cols`` compute columns (the design route's edge columns): they relay but neither send nor receive.
    """
    west, east = edges
    if topology == "hexamesh":
        n, links = _hexamesh_links(rows)
        n_phys = 6
        compute = list(range(n))
    else:
        total = cols + west + east
        n = rows * total
        links = _grid_links(topology, rows, total)
        n_phys = (rows - 1) + (total - 1) if topology == "flattened_butterfly" else 4
        compute = [r * total + c for r in range(rows) for c in range(west, west + cols)]
    adj: dict[int, list[tuple[int, tuple[int, bool]]]] = defaultdict(list)
    for (a, b), kind in links.items():
        adj[a].append((b, kind))
        adj[b].append((a, kind))
    # SPLIF: per destination BFS, next hop = lowest-id neighbour one hop closer
    nexthop = {}
    for dst in range(n):
        dist = {dst: 0}
        q = deque([dst])
        while q:
            u = q.popleft()
            for v, _ in adj[u]:
                if v not in dist:
                    dist[v] = dist[u] + 1
                    q.append(v)
        for u in range(n):
            if u != dst:
                nexthop[(u, dst)] = min((v, s) for v, s in adj[u] if dist.get(v, 1 << 30) == dist[u] - 1)
    flows = {(compute[a], compute[b]): w for (a, b), w in _traffic(len(compute), traffic, rows, cols, hotspots).items()}
    load: dict[tuple[int, int], float] = defaultdict(float)
    pairs, wsum, hsum, lsum, ssum = [], 0.0, 0.0, 0.0, 0.0
    for (s, d), w in flows.items():
        u, hops, nlong, span = s, 0, 0, 0
        while u != d:
            v, (sp, long) = nexthop[(u, d)]
            load[(u, v)] += w
            hops += 1
            if long:
                nlong += 1
                span += sp
            u = v
        pairs.append((hops, nlong, span))
        wsum += w
        hsum += w * hops
        lsum += w * nlong
        ssum += w * span
    return RouteStats(n, n_phys, hsum / wsum, lsum / wsum, ssum / wsum,
                      np.unique(np.array(pairs, dtype=float), axis=0), max(load.values()), wsum, len(compute))
