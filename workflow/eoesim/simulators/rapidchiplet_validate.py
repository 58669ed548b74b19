"""Structural checks of a set of RapidChiplet inputs (decoded documents), done by the harness itself.

RapidChiplet validates its inputs too, but it only prints "completed with N errors" and carries on (exit
code 0), and some mistakes (a routing loop, a missing route) it does not catch at all. ``check_inputs``
returns a list of problems (empty = valid):

* every link endpoint is a placed chiplet (or interposer router) and every PHY index is in range for the
  chiplet's type, each PHY used by at most one link, no two links join the same pair of nodes;
* every PHY lies on its die, placed chiplets do not overlap, every chiplet type and technology exists;
* the routing table has an entry for every (source, destination) pair of chiplets, every next hop is a
  neighbour over a link, following it reaches the destination without a loop, and only relaying chiplets
  forward;
* traffic by unit / by chiplet only names existing chiplets and units, and both describe the same traffic.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

EPS = 1e-9


def _node(ep: Mapping[str, Any]) -> tuple[str, int]:
    return (ep["type"], ep["outer_id"])


def check_chiplets(chiplets: Mapping[str, Any], technologies: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, c in chiplets.items():
        w, h = c["dimensions"]["x"], c["dimensions"]["y"]
        if w <= 0 or h <= 0:
            problems.append(f"chiplet type {name!r}: dimensions {w} x {h} mm must be positive")
        for i, phy in enumerate(c["phys"]):
            if not (-EPS <= phy["x"] <= w + EPS and -EPS <= phy["y"] <= h + EPS):
                problems.append(f"chiplet type {name!r}: PHY {i} at ({phy['x']}, {phy['y']}) lies outside the die")
        if sum(p["fraction_bump_area"] for p in c["phys"]) > 1.0 + EPS:
            problems.append(f"chiplet type {name!r}: PHY fraction_bump_area sums to more than 1")
        if c["technology"] not in technologies:
            problems.append(f"chiplet type {name!r}: technology {c['technology']!r} is not in the technologies")
        if not isinstance(c["unit_count"], int) or c["unit_count"] < 1:
            problems.append(f"chiplet type {name!r}: unit_count {c['unit_count']!r} must be an integer >= 1")
    return problems


def check_placement(placement: Mapping[str, Any], chiplets: Mapping[str, Any]) -> list[str]:
    problems, boxes = [], []
    for cid, desc in enumerate(placement["chiplets"]):
        if desc["name"] not in chiplets:
            problems.append(f"placement: chiplet {cid} has unknown type {desc['name']!r}")
            continue
        if desc["rotation"] % 90 != 0:
            problems.append(f"placement: chiplet {cid} rotation {desc['rotation']} is not a multiple of 90")
        dims = chiplets[desc["name"]]["dimensions"]
        w, h = (dims["x"], dims["y"]) if desc["rotation"] % 180 == 0 else (dims["y"], dims["x"])
        x, y = desc["position"]["x"], desc["position"]["y"]
        boxes.append((cid, x, y, x + w, y + h))
    for i, (c1, l1, b1, r1, t1) in enumerate(boxes):
        for c2, l2, b2, r2, t2 in boxes[i + 1:]:
            if min(r1, r2) - max(l1, l2) > EPS and min(t1, t2) - max(b1, b2) > EPS:
                problems.append(f"placement: chiplets {c1} and {c2} overlap")
    return problems


def check_topology(topology: list, placement: Mapping[str, Any], chiplets: Mapping[str, Any]) -> list[str]:
    problems = []
    n_chiplets = len(placement["chiplets"])
    irouters = placement.get("interposer_routers", [])
    used: set[tuple[int, int]] = set()
    pairs: set[frozenset] = set()
    for lid, link in enumerate(topology):
        ends = []
        for key in ("ep1", "ep2"):
            ep = link[key]
            if ep["type"] == "chiplet":
                if not 0 <= ep["outer_id"] < n_chiplets:
                    problems.append(f"topology: link {lid} {key} names chiplet {ep['outer_id']}, but only "
                                    f"0..{n_chiplets - 1} are placed")
                    continue
                name = placement["chiplets"][ep["outer_id"]]["name"]
                n_phys = len(chiplets[name]["phys"]) if name in chiplets else 0
                if not 0 <= ep["inner_id"] < n_phys:
                    problems.append(f"topology: link {lid} {key} uses PHY {ep['inner_id']} of chiplet "
                                    f"{ep['outer_id']} (type {name!r} has PHYs 0..{n_phys - 1})")
                elif (ep["outer_id"], ep["inner_id"]) in used:
                    problems.append(f"topology: PHY {ep['inner_id']} of chiplet {ep['outer_id']} is used by "
                                    "more than one link")
                else:
                    used.add((ep["outer_id"], ep["inner_id"]))
            elif ep["type"] == "irouter":
                if not 0 <= ep["outer_id"] < len(irouters):
                    problems.append(f"topology: link {lid} {key} names interposer router {ep['outer_id']}, "
                                    f"but only {len(irouters)} are placed")
                    continue
            else:
                problems.append(f"topology: link {lid} {key} has endpoint type {ep['type']!r}; "
                                "allowed: chiplet, irouter")
                continue
            ends.append(_node(ep))
        if len(ends) == 2:
            if ends[0] == ends[1]:
                problems.append(f"topology: link {lid} connects {ends[0]} to itself")
            pair = frozenset(ends)
            if pair in pairs:
                problems.append(f"topology: link {lid} duplicates another link between {ends[0]} and {ends[1]}")
            pairs.add(pair)
    return problems


def check_routing(routing: Mapping[str, Any], topology: list, placement: Mapping[str, Any],
                  chiplets: Mapping[str, Any]) -> list[str]:
    problems = []
    if routing.get("type") != "default":
        return [f"routing table: type {routing.get('type')!r} is not checked; only 'default' tables are"]
    table = routing["table"]
    adj: dict[tuple, set] = {}
    for link in topology:
        a, b = _node(link["ep1"]), _node(link["ep2"])
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    n = len(placement["chiplets"])
    relay = {("chiplet", i): chiplets[d["name"]]["relay"] for i, d in enumerate(placement["chiplets"])
             if d["name"] in chiplets}
    for i in range(len(placement.get("interposer_routers", []))):
        relay[("irouter", i)] = True
    nodes = [("chiplet", i) for i in range(n)]
    for src in nodes:
        if src not in table:
            problems.append(f"routing table: no entry for source {src}")
            continue
        for dst in nodes:
            if dst == src:
                continue
            if dst not in table[src] or table[src][dst] is None:
                problems.append(f"routing table: no next hop from {src} to {dst}")
                continue
            path, cur = [src], src
            while cur != dst:
                hop = table.get(cur, {}).get(dst)
                if hop is None:
                    problems.append(f"routing table: route {src} -> {dst} stops at {cur} (no next hop)")
                    break
                hop = tuple(hop)
                if hop not in adj.get(cur, set()):
                    problems.append(f"routing table: next hop {hop} of {cur} towards {dst} is not linked to {cur}")
                    break
                if hop in path:
                    problems.append(f"routing table: route {src} -> {dst} loops at {hop}")
                    break
                if hop != dst and not relay.get(hop, False):
                    problems.append(f"routing table: route {src} -> {dst} is relayed by {hop}, which does not relay")
                    break
                path.append(hop)
                cur = hop
    return problems


def check_traffic(by_unit: Mapping, by_chiplet: Mapping, placement: Mapping[str, Any],
                  chiplets: Mapping[str, Any]) -> list[str]:
    problems = []
    units = [chiplets[d["name"]]["unit_count"] for d in placement["chiplets"] if d["name"] in chiplets]
    sums: dict[tuple[int, int], float] = {}
    for (src, dst), load in by_unit.items():
        for role, (c, u) in (("source", src), ("destination", dst)):
            if not 0 <= c < len(units):
                problems.append(f"traffic by unit: {role} chiplet {c} does not exist")
            elif not 0 <= u < units[c]:
                problems.append(f"traffic by unit: {role} unit {u} of chiplet {c} does not exist "
                                f"(it has units 0..{units[c] - 1})")
        if load < 0 or not math.isfinite(load):
            problems.append(f"traffic by unit: load {load} of {src} -> {dst} must be finite and >= 0")
        sums[(src[0], dst[0])] = sums.get((src[0], dst[0]), 0.0) + load
    for pair in set(sums) | set(by_chiplet):
        if not math.isclose(sums.get(pair, 0.0), by_chiplet.get(pair, 0.0), rel_tol=1e-9, abs_tol=1e-12):
            problems.append(f"traffic by chiplet: {pair} is {by_chiplet.get(pair, 0.0)} but the units sum to "
                            f"{sums.get(pair, 0.0)}")
    if not by_unit:
        problems.append("traffic by unit: no traffic at all")
    return problems


def check_inputs(docs: Mapping[str, Any]) -> list[str]:
    """All checks over decoded documents keyed like the design file (chiplets, placement, topology, ...)."""
    chiplets, placement, topology = docs["chiplets"], docs["placement"], docs["topology"]
    problems = check_chiplets(chiplets, docs["technologies"])
    problems += check_placement(placement, chiplets)
    problems += check_topology(topology, placement, chiplets)
    problems += check_routing(docs["routing_table"], topology, placement, chiplets)
    problems += check_traffic(docs["traffic_by_unit"], docs["traffic_by_chiplet"], placement, chiplets)
    return problems
