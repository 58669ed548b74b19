"""Routers: which children of a router node each request goes to, and what routing costs.

Gate model. Domain ``d`` has a home expert, ``eoe.experts[d mod n_experts]``. At a router node the
*home child* of ``d`` is the child whose subtree holds that expert (if none does, child ``d mod n``).
Each request draws gate logits ``z_j ~ N(0, noise_std)`` and its home child gets ``+affinity``; the
gate is ``softmax(z)``. Kinds:

- ``topk``: the ``k`` children with the largest gate (all of them if there are fewer);
- ``threshold`` ("variable-size top-k"): every child whose gate is >= ``threshold``, at least the best;
- ``fixed``: a fixed assignment, no randomness: ``assignment`` maps a domain (its index as a string, or
  the name of its home expert) to expert names; a request goes to the children holding any of them;
  domains without an entry go to their home child.

Selections are ordered by decreasing gate (the first pick composes / leads). Draws come from
``numpy.random.default_rng([seed, STREAM_ROUTER, router_index])``: deterministic per seed and node.

Cost: a route op runs on the router chiplet for ``fixed_cycles`` plus, when ``hidden > 0``, the GEMM of a
linear gate over the prompt, ``(prompt_tokens x hidden) @ (hidden x n_children)``, costed by the
component model like any other GEMM.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from eoesim.eoe.expert import Gemm
from eoesim.eoe.morphology import Node
from eoesim.eoe.requests import rng_for
from eoesim.errors import ConfigError

KINDS = ("topk", "threshold", "fixed")
STREAM_ROUTER = 10
DEFAULTS: dict[str, Any] = {
    "kind": "topk", "k": 1, "threshold": 0.25, "affinity": 2.0, "noise_std": 1.0, "assignment": {},
    "cost": {"fixed_cycles": 0, "hidden": 512},
}


@dataclass(frozen=True)
class Router:
    kind: str
    k: int
    threshold: float
    affinity: float
    noise_std: float
    assignment: Mapping[int, frozenset[str]] = field(default_factory=dict)
    fixed_cycles: int = 0
    hidden: int = 512

    def gemm(self, prompt_tokens: int, n_children: int) -> Gemm | None:
        """The gate GEMM of one request at a node with ``n_children`` candidates (None if hidden = 0)."""
        if self.hidden <= 0:
            return None
        return Gemm("router_gate", int(prompt_tokens), int(n_children), self.hidden)


def build_router(cfg: Mapping[str, Any] | None, expert_names: Sequence[str], n_domains: int,
                 path: str = "eoe.router") -> Router:
    cfg = {**DEFAULTS, **(cfg or {})}
    cost = {**DEFAULTS["cost"], **(cfg.get("cost") or {})}
    if cfg["kind"] not in KINDS:
        raise ConfigError(f"{path}.kind: {cfg['kind']!r} is not allowed; allowed: {list(KINDS)}")
    if int(cfg["k"]) < 1:
        raise ConfigError(f"{path}.k: {cfg['k']} is not allowed; allowed: an integer >= 1")
    if not 0 < float(cfg["threshold"]) <= 1:
        raise ConfigError(f"{path}.threshold: {cfg['threshold']} is not allowed; allowed: a number in (0, 1]")
    names = list(expert_names)
    assignment: dict[int, frozenset[str]] = {}
    for key, targets in (cfg.get("assignment") or {}).items():
        key_s = str(key)
        if key_s in names:
            doms = [d for d in range(n_domains) if names[d % len(names)] == key_s]
        elif key_s.isdigit() and int(key_s) < n_domains:
            doms = [int(key_s)]
        else:
            raise ConfigError(f"{path}.assignment.{key_s}: not a domain; allowed: a domain index "
                              f"0..{n_domains - 1} or an expert name {names}")
        targets = [targets] if isinstance(targets, str) else list(targets)
        bad = [t for t in targets if t not in names]
        if bad or not targets:
            raise ConfigError(f"{path}.assignment.{key_s}: {bad or targets!r} are not experts; allowed: {names}")
        for d in doms:
            assignment[d] = frozenset(targets)
    return Router(kind=cfg["kind"], k=int(cfg["k"]), threshold=float(cfg["threshold"]),
                  affinity=float(cfg["affinity"]), noise_std=float(cfg["noise_std"]), assignment=assignment,
                  fixed_cycles=int(cost["fixed_cycles"]), hidden=int(cost["hidden"]))


def home_child(node: Node, expert_names: Sequence[str], n_domains: int) -> np.ndarray:
    """For every domain, the index of the node's child holding its home expert (else ``d mod n``)."""
    n = len(node.children)
    where = {leaf: j for j, c in enumerate(node.children) for leaf in c.leaves()}
    return np.array([where.get(expert_names[d % len(expert_names)], d % n) for d in range(n_domains)],
                    dtype=np.int64)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def route_node(router: Router, node: Node, domains: np.ndarray, expert_names: Sequence[str],
               n_domains: int, seed: int) -> list[list[int]]:
    """The selected child indices of every request at ``node`` (ordered by decreasing gate)."""
    n_req, n = int(domains.shape[0]), len(node.children)
    home = home_child(node, expert_names, n_domains)
    if router.kind == "fixed":
        per_domain = []
        for d in range(n_domains):
            targets = router.assignment.get(d)
            picks = [j for j, c in enumerate(node.children) if targets and targets & set(c.leaves())]
            per_domain.append(picks or [int(home[d])])
        return [per_domain[d] for d in domains.tolist()]
    rng = rng_for(seed, STREAM_ROUTER, node.index)
    z = rng.normal(0.0, router.noise_std, size=(n_req, n)) if router.noise_std > 0 else np.zeros((n_req, n))
    z[np.arange(n_req), home[domains]] += router.affinity
    order = np.argsort(-z, axis=1, kind="stable")
    if router.kind == "topk":
        return order[:, : min(router.k, n)].tolist()
    gate = np.take_along_axis(softmax(z), order, axis=1)
    count = np.maximum(1, (gate >= router.threshold).sum(axis=1))
    return [row[:c] for row, c in zip(order.tolist(), count.tolist())]


def expert_popularity(expert_names: Sequence[str], domain_popularity: np.ndarray) -> dict[str, float]:
    """Share of requests whose home expert each expert is (the 'hot' ranking for caching and mapping)."""
    pop = {n: 0.0 for n in expert_names}
    for d, p in enumerate(domain_popularity.tolist()):
        pop[expert_names[d % len(expert_names)]] += p
    return pop
