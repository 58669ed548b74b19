"""The chiplet package of the design route: chiplet types, placement and topology links, in Python.

The package is a grid of ``rows`` x ``cols`` sites: the compute grid plus optional full columns of memory or
IO chiplets on its west/east side. Chiplet ids are row-major from the bottom-left site (RapidChiplet's
convention: y grows with the row). Every chiplet is a square die with four PHYs in the middle of its edges
(0 west, 1 north, 2 east, 3 south) at RapidChiplet's "4PHY_Edge" positions, so a 2x2 mesh with RapidChiplet's
sample parameters is identical to the design its own generator produces. Columns are as wide as their widest
chiplet and rows as high as their highest, so different chiplet types never overlap.

Topologies: mesh; torus (wrap-around links between the outer PHYs of each row/column); folded torus (links
between sites two apart plus the two end pairs, so no link is longer than two sites). A torus-like dimension
must be 1 (no links along it) or >= 3 — with 2 the wrap-around link would duplicate the mesh link.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

WEST, NORTH, EAST, SOUTH = 0, 1, 2, 3
PHY_COUNT = 4
DESIGN_TOPOLOGIES = ("mesh", "torus", "folded_torus")


@dataclass(frozen=True)
class ChipletType:
    """One chiplet type as RapidChiplet describes it (dimensions, PHYs, power, ...)."""

    name: str
    kind: str  # compute | memory | io
    side_mm: float
    phys: tuple[tuple[float, float], ...]
    power_w: float
    units: int
    internal_latency_cycles: int
    fraction_power_bumps: float
    technology: str
    relay: bool


@dataclass(frozen=True)
class Site:
    """A placed chiplet: id, grid position, chiplet type name, lower-left corner (mm)."""

    cid: int
    row: int
    col: int
    type_name: str
    x_mm: float
    y_mm: float


@dataclass(frozen=True)
class Link:
    """A link between PHY ``phy1`` of chiplet ``c1`` and PHY ``phy2`` of chiplet ``c2``."""

    c1: int
    phy1: int
    c2: int
    phy2: int
    horizontal: bool


@dataclass(frozen=True)
class Package:
    rows: int
    cols: int
    topology: str
    types: Mapping[str, ChipletType]
    sites: tuple[Site, ...]
    links: tuple[Link, ...]
    compute_cols: tuple[int, ...] = field(default=())

    @property
    def n_chiplets(self) -> int:
        return len(self.sites)

    def site_at(self, row: int, col: int) -> Site:
        return self.sites[row * self.cols + col]

    def chiplet_type(self, cid: int) -> ChipletType:
        return self.types[self.sites[cid].type_name]

    def neighbours(self) -> dict[int, list[int]]:
        adj: dict[int, list[int]] = {s.cid: [] for s in self.sites}
        for link in self.links:
            adj[link.c1].append(link.c2)
            adj[link.c2].append(link.c1)
        return {k: sorted(v) for k, v in adj.items()}

    def link_lengths_mm(self, routing: str = "manhattan") -> list[float]:
        """Length of every link between its PHYs (what RapidChiplet computes), in link order."""
        out = []
        for link in self.links:
            (x1, y1), (x2, y2) = self.phy_position(link.c1, link.phy1), self.phy_position(link.c2, link.phy2)
            if routing == "manhattan":
                out.append(abs(x1 - x2) + abs(y1 - y2))
            else:
                out.append(math.sqrt((x1 - x2) ** 2 + (y1 - y2) ** 2))
        return out

    def phy_position(self, cid: int, phy: int) -> tuple[float, float]:
        site = self.sites[cid]
        px, py = self.types[site.type_name].phys[phy]
        return site.x_mm + px, site.y_mm + py


def edge_phys(side: float, fraction_power_bumps: float) -> tuple[tuple[float, float], ...]:
    """RapidChiplet's 4PHY_Edge layout: PHY centres inset by side*(1-sqrt(fp))/4 from the middle of each edge."""
    p = side * (1 - math.sqrt(fraction_power_bumps)) / 4
    return ((p, side / 2), (side / 2, side - p), (side - p, side / 2), (side / 2, p))


def chiplet_type(kind: str, spec: Mapping[str, Any]) -> ChipletType:
    area = spec["area_mm2"] + PHY_COUNT * spec["phy_area_mm2"]
    side = math.sqrt(area)
    return ChipletType(
        name=kind,
        kind=kind,
        side_mm=side,
        phys=edge_phys(side, spec["fraction_power_bumps"]),
        power_w=spec["power_w"] + PHY_COUNT * spec["phy_power_w"],
        units=spec["units"],
        internal_latency_cycles=spec["internal_latency_cycles"],
        fraction_power_bumps=spec["fraction_power_bumps"],
        technology=spec["technology"],
        relay=spec["relay"],
    )


def column_kinds(wl: Mapping[str, Any]) -> list[str]:
    """Chiplet type of every grid column, west to east."""
    edges = wl.get("edge_columns", {})
    kinds = ["compute"] * wl["grid"][1]
    if edges.get("west", "none") != "none":
        kinds.insert(0, edges["west"])
    if edges.get("east", "none") != "none":
        kinds.append(edges["east"])
    return kinds


def _ring_links(n: int, folded: bool, wrap: bool) -> list[tuple[int, int, int, int]]:
    """Links along one dimension of n sites as (i, phy_on_i, j, phy_on_j) with phys low/high side = 0/1."""
    low, high = 0, 1
    if n < 2:
        return []
    if not wrap:
        return [(i, high, i + 1, low) for i in range(n - 1)]
    if not folded:
        return [(i, high, i + 1, low) for i in range(n - 1)] + [(0, low, n - 1, high)]
    # folded torus: ring 0, 2, 4, ..., (odd positions back), 1, 0; each site uses its low and high PHY once
    links = [(0, low, 1, low)]
    links += [(i, high, i + 2, low) for i in range(n - 2)]
    links.append((n - 2, high, n - 1, high))
    return links


def _offsets(sizes: list[float], spacing: float) -> list[float]:
    """Lower-left coordinate of each column/row; uniform sizes use RapidChiplet's i * (size + spacing)."""
    if len(set(sizes)) <= 1:
        return [i * (sizes[0] + spacing) for i in range(len(sizes))]
    return [sum(sizes[:i]) + i * spacing for i in range(len(sizes))]


def build_package(wl: Mapping[str, Any]) -> Package:
    """The package of a validated ``workload.rapidchiplet`` section (design route)."""
    topology = wl["topology"]
    kinds = column_kinds(wl)
    types = {k: chiplet_type(k, wl["chiplets"][k]) for k in dict.fromkeys(kinds)}
    rows, cols = wl["grid"][0], len(kinds)
    spacing = wl["chiplet_spacing_mm"]
    col_width = [types[k].side_mm for k in kinds]
    row_height = [max(types[k].side_mm for k in kinds)] * rows
    xs = _offsets(col_width, spacing)
    ys = _offsets(row_height, spacing)
    sites = tuple(
        Site(cid=r * cols + c, row=r, col=c, type_name=kinds[c], x_mm=xs[c], y_mm=ys[r])
        for r in range(rows) for c in range(cols)
    )
    wrap = topology in ("torus", "folded_torus")
    folded = topology == "folded_torus"
    links: list[Link] = []
    # horizontal links first, then vertical (RapidChiplet's mesh generator interleaves them per site; the
    # order of links does not change any result)
    for r in range(rows):
        for i, pi, j, pj in _ring_links(cols, folded, wrap):
            links.append(Link(r * cols + i, (WEST, EAST)[pi], r * cols + j, (WEST, EAST)[pj], True))
    for c in range(cols):
        for i, pi, j, pj in _ring_links(rows, folded, wrap):
            links.append(Link(i * cols + c, (SOUTH, NORTH)[pi], j * cols + c, (SOUTH, NORTH)[pj], False))
    compute_cols = tuple(c for c, k in enumerate(kinds) if k == "compute")
    return Package(rows=rows, cols=cols, topology=topology, types=types, sites=sites, links=tuple(links),
                   compute_cols=compute_cols)
