"""Lowering: the requests of one EoE design point -> ops on contended resources, with dependencies.

Resources: one per chiplet, ``hbm``, ``ddr``, ``ssd`` (one server each) and ``network`` (a pool of
``hardware.package.network_channels`` parallel channels, by default the mesh bisection links). Every
request arrives at the router chiplet (``mapping.router_chiplet``) at its ``arrival_s``; no op of a
request starts before that.

Per request the morphology is walked (see eoe.morphology):

- router node: ``route`` on the router chiplet (after the prompt's token ids reached it), then the
  picked children; sub-routers route after their parent. With ``mapping.prefetch = n > 0`` (and a
  non-static cache) the n most popular experts under the node start loading when routing starts.
- expert run: ``transfer`` of the input token ids to the expert's (first) chiplet and, if the expert is
  not in HBM, in parallel ``load_ssd`` (SSD -> DDR) and/or ``load_ddr`` (DDR -> HBM) (see eoe.caching;
  a request finding an expert whose load is still in flight waits for that load); ``prefill`` on
  every shard chiplet (HBM traffic: the weights streamed once, the prompt's KV written); then the
  remaining ``output_tokens - 1`` tokens as ``decode`` ops (HBM traffic: the weights per token, the
  attended KV read, one token's KV written per token), grouped ``decode_chunk_tokens`` tokens per op
  (0 = all in one op); multi-chiplet experts end each pass with an ``allreduce`` on the network. The
  prefill produces the first output token.
- composition of several picks (eoe.composition): representation averaging adds ``transfer`` of hidden
  states to the first pick's chiplet and a ``compose`` op after the prefill (first token) and after
  every decode chunk, and the next chunk waits for it; weight summation loads the picks and runs
  ``merge`` (with its HBM traffic) unless the merged expert is cached, then runs it; sequential
  aggregation runs the picks one after another, each reading prompt + previous output (every pick
  starts loading as soon as it is routed).
- chain: stages in order, each reading prompt + previous stage's output (token ids moved between
  chiplets); graph: branches in parallel, then their outputs move to the manager, which prefills
  prompt + all branch outputs and generates the answer.

A compute phase (prefill, decode, merge) is one op holding two resources: it starts when its chiplet
and HBM are both free, holds HBM for its transfer time and the chiplet until both its compute and its
transfer are done (the roofline max on an idle system: a chiplet cannot compute ahead of its weights).
Lowering happens in arrival order, which also decides cache residency.

Failures (``failures``, see eoesim.stitch.failures): when lowering reaches the first request arriving at or
after a chiplet failure, the reloads of the failed chiplet's experts are emitted (released at the
failure, request -1) and the requests from there on are lowered onto the mapping after the failure.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from eoesim.eoe.caching import ExpertCache
from eoesim.eoe.composition import (average_gemm, check_composable, hidden_bytes, merge_gemm, merge_memory_bytes,
                                    merged_name)
from eoesim.eoe.expert import (DEFAULT_BYTES_PER_WEIGHT, TOKEN_ID_BYTES, Expert, kv_bytes_per_token, param_bytes,
                               resolve_experts, streamed_weight_bytes)
from eoesim.eoe.hardware import Hardware, build_hardware
from eoesim.eoe.mapping import build_mapping
from eoesim.eoe.morphology import Node, build_morphology
from eoesim.eoe.requests import DEFAULTS as REQUEST_DEFAULTS
from eoesim.eoe.requests import Requests, generate_requests, zipf_popularity
from eoesim.eoe.router import build_router, expert_popularity, route_node
from eoesim.errors import ConfigError
from eoesim.stitch.components import ComponentModel, TableComponentModel
from eoesim.stitch.costs import CostBook, allreduce_bytes
from eoesim.stitch.energy import COMPONENTS, EnergyModel
from eoesim.stitch.failures import ChipletFailure, FailureRun, disruptions, plan_failures
from eoesim.stitch.scheduler import Disruptions

OP_KINDS = ("route", "load_ssd", "load_ddr", "prefetch_ssd", "prefetch_ddr", "prefill", "decode", "transfer",
            "allreduce", "compose", "merge")
(K_ROUTE, K_LOAD_SSD, K_LOAD_DDR, K_PF_SSD, K_PF_DDR, K_PREFILL, K_DECODE, K_TRANSFER, K_ALLREDUCE, K_COMPOSE,
 K_MERGE) = range(len(OP_KINDS))
#: energy component of each op kind's primary cost (a secondary cost is always HBM traffic; loads also
#: write their destination tier, which is added separately; the SRAM joules of GEMM costs go to ``sram``)
KIND_COMPONENT = ("compute", "ssd", "ddr", "ssd", "ddr", "compute", "compute", "network", "network", "compute",
                  "compute")
COMPOSITION_DEFAULT = "representation_average"
STITCH_DEFAULTS: dict[str, Any] = {"decode_chunk_tokens": 0}


@dataclass(frozen=True)
class Resource:
    name: str
    group: str  # chiplet | memory | ssd | network
    servers: int


@dataclass
class OpGraph:
    """The lowered ops of one design point, as parallel arrays (one entry per op)."""

    resources: list[Resource]
    res: np.ndarray  # resource index
    dur: np.ndarray  # seconds of service on ``res``
    rel: np.ndarray  # relative error of dur (0 when unknown)
    res2: np.ndarray  # secondary resource held from the same start (HBM for compute phases), -1 for none
    dur2: np.ndarray  # seconds of service on ``res2`` (0 when none)
    rel2: np.ndarray
    release: np.ndarray  # earliest start (the request's arrival), seconds
    kind: np.ndarray  # index into OP_KINDS
    req: np.ndarray  # request index, -1 for none
    label: np.ndarray  # index into label_names (fidelity:source of the op's parts)
    dep_src: np.ndarray  # dependency edges: dep_dst[i] waits for dep_src[i]
    dep_dst: np.ndarray
    nbytes: np.ndarray  # bytes moved by the op on ``res`` (transfers, loads; 0 for compute)
    nbytes2: np.ndarray  # bytes moved on ``res2`` (the HBM traffic of compute phases)
    transfers: np.ndarray  # float rows (op, source chiplet, destination chiplet, bytes) of network traffic
    loads: list[tuple[int, str]]  # (op, expert) of every SSD read (load_ssd / prefetch_ssd)
    first_req: np.ndarray  # (request, op) pairs whose latest finish is the request's first token
    first_op: np.ndarray
    end_req: np.ndarray  # (request, op) pairs whose latest finish completes the request
    end_op: np.ndarray
    label_names: list[str]
    energy_j: dict[str, float]
    has_rel: bool
    requests: Requests
    cache: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)
    gemms: list = field(default_factory=list)  # every distinct GEMM the component model was asked about
    failure: FailureRun | None = None  # the point's failures (None: nothing fails)

    @property
    def n_ops(self) -> int:
        return int(self.res.shape[0])

    @property
    def disruptions(self) -> Disruptions | None:
        """What the scheduler must apply (failures), or None."""
        return self.failure.disruptions if self.failure is not None else None


class _Lowerer:
    def __init__(self, params: Mapping[str, Any], model: ComponentModel | None, seed: int,
                 base_dir: str | Path | None, energy: EnergyModel | None) -> None:
        eoe = params.get("eoe") or {}
        specs = eoe.get("experts") or [{"name": "tiny", "preset": "tiny-25m"}]
        experts = resolve_experts(specs)
        names = [e.name for e in experts]
        self.experts = {e.name: e for e in experts}
        self.hw: Hardware = build_hardware(params.get("hardware"))
        self.morph = build_morphology(eoe.get("morphology"), names)
        rcfg = {**REQUEST_DEFAULTS, **(eoe.get("requests") or {})}
        n_domains = int(rcfg["domains"] or len(names))
        self.requests = generate_requests(rcfg, n_domains, seed, base_dir,
                                          domain_names={n: i for i, n in enumerate(names) if i < n_domains})
        self.router = build_router(eoe.get("router"), names, n_domains)
        self.comp = (eoe.get("composition") or {}).get("kind", COMPOSITION_DEFAULT)
        for node in self.morph.routers:
            check_composable(self.comp, [self.experts[x] for x in node.leaves()])
        if rcfg["arrival"] == "trace":
            counts = np.bincount(self.requests.domain, minlength=n_domains).astype(float)
            dom_pop = counts / counts.sum()
        else:
            dom_pop = zipf_popularity(n_domains, float(rcfg["zipf_skew"]))
        self.popularity = expert_popularity(names, dom_pop)
        order = self.morph.placement_order()
        mcfg = dict(params.get("mapping") or {})
        self.mapping = build_mapping(mcfg, order, self.hw, self.popularity)
        self.sizes = {e: param_bytes(self.experts[e]) for e in order}
        self.cache = ExpertCache(mcfg.get("cache_policy", "lru"), self.hw.hbm.capacity_bytes,
                                 self.hw.ddr.capacity_bytes, self.sizes, self.popularity, mcfg.get("hot_set"))
        self.prefetch_n = int(mcfg.get("prefetch") or 0)  # true = 1
        if self.prefetch_n < 0:
            raise ConfigError(f"mapping.prefetch: {self.prefetch_n} is not allowed; "
                              "allowed: a boolean or an integer >= 0")
        if self.cache.policy == "static":
            self.prefetch_n = 0  # nothing moves under a static hot set
        self.failures = plan_failures(params.get("failures"), self.hw, self.mapping, self.popularity, self.sizes)
        scfg = {**STITCH_DEFAULTS, **(params.get("stitch") or {})}
        self.chunk = int(scfg["decode_chunk_tokens"])
        if self.chunk < 0:
            raise ConfigError(f"stitch.decode_chunk_tokens: {self.chunk} is not allowed; allowed: an integer >= 0")
        self.energy_model = energy or EnergyModel()
        self.model = model or TableComponentModel.nominal(self.hw)
        self.costs = CostBook(self.model, self.hw.chiplet, self.energy_model)
        c = self.hw.n_chiplets
        self.resources = [Resource(f"chiplet {i} {self.hw.coords(i)}", "chiplet", 1) for i in range(c)] + [
            Resource("hbm", "memory", 1), Resource("ddr", "memory", 1), Resource("ssd", "ssd", 1),
            Resource("network", "network", self.hw.network_channels)]
        self.HBM, self.DDR, self.SSD, self.NET = c, c + 1, c + 2, c + 3
        self.hops = [[self.hw.hops(a, b) for b in range(c)] for a in range(c)]
        self.wbytes: dict[str, float] = {}
        self.kvb: dict[str, float] = {}
        for e in experts:
            self._bytes_of(e)
        self.rchip = self.mapping.router_chiplet
        self.decisions = [route_node(self.router, node, self.requests.domain, names, n_domains, seed)
                          for node in self.morph.routers]
        self.hot_leaves = {id(node): sorted(node.leaves(), key=lambda e: (-self.popularity[e], order.index(e)))
                           for node in self._all_nodes(self.morph.root)}
        # op columns under construction (costs are ids into self.costs)
        self.ops: list[int] = []  # flat (resource, cost id, kind, resource2, cost id2) tuples
        self.d_cnt: list[int] = []  # per op: number of dependencies
        self.d_src: list[int] = []  # the dependencies, op after op
        self.req_start: list[int] = []  # first op index of each request (ops are emitted request by request)
        self._compose: dict[tuple, int] = {}
        self.xfers: list[float] = []  # flat (op, src, dst, bytes)
        self.ssd_ops: list[tuple[int, str]] = []
        self._route: dict[tuple, int] = {}
        self.first: list[tuple[int, int]] = []
        self.end: list[tuple[int, int]] = []
        self.extra_energy = dict.fromkeys(COMPONENTS, 0.0)
        self.ready: dict[Any, list[int]] = {}
        self.ddr_ready: dict[Any, int] = {}
        self.fail_ops: list[int] = []  # reload ops of failures, released at their failure
        self.fail_release: list[float] = []
        self.gates: list[list[int]] = []  # per chiplet failure: its reload ops
        self.reload_src: list[dict[str, str]] = []  # per chiplet failure: expert -> tier reloaded from

    @staticmethod
    def _all_nodes(node: Node):
        yield node
        for c in node.children:
            yield from _Lowerer._all_nodes(c)
        if node.manager is not None:
            yield node.manager

    def _bytes_of(self, e: Expert) -> None:
        if e.name not in self.wbytes:
            self.wbytes[e.name] = streamed_weight_bytes(e)
            self.kvb[e.name] = kv_bytes_per_token(e)

    # --- op construction -------------------------------------------------------------------------
    def op(self, res: int, cost: int, kind: int, deps: list[int], res2: int = -1, cost2: int = -1) -> int:
        """Append an op (resource, cost id, kind; optionally a secondary resource and cost, held from the
        same start) waiting for ``deps``; returns its index."""
        cnt = self.d_cnt
        i = len(cnt)
        cnt.append(len(deps))
        self.d_src.extend(deps)
        self.ops.extend((res, cost, kind, res2, cost2))
        return i

    def transfer(self, src: int, dst: int, nbytes: float, deps: list[int]) -> list[int]:
        if src == dst:
            return deps
        i = self.op(self.NET, self.costs.network(nbytes, self.hops[src][dst]), K_TRANSFER, deps)
        self.xfers.extend((i, src, dst, nbytes))
        return [i]

    def ensure_loaded(self, key: Any, size: float, deps: list[int], prefetch: bool = False) -> list[int]:
        """Ops after which ``key`` is in HBM (loads added on a miss)."""
        tier = self.cache.access(key, size, prefetch)
        if tier == "hbm":
            return self.ready.get(key, [])
        em = self.energy_model
        if tier == "ssd":
            s_op = self.op(self.SSD, self.costs.ssd(size), K_PF_SSD if prefetch else K_LOAD_SSD, deps)
            self.ssd_ops.append((s_op, key))
            self.extra_energy["ddr"] += em.memory_j(size, "ddr")  # written into DDR
            self.ddr_ready[key] = s_op
            deps = [s_op]
        elif key in self.ddr_ready:
            deps = deps + [self.ddr_ready[key]]
        d_op = self.op(self.DDR, self.costs.memory(size, "ddr"), K_PF_DDR if prefetch else K_LOAD_DDR, deps)
        self.extra_energy["hbm"] += em.memory_j(size, "hbm")  # written into HBM
        if self.cache.policy != "static":
            self.ready[key] = [d_op]
        return [d_op]

    def fail_chiplet(self, f: ChipletFailure) -> None:
        """Reload the failed chiplet's experts that are in HBM (from DDR, else SSD -> DDR) for its
        replacement, released at the failure; lower later requests onto the mapping after it."""
        em, gate, src = self.energy_model, [], {}
        for name, nbytes in f.moved:
            if self.cache.resident(name) != "hbm":
                continue
            deps: list[int] = []
            if name not in self.cache.ddr.items:
                s_op = self.op(self.SSD, self.costs.ssd(nbytes), K_LOAD_SSD, [])
                self.ssd_ops.append((s_op, name))
                self.extra_energy["ddr"] += em.memory_j(nbytes, "ddr")
                self.fail_ops.append(s_op)
                deps = [s_op]
            d_op = self.op(self.DDR, self.costs.memory(nbytes, "ddr"), K_LOAD_DDR, deps)
            self.extra_energy["hbm"] += em.memory_j(nbytes, "hbm")
            self.fail_ops.append(d_op)
            gate.append(d_op)
            self.ready[name] = [d_op]
            src[name] = "ssd" if deps else "ddr"
        self.fail_release += [f.at_s] * (len(self.fail_ops) - len(self.fail_release))
        self.gates.append(gate)
        self.reload_src.append(src)
        self.mapping = f.mapping_after
        self.rchip = f.mapping_after.router_chiplet

    def prefetch(self, names: list[str], deps: list[int]) -> None:
        for name in names[: self.prefetch_n]:
            if self.cache.resident(name) != "hbm":
                self.ensure_loaded(name, self.sizes[name], deps, prefetch=True)

    # --- expert runs -----------------------------------------------------------------------------
    def phase(self, e: Expert, chips: tuple[int, ...], deps: list[int], prefill: bool, a: int, b: int) -> list[int]:
        # HBM bytes: prefill streams the weights once and writes the prompt's KV; decode steps at contexts
        # a..b-1 stream the weights per step, read the attended KV and write one token's KV each
        s = len(chips)
        w, kv = self.wbytes[e.name], self.kvb[e.name]
        if prefill:
            cost, mbytes, tokens, steps, kind = self.costs.prefill(e, s, a), w + a * kv, a, 1, K_PREFILL
        else:
            steps = b - a
            cost, mbytes, tokens, kind = self.costs.decode(e, s, a, b), steps * w + kv * (
                (a + b - 1) * steps / 2 + steps), 1, K_DECODE
        mem = self.costs.memory(mbytes / s, "hbm")
        if s == 1:
            return [self.op(chips[0], cost, kind, deps, self.HBM, mem)]
        outs = [self.op(ch, cost, kind, deps, self.HBM, mem) for ch in chips]
        per, total = allreduce_bytes(e, tokens, s, steps)
        i = self.op(self.NET, self.costs.network(per, 1, total), K_ALLREDUCE, outs)
        for j in range(s):  # ring all-reduce: every shard sends `per` bytes to the next
            self.xfers.extend((i, chips[j], chips[(j + 1) % s], per))
        return [i]

    def run_expert(self, e: Expert, chips: tuple[int, ...], deps: list[int], src: int, ctx: int,
                   loaded: list[int] | None = None, key: Any = None):
        """(first-token ops, end ops, output chiplet) of one expert reading ``ctx`` tokens."""
        if loaded is None:  # the load starts with the input transfer, once the expert is known to be needed
            loaded = self.ensure_loaded(key or e.name, self.sizes[e.name], deps)
        deps = self.transfer(src, chips[0], ctx * TOKEN_ID_BYTES, deps)
        ends = self.phase(e, chips, deps + loaded, True, ctx, ctx)
        first = ends
        o = self.o_tok
        t = 1
        while t < o:
            t1 = min(o, t + self.chunk) if self.chunk else o
            ends = self.phase(e, chips, ends, False, ctx + t, ctx + t1)
            t = t1
        return first, ends, chips[0]

    # --- routing and composition ------------------------------------------------------------------
    def route(self, node: Node, deps: list[int], tokens: int) -> int:
        key = (len(node.children), tokens)
        cost = self._route.get(key)
        if cost is None:
            g = self.router.gemm(tokens, len(node.children))
            cost = self._route[key] = (
                self.costs.gemm_op(g, DEFAULT_BYTES_PER_WEIGHT, self.router.fixed_cycles) if g is not None
                else self.costs.fixed_cycles_op(self.router.fixed_cycles))
        return self.op(self.rchip, cost, K_ROUTE, deps)

    def select(self, node: Node, deps: list[int], tokens: int) -> list[tuple[str, int]]:
        ro = self.route(node, deps, tokens)
        if self.prefetch_n:
            self.prefetch(self.hot_leaves[id(node)], deps)
        picks: list[tuple[str, int]] = []
        for j in self.decisions[node.index][self.r]:
            child = node.children[j]
            if child.kind == "expert":
                picks.append((child.name, ro))
            else:
                picks.extend(self.select(child, [ro], tokens))
        return picks

    def routed(self, node: Node, deps: list[int], src: int, tokens: int):
        deps = self.transfer(src, self.rchip, tokens * TOKEN_ID_BYTES, deps)
        picks = self.select(node, deps, tokens)
        r, rc = self.r, self.rchip
        if len(picks) == 1:
            name, ro = picks[0]
            return self.run_expert(self.experts[name], self.mapping.replica(name, r), [ro], rc, tokens)
        if self.comp == "sequential_aggregation":
            first, ends, chip, ctx = [], [], rc, tokens
            for name, ro in picks:  # every pick starts loading once routed, not when its turn comes
                loaded = self.ensure_loaded(name, self.sizes[name], [ro])
                first, ends, chip = self.run_expert(self.experts[name], self.mapping.replica(name, r),
                                                    [ro] + ends, chip, ctx, loaded=loaded)
                ctx = self.p_tok + self.o_tok
            return first, ends, chip
        if self.comp == "weight_summation":
            return self.weight_summation(picks, tokens)
        return self.representation_average(picks, tokens)

    def representation_average(self, picks: list[tuple[str, int]], tokens: int):
        r = self.r
        runs = []
        for name, ro in picks:
            e = self.experts[name]
            chips = self.mapping.replica(name, r)
            loaded = self.ensure_loaded(name, self.sizes[name], [ro])
            deps = self.transfer(self.rchip, chips[0], tokens * TOKEN_ID_BYTES, [ro])
            runs.append((e, chips, self.phase(e, chips, deps + loaded, True, tokens, tokens)))
        home = runs[0][1][0]
        prev = self.compose(1, runs, home)
        first = prev
        o, t = self.o_tok, 1
        while t < o:
            t1 = min(o, t + self.chunk) if self.chunk else o
            parts = [(e, chips, self.phase(e, chips, prev, False, tokens + t, tokens + t1)) for e, chips, _ in runs]
            prev = self.compose(t1 - t, parts, home)
            t = t1
        return first, prev, home

    def compose(self, ntok: int, parts: list, home: int) -> list[int]:
        """Move the parts' hidden states of ``ntok`` tokens to ``home`` and average them there."""
        deps: list[int] = []
        for e, chips, ends in parts:
            deps += self.transfer(chips[0], home, hidden_bytes(e, ntok), ends)
        lead = parts[0][0]
        key = (len(parts), ntok, lead.d_model, lead.bytes_per_weight)
        cost = self._compose.get(key)
        if cost is None:
            cost = self._compose[key] = self.costs.gemm_op(average_gemm(len(parts), ntok, lead.d_model),
                                                           lead.bytes_per_weight)
        return [self.op(home, cost, K_COMPOSE, deps)]

    def weight_summation(self, picks: list[tuple[str, int]], tokens: int):
        names = [n for n, _ in picks]
        lead = self.experts[names[0]]
        key = merged_name(names)
        chips = self.mapping.replica(names[0], self.r)
        home = chips[0]
        route_ops = sorted({ro for _, ro in picks})
        size = self.sizes[names[0]]
        merged = Expert(**{**lead.__dict__, "name": key})
        self._bytes_of(merged)
        if self.cache.access(key, size, derived=True) == "hbm":
            loaded = self.ready.get(key, [])
        else:
            deps = list(route_ops)
            for n in names:
                deps += self.ensure_loaded(n, self.sizes[n], route_ops)
            mg = self.op(home, self.costs.gemm_op(merge_gemm(lead, len(names)), lead.bytes_per_weight), K_MERGE,
                         deps, self.HBM, self.costs.memory(merge_memory_bytes(size, len(names)), "hbm"))
            loaded = [mg]
            if self.cache.policy != "static":
                self.ready[key] = loaded
        self.sizes.setdefault(key, size)
        return self.run_expert(merged, chips, route_ops, self.rchip, tokens, loaded=loaded)

    # --- morphology walk ---------------------------------------------------------------------------
    def lower_node(self, node: Node, deps: list[int], src: int, tokens: int):
        if node.kind == "expert":
            return self.run_expert(self.experts[node.name], self.mapping.replica(node.name, self.r), deps, src,
                                   tokens)
        if node.kind == "router":
            return self.routed(node, deps, src, tokens)
        if node.kind == "chain":
            first, ends, chip = [], deps, src
            for i, stage in enumerate(node.children):
                if self.prefetch_n and i + 1 < len(node.children):
                    self.prefetch(self.hot_leaves[id(node.children[i + 1])], ends)
                first, ends, chip = self.lower_node(stage, ends, chip, tokens if i == 0 else
                                                    self.p_tok + self.o_tok)
            return first, ends, chip
        # graph
        assert node.manager is not None
        mgr = node.manager.name
        mchips = self.mapping.replica(mgr, self.r)
        if self.prefetch_n:
            self.prefetch([mgr], deps)
        gathered: list[int] = []
        for b in node.children:
            _, ends, chip = self.lower_node(b, deps, src, tokens)
            gathered += self.transfer(chip, mchips[0], self.o_tok * TOKEN_ID_BYTES, ends)
        ctx = self.p_tok + len(node.children) * self.o_tok
        return self.run_expert(self.experts[mgr], mchips, gathered, mchips[0], ctx)

    def lower(self) -> OpGraph:
        rq = self.requests
        prompt, output = rq.prompt_tokens.tolist(), rq.output_tokens.tolist()
        root = self.morph.root
        pending = list(self.failures.chiplets) if self.failures is not None else []
        for r in range(len(rq)):
            while pending and pending[0].at_s <= rq.arrival_s[r]:
                self.fail_chiplet(pending.pop(0))
            self.r, self.p_tok, self.o_tok = r, prompt[r], output[r]
            self.req_start.append(len(self.d_cnt))
            first, ends, _ = self.lower_node(root, [], self.rchip, self.p_tok)
            self.first.extend((r, i) for i in first)
            self.end.extend((r, i) for i in ends)
        while pending:
            self.fail_chiplet(pending.pop(0))
        fr = np.array(self.first, dtype=np.int64).reshape(-1, 2)
        en = np.array(self.end, dtype=np.int64).reshape(-1, 2)
        c_dur, c_en, c_rel, c_has, c_lab, c_bytes, c_sram = self.costs.columns()
        ops = np.array(self.ops, dtype=np.int64).reshape(-1, 5)
        n_ops = ops.shape[0]
        cost, kind, res2, cost2 = ops[:, 1], ops[:, 2], ops[:, 3], ops[:, 4]
        has2 = res2 >= 0
        c2 = np.where(has2, cost2, 0)
        bounds = np.array(self.req_start + [n_ops], dtype=np.int64)
        req = np.repeat(np.arange(len(rq), dtype=np.int64), np.diff(bounds))
        dep_dst = np.repeat(np.arange(n_ops, dtype=np.int64), np.array(self.d_cnt, dtype=np.int64))
        comp_of_kind = np.array([COMPONENTS.index(c) for c in KIND_COMPONENT], dtype=np.int64)
        by_comp = np.bincount(comp_of_kind[kind], weights=c_en[cost], minlength=len(COMPONENTS))
        by_comp[COMPONENTS.index("hbm")] += float(c_en[c2][has2].sum())
        by_comp[COMPONENTS.index("sram")] += float(c_sram[cost].sum())  # GEMM costs' SRAM share (0 elsewhere)
        energy = {c: float(by_comp[i]) + self.extra_energy[c] for i, c in enumerate(COMPONENTS)}
        label = c_lab[cost]
        if has2.any():  # an op's provenance is the union of its two costs' labels
            n_lab = len(self.costs.label_names)
            pair = np.where(has2, label * n_lab + c_lab[c2], -1)
            for p in np.unique(pair[has2]).tolist():
                a, b = divmod(p, n_lab)
                names = set(self.costs.label_names[a].split("+")) | set(self.costs.label_names[b].split("+"))
                label[pair == p] = self.costs.label_id(frozenset(names))
        release = rq.arrival_s[req]
        transfers = np.array(self.xfers, dtype=float).reshape(-1, 4)
        failure = None
        if self.failures is not None:
            req[self.fail_ops] = -1
            release[self.fail_ops] = self.fail_release
            failure = FailureRun(self.failures, disruptions(self.failures, self.hw, len(self.resources), self.gates,
                                                            transfers, self.model), self.reload_src)
        return OpGraph(
            resources=self.resources,
            res=ops[:, 0].copy(), dur=c_dur[cost], rel=c_rel[cost], res2=res2.copy(),
            dur2=np.where(has2, c_dur[c2], 0.0), rel2=np.where(has2, c_rel[c2], 0.0),
            release=release, kind=kind, req=req, label=label,
            dep_src=np.array(self.d_src, dtype=np.int64), dep_dst=dep_dst,
            nbytes=c_bytes[cost], nbytes2=np.where(has2, c_bytes[c2], 0.0),
            transfers=transfers, loads=self.ssd_ops,
            first_req=fr[:, 0], first_op=fr[:, 1], end_req=en[:, 0], end_op=en[:, 1],
            label_names=list(self.costs.label_names), energy_j=energy,
            has_rel=bool(c_has[cost].any() or c_has[c2][has2].any()),
            requests=rq, cache={"policy": self.cache.policy, "hot_set": list(self.cache.hot),
                                **self.cache.stats.as_dict()},
            info={"morphology": self.morph.dag(), "composition": self.comp, "router": self.router.kind,
                  "mapping": {e: [list(c) for c in reps] for e, reps in self.mapping.placements.items()},
                  "mapping_strategy": self.mapping.strategy, "router_chiplet": self.rchip,
                  "expert_param_bytes": {e: self.sizes[e] for e in self.morph.placement_order()},
                  "expert_popularity": {e: self.popularity[e] for e in self.morph.placement_order()},
                  "decode_chunk_tokens": self.chunk, "prefetch": self.prefetch_n,
                  "distinct_gemms": len(self.costs.gemms_queried())},
            gemms=self.costs.gemms_queried(), failure=failure,
        )


def lower(params: Mapping[str, Any], model: ComponentModel | None = None, seed: int | None = None,
          base_dir: str | Path | None = None, energy: EnergyModel | None = None) -> OpGraph:
    """Lower one design point (its ``eoe``, ``hardware``, ``mapping`` and optional ``stitch`` sections)."""
    seed = int(params.get("seed", 1) if seed is None else seed)
    with gc_paused():
        return _Lowerer(params, model, seed, base_dir, energy).lower()


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector: lowering and scheduling allocate millions of small containers
    that stay alive, which only makes the collector rescan them (no cycles are created)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def kind_counts(graph: OpGraph) -> dict[str, int]:
    counts = np.bincount(graph.kind, minlength=len(OP_KINDS))
    return {k: int(c) for k, c in zip(OP_KINDS, counts) if c}
