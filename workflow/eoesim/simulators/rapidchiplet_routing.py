"""Routing tables for the design route, in RapidChiplet's "default" format.

``{("chiplet", cur): {("chiplet", dst): ("chiplet", next) | None}}`` — one next hop per (current, destination)
pair; ``None`` for cur == dst. Only relaying chiplets may be intermediate hops.

* shortest_path: fewest hops; among equally short next hops the lowest chiplet id. This is the rule of
  RapidChiplet's ``splif`` generator (deterministic, no path diversity), re-implemented as a BFS.
* xy / yx: dimension-order routing — first along the row (xy) or column (yx) to the destination's column
  (row), then along the other dimension; within a dimension the fewest hops over that dimension's links
  (both ring directions on a torus; ties to the lowest chiplet id).
"""
from __future__ import annotations

from collections import deque
from typing import Iterable

from eoesim.errors import ConfigError
from eoesim.simulators.rapidchiplet_package import Package

Node = tuple[str, int]
ROUTING_KEY = "workload.rapidchiplet.routing"


def _node(cid: int) -> Node:
    return ("chiplet", cid)


def _bfs_next_hops(adj: dict[int, list[int]], relay: dict[int, bool], dst: int) -> dict[int, int]:
    """Next hop towards ``dst`` of every node that can reach it (fewest hops, lowest id on ties)."""
    dist = {dst: 0}
    queue = deque([dst])
    while queue:
        u = queue.popleft()
        if u != dst and not relay[u]:
            continue  # u may be a source, but never forwards
        for v in adj[u]:
            if v not in dist:
                dist[v] = dist[u] + 1
                queue.append(v)
    nxt = {}
    for v, d in dist.items():
        if v == dst:
            continue
        nxt[v] = min(m for m in adj[v] if dist.get(m) == d - 1 and (m == dst or relay[m]))
    return nxt


def shortest_path_table(pkg: Package) -> dict[Node, dict[Node, Node | None]]:
    adj = pkg.neighbours()
    relay = {s.cid: pkg.chiplet_type(s.cid).relay for s in pkg.sites}
    table: dict[Node, dict[Node, Node | None]] = {_node(s.cid): {} for s in pkg.sites}
    for dst in range(pkg.n_chiplets):
        nxt = _bfs_next_hops(adj, relay, dst)
        for src in range(pkg.n_chiplets):
            if src == dst:
                table[_node(src)][_node(dst)] = None
            elif src not in nxt:
                raise ConfigError(
                    f"{ROUTING_KEY}: shortest_path: chiplet {dst} cannot be reached from chiplet {src} "
                    "(the chiplets in between do not relay); allowed: relay: true on the chiplet types in between"
                )
            else:
                table[_node(src)][_node(dst)] = _node(nxt[src])
    return table


def _dimension_next(pkg: Package, horizontal: bool) -> dict[int, dict[int, int]]:
    """Per node: {target index along the dimension -> next chiplet} using only that dimension's links."""
    adj: dict[int, list[int]] = {s.cid: [] for s in pkg.sites}
    for ln in pkg.links:
        if ln.horizontal == horizontal:
            adj[ln.c1].append(ln.c2)
            adj[ln.c2].append(ln.c1)
    adj = {k: sorted(v) for k, v in adj.items()}
    everyone_relays = {s.cid: True for s in pkg.sites}
    out: dict[int, dict[int, int]] = {s.cid: {} for s in pkg.sites}
    for dst in range(pkg.n_chiplets):
        for src, hop in _bfs_next_hops(adj, everyone_relays, dst).items():
            out[src][dst] = hop
    return out


def dimension_order_table(pkg: Package, first: str) -> dict[Node, dict[Node, Node | None]]:
    """``first`` = "x" (columns first, i.e. xy) or "y" (rows first, yx)."""
    h_next = _dimension_next(pkg, horizontal=True)
    v_next = _dimension_next(pkg, horizontal=False)
    relay = {s.cid: pkg.chiplet_type(s.cid).relay for s in pkg.sites}
    table: dict[Node, dict[Node, Node | None]] = {_node(s.cid): {} for s in pkg.sites}
    for src_site in pkg.sites:
        for dst_site in pkg.sites:
            src, dst = src_site.cid, dst_site.cid
            if src == dst:
                table[_node(src)][_node(dst)] = None
                continue
            if first == "x":
                corner = pkg.site_at(src_site.row, dst_site.col).cid
                hop = h_next[src][corner] if corner != src else v_next[src][dst]
            else:
                corner = pkg.site_at(dst_site.row, src_site.col).cid
                hop = v_next[src][corner] if corner != src else h_next[src][dst]
            table[_node(src)][_node(dst)] = _node(hop)
    order = "xy" if first == "x" else "yx"
    for src, dst, path in iter_paths(table):
        for mid in path[1:-1]:
            if not relay[mid]:
                raise ConfigError(
                    f"{ROUTING_KEY}: {order}: the route from chiplet {src} to {dst} passes chiplet {mid}, whose type "
                    f"{pkg.sites[mid].type_name!r} does not relay; allowed: routing shortest_path or relay: true"
                )
    return table


def iter_paths(table: dict[Node, dict[Node, Node | None]]) -> Iterable[tuple[int, int, list[int]]]:
    """(src, dst, [src, ..., dst]) for every pair of distinct chiplets; raises ValueError on a loop or gap."""
    for src in table:
        for dst in table[src]:
            if src == dst:
                continue
            path, cur = [src[1]], src
            while cur != dst:
                hop = table.get(cur, {}).get(dst)
                if hop is None or len(path) > len(table):
                    raise ValueError(f"no route from {src} to {dst} (stuck at {cur})")
                cur = tuple(hop)
                path.append(cur[1])
            yield src[1], dst[1], path


def routing_table(pkg: Package, algorithm: str) -> dict:
    """The RapidChiplet routing-table document ``{"type": "default", "table": ...}``."""
    if algorithm == "shortest_path":
        table = shortest_path_table(pkg)
    elif algorithm in ("xy", "yx"):
        table = dimension_order_table(pkg, algorithm[0])
    else:
        raise ConfigError(f"{ROUTING_KEY}: {algorithm!r} is not allowed; allowed: one of shortest_path, xy, yx")
    return {"type": "default", "table": table}
