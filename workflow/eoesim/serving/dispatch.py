"""Walking a request through the EoE morphology: routers, composition, chains and graphs, as continuations.

``Dispatcher.start(r)`` runs request ``r`` from its arrival at the router chiplet. Each morphology node is
run with the number of context tokens it reads, the chiplet its input comes from, and two callbacks:
``first(t)`` when the node's first output token exists and ``done(t, chiplet)`` when its last one does.

- expert: the prompt's token ids move to the chosen replica's chiplet (a small package transfer); the
  expert is made resident on that instance's HBM stacks (loads on a miss, eoesim.serving.engine); then a
  sequence of ``context`` prompt tokens and the request's output tokens is queued at the instance.
- router: token ids to the router chiplet, optional prefetch of the node's most popular experts (started
  on reaching the router, so the loads overlap the gate), the gate (its GEMM on the router chiplet), then
  the picks (a sub-router is routed in turn; picks are experts):
  one pick runs alone; ``representation_average`` runs the picks as one lock-step group whose tokens are
  composed on the first pick's chiplet; ``weight_summation`` runs the merged expert on the first pick's
  instance; ``sequential_aggregation`` runs the picks one after the other, each reading the prompt and
  the previous pick's output (every pick starts loading when routed).
- chain: stages in order, each reading the prompt plus the previous stage's output (token ids moved
  between chiplets); graph: branches in parallel, then the manager reads the prompt plus every branch's
  output and generates the answer.
"""
from __future__ import annotations

from typing import Any, Callable

from eoesim.eoe.expert import TOKEN_ID_BYTES
from eoesim.eoe.morphology import Node

First = Callable[[float], Any]
Done = Callable[[float, int], Any]


class Dispatcher:
    """Runs requests through the morphology on an engine (eoesim.serving.engine.Engine)."""

    def __init__(self, engine) -> None:
        self.e = engine
        self.prompt = engine.requests.prompt_tokens.tolist()  # per request, as Python ints
        self.output = engine.requests.output_tokens.tolist()

    def start(self, r: int) -> None:
        e = self.e
        p = self.prompt[r]

        def first(t: float) -> None:
            e.request_first(r, t)

        def done(t: float, _chip: int) -> None:
            e.request_done(r, t)

        self.node(e.morph.root, r, p, e.router_chiplet, e.now, first, done)

    # --- nodes -----------------------------------------------------------------------------------------
    def node(self, node: Node, r: int, ctx: int, src: int, t: float, first: First, done: Done) -> None:
        if node.kind == "expert":
            self.expert(node.name, r, ctx, src, t, first, done)
        elif node.kind == "router":
            self.router(node, r, ctx, src, t, first, done)
        elif node.kind == "chain":
            self.chain(node, 0, r, ctx, src, t, first, done)
        else:
            self.graph(node, r, ctx, src, t, first, done)

    def expert(self, name: str, r: int, ctx: int, src: int, t: float, first: First, done: Done,
               inst=None, group=None, weight: float = 1.0) -> None:
        e = self.e
        inst = inst or e.choose_instance(name, r)
        dt = e.small_transfer(src, inst.chips[0], ctx * TOKEN_ID_BYTES, t)
        seq = e.submit(name, inst, r, ctx, self.output[r], t + dt, first, lambda tt: done(tt, inst.chips[0]), group)
        seq.weight = weight
        e.attribute(r, "network", dt * weight)

    def router(self, node: Node, r: int, ctx: int, src: int, t: float, first: First, done: Done) -> None:
        e = self.e
        dt = e.small_transfer(src, e.router_chiplet, ctx * TOKEN_ID_BYTES, t)
        e.attribute(r, "network", dt)
        picks, t = self.select(node, r, ctx, t + dt)
        # the picks start when the gate has decided: their transfers and replica choices see the package then
        e.at(t, self.run_picks, picks, r, ctx, first, done)

    def run_picks(self, picks: list[Node], r: int, ctx: int, first: First, done: Done) -> None:
        e = self.e
        t = e.now
        if len(picks) == 1:
            self.node(picks[0], r, ctx, e.router_chiplet, t, first, done)
            return
        kind = e.composition
        if kind == "sequential_aggregation":
            for p in picks:
                e.prefetch_expert(p.name, r, t)
            self.sequence(picks, 0, r, ctx, e.router_chiplet, t, first, done)
        elif kind == "weight_summation":
            e.run_merged([p.name for p in picks], r, ctx, t, first, done)
        else:
            e.run_group([p.name for p in picks], r, ctx, t, first, done)

    def select(self, node: Node, r: int, ctx: int, t: float) -> tuple[list[Node], float]:
        """The expert nodes picked at ``node`` (sub-routers routed in turn), and when routing ends."""
        e = self.e
        if e.prefetch_n:  # on reaching the router, while the gate runs (mapping.prefetch)
            for name in e.hot_leaves[id(node)][: e.prefetch_n]:
                e.prefetch_expert(name, r, t)
        dt = e.route_delay(node, ctx)
        e.attribute(r, "routing", dt)
        t = t + dt
        picks: list[Node] = []
        end = t
        for j in e.decisions[node.index][r]:
            child = node.children[j]
            if child.kind == "router":
                sub, tt = self.select(child, r, ctx, t)
                picks.extend(sub)
                end = max(end, tt)
            else:
                picks.append(child)
        return picks, end

    def sequence(self, picks: list[Node], i: int, r: int, ctx: int, src: int, t: float, first: First,
                 done: Done) -> None:
        """Picks (or chain stages) one after the other; the last one's tokens answer."""
        last = i == len(picks) - 1

        def stage_done(tt: float, chip: int) -> None:
            if last:
                done(tt, chip)
            else:
                self.sequence(picks, i + 1, r, self.prompt[r] + self.output[r], chip, tt, first, done)

        self.node(picks[i], r, ctx, src, t, first if last else _ignore, stage_done)

    def chain(self, node: Node, i: int, r: int, ctx: int, src: int, t: float, first: First, done: Done) -> None:
        e = self.e
        if e.prefetch_n and i + 1 < len(node.children):
            for name in e.hot_leaves[id(node.children[i + 1])][: e.prefetch_n]:
                e.prefetch_expert(name, r, t)
        self.sequence(node.children, i, r, ctx, src, t, first, done)

    def graph(self, node: Node, r: int, ctx: int, src: int, t: float, first: First, done: Done) -> None:
        e = self.e
        assert node.manager is not None
        mgr = node.manager.name
        minst = e.choose_instance(mgr, r)
        if e.prefetch_n:
            e.prefetch_expert(mgr, r, t)
        out = self.output[r]
        pending = {"n": len(node.children), "t": t}
        mctx = self.prompt[r] + len(node.children) * out

        def branch_done(tt: float, chip: int) -> None:
            arrive = tt + e.small_transfer(chip, minst.chips[0], out * TOKEN_ID_BYTES, tt)
            pending["n"] -= 1
            pending["t"] = max(pending["t"], arrive)
            if pending["n"] == 0:
                self.expert(mgr, r, mctx, minst.chips[0], pending["t"], first, done, inst=minst)

        for b in node.children:
            self.node(b, r, ctx, src, t, _ignore, branch_done)


def _ignore(_t: float) -> None:
    return None
