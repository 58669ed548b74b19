"""EoE morphologies (chain, tree, graph) as a tree of nodes, and the stage DAG they imply.

Config (``eoe.morphology``, validated, defaults filled):

- ``kind: chain`` with ``chain: [a, [b, c], d]`` - stages run one after another; a plain name is a stage
  of one expert, a list is a routed stage (a router picks among the listed experts and the picks are
  composed). Default: every expert of ``eoe.experts`` as its own stage, in config order.
- ``kind: tree`` with ``tree: {root: [code, chat], code: [py, cpp], chat: [en, de]}`` - an adjacency
  list; ``root`` is the top router; a child that is a key of the mapping is a sub-router (a type ->
  subtype hierarchy), any other child must be an expert. Default: ``{root: [every expert]}``.
- ``kind: graph`` with ``branches: [{kind: chain, chain: [...]}, {kind: tree, tree: {...}}]`` and
  ``manager: name`` - the branches run in parallel on the request and all feed the manager expert.

Nodes are ``expert`` (runs one expert), ``router`` (routes among its children, every child an expert or
a router), ``chain`` (children are stages) and ``graph`` (children are branches, plus ``manager``).
``Morphology.dag()`` lists the router/expert/composition stages and their edges (for reports and
figures); the stitcher walks the node tree per request.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from eoesim.errors import ConfigError

KINDS = ("chain", "tree", "graph")


@dataclass
class Node:
    kind: str  # expert | router | chain | graph
    name: str
    children: list["Node"] = field(default_factory=list)
    manager: "Node | None" = None
    index: int = -1  # router nodes: position in Morphology.routers

    @property
    def expert(self) -> str:
        return self.name

    def leaves(self) -> list[str]:
        """Experts under this node, depth first (the manager of a graph last)."""
        if self.kind == "expert":
            return [self.name]
        out = [x for c in self.children for x in c.leaves()]
        if self.manager is not None:
            out.append(self.manager.name)
        return out


@dataclass
class Morphology:
    kind: str
    root: Node
    routers: list[Node]

    def placement_order(self) -> list[str]:
        """Experts in the order neighbouring stages appear (used to place them on adjacent chiplets)."""
        seen, order = set(), []
        for name in self.root.leaves():
            if name not in seen:
                seen.add(name)
                order.append(name)
        return order

    def dag(self) -> dict[str, Any]:
        """The stage DAG: router, expert and composition stages with their edges (ids are strings)."""
        stages: list[dict[str, str]] = []
        edges: list[tuple[str, str]] = []

        def add(kind: str, name: str) -> str:
            sid = f"{kind}:{name}"
            stages.append({"id": sid, "kind": kind, "name": name})
            return sid

        def walk(node: Node, preds: list[str]) -> list[str]:
            if node.kind == "expert":
                sid = add("expert", node.name)
                edges.extend((p, sid) for p in preds)
                return [sid]
            if node.kind == "router":
                rid = add("router", node.name)
                edges.extend((p, rid) for p in preds)
                outs = [x for c in node.children for x in (walk(c, [rid]) if c.kind == "expert" else _inner(c, rid))]
                cid = add("composition", node.name)
                edges.extend((o, cid) for o in outs)
                return [cid]
            if node.kind == "chain":
                cur = preds
                for c in node.children:
                    cur = walk(c, cur)
                return cur
            # graph
            outs = [x for b in node.children for x in walk(b, preds)]
            assert node.manager is not None
            return walk(node.manager, outs)

        def _inner(router: Node, parent: str) -> list[str]:
            # a sub-router's leaves are composed by the top router of the tree, so no composition stage
            rid = add("router", router.name)
            edges.append((parent, rid))
            return [x for c in router.children for x in (walk(c, [rid]) if c.kind == "expert" else _inner(c, rid))]

        walk(self.root, [])
        return {"kind": self.kind, "stages": stages, "edges": [list(e) for e in edges]}


def _manager_in_branch(name: str, manager: str | None, experts: set[str], where: str) -> None:
    """A graph's manager named inside one of its branches: say that, not that it is no expert."""
    if manager is not None and name == manager:
        raise ConfigError(f"{where}: {name!r} is the graph's manager (eoe.morphology.manager), which aggregates "
                          f"the branches and cannot be in one; allowed: the other experts {sorted(experts)}")


def _tree(adj: Mapping[str, Sequence[str]], experts: set[str], path: str, prefix: str,
          manager: str | None = None) -> Node:
    if "root" not in adj:
        raise ConfigError(f"{path}: no 'root' key; allowed: an adjacency mapping with a 'root' router")
    clash = sorted(set(adj) & experts)
    if clash:
        raise ConfigError(f"{path}: router names {clash} are also expert names; allowed: distinct names")
    used: set[str] = set()

    def build(name: str, stack: tuple[str, ...]) -> Node:
        if name in stack:
            raise ConfigError(f"{path}.{name}: cycle {' -> '.join(stack + (name,))}; allowed: a tree")
        kids = list(adj[name] or [])
        if not kids:
            raise ConfigError(f"{path}.{name}: no children; allowed: a list of at least one expert or router")
        children = []
        for kid in kids:
            if kid in used:
                raise ConfigError(f"{path}.{name}: {kid!r} appears twice in the tree; allowed: each node once")
            used.add(kid)
            if kid in adj:
                children.append(build(kid, stack + (name,)))
            elif kid in experts:
                children.append(Node("expert", kid))
            else:
                _manager_in_branch(kid, manager, experts, f"{path}.{name}")
                raise ConfigError(f"{path}.{name}: {kid!r} is neither an expert nor a router of the tree; "
                                  f"allowed: experts {sorted(experts)} or routers {sorted(adj)}")
        return Node("router", f"{prefix}{name}", children)

    root = build("root", ())
    unreachable = sorted(set(adj) - used - {"root"})
    if unreachable:
        raise ConfigError(f"{path}: routers {unreachable} are not reachable from root; allowed: a connected tree")
    return root


def _chain(stages: Sequence[Any], experts: set[str], path: str, prefix: str, manager: str | None = None) -> Node:
    if not stages:
        raise ConfigError(f"{path}: empty; allowed: a list of expert names or lists of expert names")
    children = []
    for i, st in enumerate(stages):
        names = [st] if isinstance(st, str) else list(st)
        for n in names:
            if n not in experts:
                _manager_in_branch(n, manager, experts, f"{path}[{i}]")
                raise ConfigError(f"{path}[{i}]: {n!r} is not an expert; allowed: {sorted(experts)}")
        if isinstance(st, str):
            children.append(Node("expert", st))
        else:
            if not names:
                raise ConfigError(f"{path}[{i}]: empty stage; allowed: at least one expert")
            children.append(Node("router", f"{prefix}stage{i}", [Node("expert", n) for n in names]))
    return Node("chain", prefix.rstrip("/") or "chain", children)


def _sub(cfg: Mapping[str, Any], kind: str, names: list[str], path: str, prefix: str,
         manager: str | None = None) -> Node:
    experts = set(names)
    if kind == "chain":
        return _chain(cfg.get("chain") or names, experts, f"{path}.chain", prefix, manager)
    if kind == "tree":
        return _tree(cfg.get("tree") or {"root": names}, experts, f"{path}.tree", prefix, manager)
    raise ConfigError(f"{path}.kind: {kind!r} is not allowed; allowed: {list(KINDS)}")


def build_morphology(cfg: Mapping[str, Any] | None, expert_names: Sequence[str],
                     path: str = "eoe.morphology") -> Morphology:
    cfg = dict(cfg or {})
    kind = cfg.get("kind", "tree")
    names = list(expert_names)
    if kind in ("chain", "tree"):
        root = _sub(cfg, kind, names, path, "")
    elif kind == "graph":
        branches = cfg.get("branches") or []
        manager = cfg.get("manager")
        if not branches or manager is None:
            raise ConfigError(f"{path}: kind graph needs branches (a list of chains/trees) and manager (an expert)")
        if manager not in names:
            raise ConfigError(f"{path}.manager: {manager!r} is not an expert; allowed: {sorted(names)}")
        subs = []
        for i, b in enumerate(branches):
            bkind = b.get("kind", "chain")
            if bkind not in ("chain", "tree"):
                raise ConfigError(f"{path}.branches[{i}].kind: {bkind!r} is not allowed; allowed: ['chain', 'tree']")
            subs.append(_sub(b, bkind, [n for n in names if n != manager], f"{path}.branches[{i}]", f"b{i}/",
                             manager))
        for i, s in enumerate(subs):
            if manager in s.leaves():
                raise ConfigError(f"{path}.branches[{i}]: contains the manager {manager!r}; allowed: other experts")
        root = Node("graph", "graph", subs, manager=Node("expert", manager))
    else:
        raise ConfigError(f"{path}.kind: {kind!r} is not allowed; allowed: {list(KINDS)}")
    routers: list[Node] = []

    def number(node: Node) -> None:
        if node.kind == "router":
            node.index = len(routers)
            routers.append(node)
        for c in node.children:
            number(c)

    number(root)
    return Morphology(kind=kind, root=root, routers=routers)
