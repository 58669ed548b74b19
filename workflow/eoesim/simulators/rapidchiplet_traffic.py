"""Traffic of the design route: by unit ``{((src_chiplet, src_unit), (dst_chiplet, dst_unit)): share}`` and by
chiplet ``{(src_chiplet, dst_chiplet): sum of the unit shares}``.

Semantics follow RapidChiplet's generators: every sending unit injects a total share of 1 (BookSim scales
it by the injection rate), split over its destination units. Patterns:

* random_uniform — each unit of a sender-type chiplet to every unit of every OTHER receiver-type chiplet, evenly;
* transpose — compute chiplet at grid (r, c) to (c, r) (square compute grid; the diagonal is silent);
* permutation — a random derangement of all chiplets (seeded with the study seed);
* hotspot — ``hotspot_fraction`` of each unit's share to the hotspot chiplets, the rest to the others (self
  excluded; a group that is empty for a source hands its share to the other group);
* matrix — chiplet weights ``matrix[src][dst]``; each source row is normalised to 1 and spread evenly over
  the destination's units.
Iteration order (source chiplet, source unit, destination chiplet, destination unit) and the summation
order of traffic by chiplet match RapidChiplet's, so equal inputs give bit-identical files.
"""
from __future__ import annotations

import random
from typing import Any, Mapping, Sequence

from eoesim.simulators.rapidchiplet_package import Package

UnitPair = tuple[tuple[int, int], tuple[int, int]]


def _spread(pkg: Package, traffic: dict[UnitPair, float], src: int, dsts: Sequence[int], share: float) -> None:
    """Every unit of ``src`` sends ``share`` split evenly over all units of ``dsts``."""
    n_dst = sum(pkg.chiplet_type(d).units for d in dsts)
    if n_dst == 0:
        return
    for su in range(pkg.chiplet_type(src).units):
        for d in dsts:
            for du in range(pkg.chiplet_type(d).units):
                traffic[((src, su), (d, du))] = share / n_dst


def random_uniform(pkg: Package, senders: Sequence[str], receivers: Sequence[str]) -> dict[UnitPair, float]:
    traffic: dict[UnitPair, float] = {}
    dst_ids = [s.cid for s in pkg.sites if pkg.chiplet_type(s.cid).kind in receivers]
    for site in pkg.sites:
        if pkg.chiplet_type(site.cid).kind in senders:
            _spread(pkg, traffic, site.cid, [d for d in dst_ids if d != site.cid], 1.0)
    return traffic


def transpose(pkg: Package) -> dict[UnitPair, float]:
    traffic: dict[UnitPair, float] = {}
    cols = pkg.compute_cols
    for site in pkg.sites:
        if site.col not in cols:
            continue
        r, c = site.row, cols.index(site.col)
        dst = pkg.site_at(c, cols[r]).cid
        if dst != site.cid:
            _spread(pkg, traffic, site.cid, [dst], 1.0)
    return traffic


def permutation(pkg: Package, seed: int) -> dict[UnitPair, float]:
    ids = list(range(pkg.n_chiplets))
    rng = random.Random(seed)
    perm = list(ids)
    while any(i == p for i, p in zip(ids, perm)):
        rng.shuffle(perm)
    traffic: dict[UnitPair, float] = {}
    for src in ids:
        _spread(pkg, traffic, src, [perm[src]], 1.0)
    return traffic


def hotspot(pkg: Package, hotspots: Sequence[int], fraction: float) -> dict[UnitPair, float]:
    traffic: dict[UnitPair, float] = {}
    hot = sorted(hotspots)
    cold = [s.cid for s in pkg.sites if s.cid not in hot]
    for src in range(pkg.n_chiplets):
        groups = [[d for d in hot if d != src], [d for d in cold if d != src]]
        shares = [fraction, 1.0 - fraction]
        if not groups[0]:
            shares = [0.0, 1.0]
        if not groups[1]:
            shares = [1.0, 0.0]
        for dsts, share in zip(groups, shares):
            if dsts and share > 0:
                _spread(pkg, traffic, src, dsts, share)
    return traffic


def from_matrix(pkg: Package, matrix: Sequence[Sequence[float]]) -> dict[UnitPair, float]:
    traffic: dict[UnitPair, float] = {}
    for src, row in enumerate(matrix):
        total = float(sum(row))
        if total <= 0:
            continue
        for dst, weight in enumerate(row):
            if weight > 0:
                _spread(pkg, traffic, src, [dst], weight / total)
    return traffic


def pick_hotspots(pkg: Package, count: int, seed: int) -> list[int]:
    return sorted(random.Random(seed).sample(range(pkg.n_chiplets), count))


def traffic_by_unit(pkg: Package, spec: Mapping[str, Any], seed: int) -> dict[UnitPair, float]:
    pattern = spec["pattern"]
    if pattern == "random_uniform":
        return random_uniform(pkg, spec["senders"], spec["receivers"])
    if pattern == "transpose":
        return transpose(pkg)
    if pattern == "permutation":
        return permutation(pkg, seed)
    if pattern == "hotspot":
        hot = spec["hotspots"] if spec.get("hotspots") is not None else pick_hotspots(pkg, spec["hotspot_count"], seed)
        return hotspot(pkg, hot, spec["hotspot_fraction"])
    if pattern == "matrix":
        return from_matrix(pkg, spec["matrix"])
    raise ValueError(f"unknown traffic pattern {pattern!r}")


def by_chiplet(by_unit: Mapping[UnitPair, float]) -> dict[tuple[int, int], float]:
    out: dict[tuple[int, int], float] = {}
    for ((sc, _), (dc, _)), load in by_unit.items():
        out[(sc, dc)] = out.get((sc, dc), 0) + load
    return out
