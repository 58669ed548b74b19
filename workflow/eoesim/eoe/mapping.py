"""Mapping experts onto chiplets.

Experts are taken in morphology order (consecutive stages / siblings next to each other) and laid along
the grid's snake walk (``Hardware.snake_order``), so neighbouring experts land on adjacent chiplets.

- ``one_to_one``: expert i -> one chiplet; needs no more experts than chiplets.
- ``one_to_many``: a large expert split over ``chiplets_per_expert`` adjacent chiplets (tensor parallel:
  its GEMMs are split across them and each forward pass ends with an all-reduce); default
  ``floor(chiplets / experts)``.
- ``many_to_one``: cold experts colocated: on ``chiplets_used`` chiplets (default ``ceil(experts/2)``, at
  most the grid's) the ``chiplets_used - 1`` most popular experts get a chiplet each and all the others
  share the last one.
- ``many_to_many``: every expert has ``replicas`` copies spread over the grid (replica j of the i-th
  expert on snake position ``i + j*floor(chiplets/replicas)``), so chiplets host several experts and
  experts live on several chiplets; request r uses replica ``r mod replicas``.
- ``replicate``: every expert once (``chiplets_per_expert`` chiplets each, default 1), then the remaining
  groups of the ``chiplets_used`` chiplets (default all) host replicas of the hot experts, apportioned to
  their popularity by the D'Hondt rule (the next replica goes to the expert with the highest popularity /
  replicas so far), so the whole package serves and hot experts get the most instances.

A placement is a tuple of replicas, each a tuple of the chiplets its shards run on.

When a chiplet fails (eoesim.stitch.failures), ``failover_chiplet`` picks the chiplet that takes over all
it ran - a spare (idle) one or the least-loaded one in use - and ``move_chiplet`` rewrites the placements.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from eoesim.eoe.hardware import Hardware
from eoesim.errors import ConfigError

STRATEGIES = ("one_to_one", "one_to_many", "many_to_one", "many_to_many", "replicate")
DEFAULTS: dict[str, Any] = {
    "strategy": "one_to_one", "chiplets_per_expert": None, "chiplets_used": None, "replicas": 2,
    "router_chiplet": 0,
}


@dataclass(frozen=True)
class ExpertMapping:
    strategy: str
    placements: Mapping[str, tuple[tuple[int, ...], ...]]
    router_chiplet: int

    def replica(self, expert: str, request: int) -> tuple[int, ...]:
        reps = self.placements[expert]
        return reps[request % len(reps)] if len(reps) > 1 else reps[0]

    def experts_on(self, chiplet: int) -> list[str]:
        return [e for e, reps in self.placements.items() if any(chiplet in r for r in reps)]


def build_mapping(cfg: Mapping[str, Any] | None, order: Sequence[str], hw: Hardware,
                  popularity: Mapping[str, float], path: str = "mapping") -> ExpertMapping:
    cfg = {**DEFAULTS, **(cfg or {})}
    strategy = cfg["strategy"]
    n, c = len(order), hw.n_chiplets
    snake = hw.snake_order()
    router = int(cfg["router_chiplet"])
    if not 0 <= router < c:
        raise ConfigError(f"{path}.router_chiplet: {router} is not allowed; allowed: 0..{c - 1}")
    placements: dict[str, tuple[tuple[int, ...], ...]] = {}
    if strategy == "one_to_one":
        if n > c:
            raise ConfigError(f"{path}.strategy: one_to_one maps {n} experts onto {c} chiplets; allowed: at most "
                              f"{c} experts (or many_to_one / many_to_many)")
        placements = {e: ((snake[i],),) for i, e in enumerate(order)}
    elif strategy == "one_to_many":
        if n > c:
            raise ConfigError(f"{path}.strategy: one_to_many maps {n} experts onto {c} chiplets, at least one chiplet "
                              f"each; allowed: at most {c} experts (or many_to_one, many_to_many)")
        s = int(cfg["chiplets_per_expert"] or max(1, c // n))
        if s < 1 or s * n > c:
            raise ConfigError(f"{path}.chiplets_per_expert: {s} x {n} experts needs {s * n} chiplets, the grid has "
                              f"{c}; allowed: at most {c // n}")
        placements = {e: (tuple(snake[i * s:(i + 1) * s]),) for i, e in enumerate(order)}
    elif strategy == "many_to_one":
        used = int(cfg["chiplets_used"] or min(c, max(1, math.ceil(n / 2))))
        if not 1 <= used <= c:
            raise ConfigError(f"{path}.chiplets_used: {used} is not allowed; allowed: 1..{c}")
        hot = sorted(order, key=lambda e: (-popularity.get(e, 0.0), order.index(e)))[: max(0, min(used, n) - 1)]
        hot_set = set(hot)
        solo = [e for e in order if e in hot_set]  # keep morphology order among the hot ones
        placements = {e: ((snake[i],),) for i, e in enumerate(solo)}
        shared = snake[len(solo)] if len(solo) < c else snake[-1]
        placements.update({e: ((shared,),) for e in order if e not in hot_set})
    elif strategy == "many_to_many":
        r = int(cfg["replicas"])
        if not 1 <= r <= c:
            raise ConfigError(f"{path}.replicas: {r} is not allowed; allowed: 1..{c}")
        stride = max(1, c // r)
        placements = {e: tuple((snake[(i + j * stride) % c],) for j in range(r)) for i, e in enumerate(order)}
    elif strategy == "replicate":
        placements = _replicate(cfg, order, hw, popularity, path)
    else:
        raise ConfigError(f"{path}.strategy: {strategy!r} is not allowed; allowed: {list(STRATEGIES)}")
    return ExpertMapping(strategy=strategy, placements=placements, router_chiplet=router)


def _replicate(cfg: Mapping[str, Any], order: Sequence[str], hw: Hardware, popularity: Mapping[str, float],
               path: str) -> dict[str, tuple[tuple[int, ...], ...]]:
    n, c = len(order), hw.n_chiplets
    s = int(cfg["chiplets_per_expert"] or 1)
    used = int(cfg["chiplets_used"] or c)
    if not 1 <= used <= c:
        raise ConfigError(f"{path}.chiplets_used: {used} is not allowed; allowed: 1..{c}")
    slots = used // s
    if slots < n:
        more = ("fewer chiplets_per_expert" if s > 1 else
                f"more {path}.chiplets_used" if used < c else "a larger hardware.package.grid")
        raise ConfigError(f"{path}.strategy: replicate needs a group of {s} chiplet(s) per expert, {n * s} in all; "
                          f"allowed: at most {slots} experts on {used} chiplets (or {more})")
    counts = {e: 1 for e in order}
    for _ in range(slots - n):
        best = max(order, key=lambda e: (popularity.get(e, 0.0) / counts[e], -order.index(e)))
        counts[best] += 1
    snake = hw.snake_order()
    groups = [tuple(snake[j * s:(j + 1) * s]) for j in range(slots)]
    placements: dict[str, list[tuple[int, ...]]] = {e: [groups[i]] for i, e in enumerate(order)}
    nxt = n
    for rank in range(1, max(counts.values())):
        for e in order:
            if counts[e] > rank:
                placements[e].append(groups[nxt])
                nxt += 1
    return {e: tuple(reps) for e, reps in placements.items()}


FAILOVER_POLICIES = ("spare", "least_loaded")


def chiplet_load(mapping: ExpertMapping, popularity: Mapping[str, float]) -> dict[int, float]:
    """Expected share of expert runs per chiplet: each expert's popularity split over its replicas (every
    shard of a replica carries the replica's share)."""
    load: dict[int, float] = {}
    for expert, reps in mapping.placements.items():
        for rep in reps:
            for chip in rep:
                load[chip] = load.get(chip, 0.0) + popularity.get(expert, 0.0) / len(reps)
    return load


def failover_chiplet(mapping: ExpertMapping, failed: int, policy: str, hw: Hardware,
                     popularity: Mapping[str, float], dead: set[int], path: str = "failures") -> int:
    """The chiplet that takes over everything ``failed`` ran (its experts and, if it is the router, routing).

    ``spare``: the nearest chiplet (fewest hops, then lowest id) that hosts no expert and is not the router;
    ``least_loaded``: co-location - among the surviving chiplets already in use (hosting an expert or the
    router; any surviving chiplet if none is), the one with the least expected load (``chiplet_load``),
    ties by hops then id. Idle chiplets are left alone, so the two policies differ whenever spares exist.
    ``dead`` are chiplets that failed earlier (never chosen); nor is a chiplet of a tensor-parallel group
    ``failed`` belongs to (two shards of one replica on one chiplet are no replica).
    """
    partners = {c for reps in mapping.placements.values() for rep in reps if failed in rep for c in rep}
    alive = [c for c in range(hw.n_chiplets) if c not in partners | {failed} and c not in dead]
    load = chiplet_load(mapping, popularity)
    if policy == "spare":
        candidates = [c for c in alive if c not in load and c != mapping.router_chiplet]
        if not candidates:
            raise ConfigError(f"{path}.policy: 'spare' but no chiplet is free when chiplet {failed} fails (every "
                              "surviving chiplet hosts an expert or the router); allowed: least_loaded, or a mapping "
                              "that leaves a chiplet free")
        return min(candidates, key=lambda c: (hw.hops(failed, c), c))
    if policy == "least_loaded":
        if not alive:
            outside = " outside its tensor-parallel group" if partners - {failed} else ""
            raise ConfigError(f"{path}: chiplet {failed} fails and no chiplet survives{outside}; allowed: at least "
                              "one such chiplet that never fails")
        used = [c for c in alive if c in load or c == mapping.router_chiplet] or alive
        return min(used, key=lambda c: (load.get(c, 0.0), hw.hops(failed, c), c))
    raise ConfigError(f"{path}.policy: {policy!r} is not allowed; allowed: {list(FAILOVER_POLICIES)}")


def move_chiplet(mapping: ExpertMapping, failed: int, to: int) -> ExpertMapping:
    """The mapping with chiplet ``failed`` replaced by ``to`` in every placement (and as the router)."""
    placements = {e: tuple(tuple(to if c == failed else c for c in rep) for rep in reps)
                  for e, reps in mapping.placements.items()}
    router = to if mapping.router_chiplet == failed else mapping.router_chiplet
    return ExpertMapping(strategy=mapping.strategy, placements=placements, router_chiplet=router)
