"""The event-driven serving engine: requests routed through the EoE onto model instances that schedule
iterations, on a package whose memories and links are shared by concurrent transfers.

One design point, simulated from the first arrival until the last request completes:

- requests arrive (eoe.requests) at the router chiplet and walk the morphology (serving.dispatch);
- each expert stage becomes a sequence queued at one replica instance of its expert (load balancing:
  ``serving.load_balance``); the expert must be resident in the HBM stack(s) of that instance, else it is
  loaded DDR -> HBM (SSD -> DDR first when not in DDR) as transfers on the fluid model, through the package
  links between the DDR's chiplet and the stack (serving.memory for residency, eviction and pinning);
- every instance runs steps (serving.instance): a step is one iteration of each of its models with work
  (serving.batching forms the batch per ``serving.scheduler``), or ``k`` identical decode iterations when
  nothing would change the batch in between. A step's HBM traffic is a flow on each shard's stack capped
  at bytes / compute seconds, so the step lasts the roofline ``max(compute, bytes / bandwidth share)``
  and concurrent instances reading one stack share its bandwidth; tensor-parallel collectives then run
  on the ring's links. Anything that changes an instance's next batch while it runs a multi-iteration
  step (a sequence queued, a partner ready) cuts that step at the iteration in progress;
- representation averaging: the picks' sequences form a group; after each token the parts' hidden states
  go to the first pick's chiplet and are averaged before any part continues. Instances that hold parts of
  the same groups step together (gang): a step of such a cluster starts on all its instances at once
  and ends when the slowest is done plus the compositions;
- KV cache blocks are allocated per sequence from the stacks its instance reads; when a decode step
  needs a block and none is free, the most recently admitted running sequence of that model is
  preempted (``serving.preemption``: recompute - its KV is dropped and it prefills prompt + generated
  again later; swap - its KV moves to DDR and back over the memory devices and links);
- disaggregation (``serving.disaggregation``): prefill-only and decode-only replicas; after the prefill
  the sequence's KV moves from the prefill instance's stack to the decode instance's over the links.

Device latency: every transfer pays the latency of the devices it crosses at their utilization when it
starts (eoesim.stitch.components.LoadCurve: Ramulator's curve for HBM, Garnet's per-hop curve for links).
Small messages (token ids, hidden states, composition inputs) and small collectives (eoesim.serving.stepping) are timed
from the links' current state without entering the fluid model; their bytes are counted all the same.
"""
from __future__ import annotations

import heapq
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from eoesim.eoe.composition import (
    average_gemm,
    check_composable,
    hidden_bytes,
    merged_name,
)
from eoesim.eoe.expert import (
    DEFAULT_BYTES_PER_WEIGHT,
    Expert,
    param_bytes,
    resolve_experts,
)
from eoesim.eoe.hardware import build_hardware
from eoesim.eoe.mapping import build_mapping
from eoesim.eoe.morphology import Node, build_morphology
from eoesim.eoe.requests import DEFAULTS as REQUEST_DEFAULTS
from eoesim.eoe.requests import generate_requests, zipf_popularity
from eoesim.eoe.router import build_router, expert_popularity, route_node
from eoesim.errors import ConfigError, SimulationError
from eoesim.serving.background import BackgroundLoad
from eoesim.serving.batching import ModelState, lone_sequence_blocks
from eoesim.serving.costs import ModelCosts, shared_pricer
from eoesim.serving.countdown import after_all
from eoesim.serving.dispatch import Dispatcher
from eoesim.serving.fluid import Flow, Fluid
from eoesim.serving.instance import Instance
from eoesim.serving.kvcache import KVCache
from eoesim.serving.memory import DDRCache, StackMemory, gib_at_least, kv_shares
from eoesim.serving.metrics import BREAKDOWN_CATEGORIES
from eoesim.serving.package import Package
from eoesim.serving.power import power_settings
from eoesim.serving.recorder import Recorder
from eoesim.serving.residency import ExpertResidency
from eoesim.serving.sequences import Group, Seq
from eoesim.serving.settings import check_block_size, serving_settings
from eoesim.serving.stepping import StepRunner
from eoesim.serving.tokens import TokenFlow
from eoesim.stitch.components import ComponentModel, TableComponentModel
from eoesim.stitch.energy import EnergyModel

COMPOSITION_DEFAULT = "representation_average"
CAT = {c: i for i, c in enumerate(BREAKDOWN_CATEGORIES)}
#: stalls broken (KV given up) in a row without a request completing before the run is declared stuck
MAX_STALL_BREAKS = 100
#: events processed between two checks that the run still makes progress (an iteration ends, a request completes)
PROGRESS_CHECK_EVENTS = 1 << 16
#: checks in a row without progress before the run is declared livelocked (events that only undo each other, such
#: as loads evicting each other's experts, would otherwise run for ever)
MAX_IDLE_CHECKS = 4


class Engine(ExpertResidency, KVCache, StepRunner, TokenFlow):
    """One design point served from its first arrival to its last completion (module docstring)."""

    def __init__(self, params: Mapping[str, Any], model: ComponentModel | None = None, seed: int | None = None,
                 base_dir: str | Path | None = None, energy: EnergyModel | None = None,
                 background: BackgroundLoad | None = None) -> None:
        self.params = params
        self.seed = int(params.get("seed", 1) if seed is None else seed)
        eoe = params.get("eoe") or {}
        experts = resolve_experts(eoe.get("experts") or [{"name": "tiny", "preset": "tiny-25m"}])
        self.experts: dict[str, Expert] = {x.name: x for x in experts}
        names = [x.name for x in experts]
        hw_cfg = params.get("hardware") or {}
        self.hw = build_hardware(hw_cfg)
        self.morph = build_morphology(eoe.get("morphology"), names)
        rcfg = {**REQUEST_DEFAULTS, **(eoe.get("requests") or {})}
        n_domains = int(rcfg["domains"] or len(names))
        self.requests = generate_requests(rcfg, n_domains, self.seed, base_dir,
                                          domain_names={n: i for i, n in enumerate(names) if i < n_domains})
        self.router_model = build_router(eoe.get("router"), names, n_domains)
        self.composition = (eoe.get("composition") or {}).get("kind", COMPOSITION_DEFAULT)
        for node in self.morph.routers:
            check_composable(self.composition, [self.experts[x] for x in node.leaves()])
        if rcfg["arrival"] == "trace":
            counts = np.bincount(self.requests.domain, minlength=n_domains).astype(float)
            dom_pop = counts / counts.sum()
        else:
            dom_pop = zipf_popularity(n_domains, float(rcfg["zipf_skew"]))
        self.popularity = expert_popularity(names, dom_pop)
        order = self.morph.placement_order()
        mcfg = dict(params.get("mapping") or {})
        self.mapping = build_mapping(mcfg, order, self.hw, self.popularity)
        self.router_chiplet = self.mapping.router_chiplet
        self.cfg = serving_settings(params.get("serving"))
        check_block_size(self.cfg)
        self.decisions = [route_node(self.router_model, node, self.requests.domain, names, n_domains, self.seed)
                          for node in self.morph.routers]
        self.hot_leaves = {id(n): sorted(n.leaves(), key=lambda x: (-self.popularity[x], order.index(x)))
                           for n in _all_nodes(self.morph.root)}
        self.prefetch_n = int(mcfg.get("prefetch") or 0)
        if self.prefetch_n < 0:
            raise ConfigError(f"mapping.prefetch: {self.prefetch_n} is not allowed; allowed: a boolean or an "
                              "integer >= 0")
        self.policy = str(mcfg.get("cache_policy", "lru"))
        if self.policy == "static":
            self.prefetch_n = 0
        self.energy = energy or EnergyModel()
        self.model = model or TableComponentModel.nominal(self.hw)
        self.background = background or BackgroundLoad()
        self.package = Package(self.hw, hw_cfg.get("memory") or {}, self.model.memory_curve("hbm"),
                               self.model.memory_curve("ddr"), self.model.ssd_curve(), self.model.link_curve())
        pk = self.package
        self.curves = [d.curve for d in pk.devices]
        self.now = 0.0
        self._events: list = []
        self._n = 0
        self.fluid = Fluid([c.capacity_bytes_per_s for c in self.curves], self._schedule_flow)
        self.pricer = shared_pricer(self.model, self.hw.chiplet, self.energy)
        self.sizes = {n: param_bytes(x) for n, x in self.experts.items()}
        self.stacks = [StackMemory(s, pk.stack_capacity_bytes, self.policy) for s in range(pk.n_stacks)]
        self.ddr = DDRCache(self.hw.ddr.capacity_bytes)
        self.power = power_settings(params.get("power"))
        self.rec = Recorder(self)
        self.rec_breakdown = np.zeros((len(self.requests), len(BREAKDOWN_CATEGORIES)))
        self._build_instances(mcfg)
        self.groups = self.groups_at_once()
        self.merges = self.merge_sets()
        self.lone_blocks = self._lone_blocks()
        self.stack_needs = self.hbm_needs()
        self._check_capacity()
        self._place_initial(mcfg.get("hot_set"))
        self._set_kv_partition()
        self.dispatcher = Dispatcher(self)
        self._start_background()
        self.loads: dict[tuple[int, str], dict[str, Any]] = {}  # (stack, expert) -> load in flight
        self.ddr_waiters: dict[str, list] = {}  # expert -> (stack, load) waiting for its SSD -> DDR read
        self.kv_waiters: list[list[Callable]] = [[] for _ in range(pk.n_stacks)]
        self.hand_overs: dict[Seq, tuple[Instance, Instance]] = {}  # prefilled, to move: (source, destination)
        self.hand_over_wants: dict[Seq, tuple[int, list]] = {}  # its ticket, the (stack, expert) it wants there
        self.pending_loads: list[list[tuple[str, float]]] = [[] for _ in range(pk.n_stacks)]
        self._ticket = 0
        self.parked: dict[int, list] = {}  # ticket of an admission -> owners sent back to wait for it
        self._done_at_stall = -1
        self._sid = 0
        self._gid = 0
        self._rr: dict[str, int] = defaultdict(int)
        self._admits = 0
        self.failures = None
        self.redirect: dict[int, Instance] = {}  # failed instance -> where its work went

    # --- setup -----------------------------------------------------------------------------------------
    def _build_instances(self, mcfg: Mapping[str, Any]) -> None:
        pk = self.package
        by_chips: dict[tuple[int, ...], Instance] = {}
        self.replicas: dict[str, list[Instance]] = {}
        dis = self.cfg["disaggregation"]
        if dis is not None and self.composition == "weight_summation" and self.morph.routers:
            # a merged expert exists on the instance that merged it: its KV has no decode replica to go to
            raise ConfigError("eoe.composition.kind: 'weight_summation' is not allowed with serving.disaggregation; "
                              "allowed: representation_average, sequential_aggregation (or disaggregation: null)")
        for name, reps in self.mapping.placements.items():
            if dis is not None and len(reps) <= dis["prefill_replicas"]:
                raise ConfigError(f"serving.disaggregation.prefill_replicas: {dis['prefill_replicas']} is not allowed "
                                  f"for expert {name!r} with {len(reps)} replica(s); allowed: fewer than its replicas "
                                  "(use mapping.strategy replicate or many_to_many to give experts more replicas)")
            insts = []
            for j, chips in enumerate(reps):
                role = "both" if dis is None else ("prefill" if j < dis["prefill_replicas"] else "decode")
                inst = by_chips.get(chips)
                if inst is None:
                    inst = by_chips[chips] = Instance(len(by_chips), chips, pk.stack_of, role)
                elif inst.role != role:
                    inst.role = "both"
                inst.models[name] = ModelState(name, self.costs_for(self.experts[name], inst.shards))
                insts.append(inst)
            self.replicas[name] = insts
        self.instances = sorted(by_chips.values(), key=lambda i: i.iid)
        self.stack_users = [[i for i in self.instances if s in i.stacks] for s in range(pk.n_stacks)]
        chips_used = {c for i in self.instances for c in i.chips}
        self.chiplets_used = sorted(chips_used | {self.router_chiplet})

    def costs_for(self, e: Expert, shards: int) -> ModelCosts:
        return self.pricer.model_costs(e, shards)

    def stack_bytes(self, expert: str, stack: int) -> float:
        """Weight bytes of ``expert`` held in ``stack``: the shards of its replicas that read that stack."""
        insts = self.replicas.get(expert) or self.replicas[_lead(expert)]
        size = self.sizes.get(expert) or self.sizes[_lead(expert)]
        best = 0
        for inst in insts:
            best = max(best, sum(1 for s in inst.stacks if s == stack) / inst.shards)
        return size * best

    def bytes_on(self, expert: str, inst: Instance, stack: int) -> float:
        """Weight bytes of ``expert`` that ``inst`` holds in ``stack``: ``stack_bytes``, or, on a stack none of its
        replicas reads (a weight summation brings its picks and the merged expert to the lead's instance, and
        composed experts share one shape), ``inst``'s shards there."""
        size = self.sizes.get(expert) or self.sizes[_lead(expert)]
        return self.stack_bytes(expert, stack) or size * inst.stacks.count(stack) / inst.shards

    def merge_sets(self) -> list[tuple[str, ...]]:
        """The distinct picks (lead first) a weight-summation router merges, as routed (sub-routers' picks
        included)."""
        if self.composition != "weight_summation" or not self.morph.routers:
            return []
        return sorted({tuple(self._picked(node, r)) for node in self.morph.routers for r in range(len(self.requests))
                       if len(self.decisions[node.index][r]) > 1})

    def merge_needs(self, s: int) -> list[tuple[float, tuple[str, ...]]]:
        """Per merge on stack ``s`` (a replica of its lead reads ``s``): the HBM it needs there - its picks and the
        merged expert while merging, the merged expert and the KV cache of the longest request while it runs -
        and the picks; the hot experts pinned there (static policy) are added to both."""
        mem, out = self.stacks[s], []
        for picks in self.merges:
            lead = picks[0]
            hosts = [i for i in self.replicas[lead] if s in i.stacks]
            if not hosts:
                continue
            w = max(self.sizes[lead] * i.stacks.count(s) / i.shards for i in hosts)
            needs = self.stack_needs[s]
            kv = needs[lead][0] - needs[lead][1] if lead in needs else 0.0
            hot = sum(mem.resident.get(h, 0.0) for h in mem.hot)
            hot_else = sum(mem.resident.get(h, 0.0) for h in mem.hot if h not in picks)
            out.append((max((len(picks) + 1) * w + hot_else, w + kv + hot), picks))
        return out

    def groups_at_once(self) -> list[tuple[str, ...]]:
        """The distinct sets of experts one request runs together: the picks of a representation-averaging
        router, its sub-routers' picks included (routing is decided before the run); one expert otherwise - and
        alone, every expert no router picks (a chain's single stage, a graph's manager), which runs for every
        request."""
        if self.composition != "representation_average" or not self.morph.routers:
            return [(n,) for n in self.experts]
        routed = {c.name for node in self.morph.routers for c in node.children if c.kind == "expert"}
        groups: set[tuple[str, ...]] = {(n,) for n in self.experts if n not in routed}
        for node in self.morph.routers:
            kids = node.children
            if all(c.kind != "router" for c in kids):
                combos = set(map(tuple, self.decisions[node.index]))
                groups.update(tuple(kids[j].name for j in combo) for combo in combos)
            else:
                groups.update(tuple(self._picked(node, r)) for r in range(len(self.requests)))
        return sorted(groups)

    def _picked(self, node: Node, r: int) -> list[str]:
        out: list[str] = []
        for j in self.decisions[node.index][r]:
            child = node.children[j]
            out.extend(self._picked(child, r) if child.kind == "router" else [child.name])
        return out

    def _longest_sequence(self) -> tuple[int, int]:
        """(prompt, prompt + output) tokens of the longest sequence an expert runs: a later chain stage or
        sequential pick reads the prompt and the output before it, a graph's manager every branch's output."""
        rq = self.requests
        if not len(rq):
            return 0, 0
        before = 0
        for node in _all_nodes(self.morph.root):
            if node.kind == "chain" and len(node.children) > 1:
                before = max(before, 1)
            elif node.kind == "graph":
                before = max(before, len(node.children))
        if self.composition == "sequential_aggregation" and any(
                len(d) > 1 for node in self.morph.routers for d in self.decisions[node.index]):
            before = max(before, 1)
        prompt = rq.prompt_tokens + before * rq.output_tokens
        return int(np.max(prompt)), int(np.max(prompt + rq.output_tokens))

    def _lone_blocks(self) -> float:
        """KV space, in blocks, planning leaves every expert for the longest sequence it runs, alone
        (batching.lone_sequence_blocks)."""
        prompt, longest = self._longest_sequence()
        return lone_sequence_blocks(prompt, longest, self.cfg["kv_block_tokens"], self.cfg["kv_watermark"],
                                    self.cfg["scheduler"] == "static")

    def hbm_needs(self, replicas: Mapping[str, list[Instance]] | None = None) -> list[dict[str, tuple[float, float]]]:
        """Per stack, per expert served from it (by ``replicas``, default the engine's): (its weights there +
        the KV cache of the longest request on it - prompt + output tokens in whole blocks, the prompt with the
        admission watermark kept free -, its weights there)."""
        replicas = self.replicas if replicas is None else replicas
        bs = self.cfg["kv_block_tokens"]
        out = []
        for s in range(len(self.stacks)):
            needs = {}
            for n in self.experts:
                reads = [i for i in replicas.get(n, ()) if s in i.stacks]
                if not reads:
                    continue
                per_token = max(i.models[n].costs.kv_bytes_per_token * i.stacks.count(s) for i in reads)
                weights = self.sizes[n] * max(i.stacks.count(s) / i.shards for i in reads)
                kv = self.lone_blocks * bs * per_token
                needs[n] = (weights + kv, weights)
            out.append(needs)
        return out

    def _check_capacity(self) -> None:
        """Every stack must hold, at once, the experts one request runs on it together (the picks of a
        representation-averaging router, as routed) and the KV cache of the longest request on each, else
        requests could wait for each other, or a sequence preempt itself, forever."""
        short = self.capacity_shortfalls(self.stack_needs)
        if short:
            s, (need, here, weights) = min(short.items())
            raise ConfigError(
                f"hardware.memory.hbm.capacity_gib: {self.stacks[s].capacity / 2**30:.4g} GiB per stack is not "
                f"allowed; allowed: at least {gib_at_least(need)} GiB - {self.capacity_need(s, here, weights)}")

    def capacity_shortfalls(self, stack_needs: list[dict[str, tuple[float, float]]]
                            ) -> dict[int, tuple[float, list[str], float]]:
        """Stacks that cannot hold what a request runs there at once, given each stack's needs (``hbm_needs``):
        stack -> (the HBM the largest group needs, its experts on the stack, their weights)."""
        out = {}
        for s, mem in enumerate(self.stacks):
            need, group = self._largest_group(stack_needs[s])
            if need > mem.capacity:
                here = [x for x in group if x in stack_needs[s]]
                out[s] = (need, here, sum(stack_needs[s][x][1] for x in here))
        return out

    def capacity_need(self, s: int, here: list[str], weights: float) -> str:
        """What stack ``s`` must hold (the tail of a capacity error)."""
        experts = "the expert" if len(here) == 1 else f"the {len(here)} experts"
        return (f"stack {s} must hold {experts} a request runs there at once ({', '.join(here)}: "
                f"{weights / 2**30:.4g} GiB) plus the KV cache of the longest request "
                f"({self._longest_sequence()[1]} tokens) on each")

    def _largest_group(self, needs: Mapping[str, tuple[float, float]]) -> tuple[float, tuple[str, ...]]:
        """The group of experts a request runs at once that needs the most HBM of a stack (its experts'
        weights and KV there, ``needs``: one stack's ``hbm_needs``), and that HBM."""
        return max(((sum(needs[x][0] for x in g if x in needs), g) for g in self.groups), default=(0.0, ()))

    def replan_static(self, stacks) -> list[int]:
        """Static policy, after a chiplet failure moved experts onto ``stacks``: the hot set pinned there is cut,
        least popular first, until every group of experts a request runs on a stack fits beside the hot experts
        outside it (the room ``_place_initial`` leaves at the start); else a moved expert could never be loaded
        beside the pinned ones and its requests would wait for ever. The experts cut stay resident, unpinned.
        Returns the stacks whose hot set was cut (loads waiting there may evict the experts cut)."""
        if self.policy != "static":
            return []
        self.stack_needs = self.hbm_needs()
        cut = []
        for s in sorted(set(stacks)):
            mem = self.stacks[s]
            before = len(mem.hot)
            for g in self.groups:
                here, pinned, need = self._beside_hot(s, g)
                for h in sorted(pinned, key=lambda h: (self.popularity.get(h, 0.0), h)):
                    if need <= mem.capacity:
                        break
                    mem.hot.discard(h)
                    need -= mem.resident.get(h, 0.0)
            if len(mem.hot) < before:
                cut.append(s)
        return cut

    def _beside_hot(self, s: int, group: tuple[str, ...]) -> tuple[list[str], list[str], float]:
        """The experts of ``group`` served from stack ``s``, the hot experts pinned there outside it, and the HBM
        they need together (the group's weights and KV there, ``stack_needs``, and the pinned weights)."""
        mem, needs = self.stacks[s], self.stack_needs[s]
        here = [x for x in group if x in needs]
        pinned = sorted(h for h in mem.hot if h not in here)
        return here, pinned, sum(needs[x][0] for x in here) + sum(mem.resident.get(h, 0.0) for h in pinned)

    def _place_initial(self, hot_set: Any) -> None:
        """Start state: per stack, the hot set (static) or the most popular experts that fit (static: with room
        left for the experts one request runs at once when not all fit); DDR holds the most popular experts
        that fit."""
        order = sorted(self.experts, key=lambda n: (-self.popularity[n], n))
        if isinstance(hot_set, list):
            unknown = [h for h in hot_set if h not in self.experts]
            if unknown:
                raise ConfigError(f"mapping.hot_set: {unknown} are not experts; allowed: names from eoe.experts "
                                  f"{sorted(self.experts)}")
            hot = list(hot_set)
        elif isinstance(hot_set, int) and not isinstance(hot_set, bool):
            hot = order[:hot_set]
        else:
            hot = None
        for s, mem in enumerate(self.stacks):
            users = [n for n in order if any(s in i.stacks for i in self.replicas.get(n, ()))]
            buffer = 0.0
            # with every expert pinned, the KV space must still hold a group's KV; a weight summation also writes
            # a merged expert beside its picks: room for one more expert
            needs = self.stack_needs[s]
            group_kv = max((sum(needs[x][0] - needs[x][1] for x in g if x in needs) for g in self.groups),
                           default=0.0)
            merged = max((need for need, _ in self.merge_needs(s)), default=0.0)
            if (hot is None and self.policy == "static"
                    and sum(self.stack_bytes(n, s) for n in users) + max(group_kv, merged) > mem.capacity):
                # static pins what it places: an automatic hot set leaves room to load the other experts a
                # request runs at once and their KV (memory.py's transient buffer), else it would wait forever
                buffer = max(self._largest_group(needs)[0], merged)
            for name in (hot if hot is not None else users):
                if name not in users or (buffer and mem.free() - self.stack_bytes(name, s) < buffer):
                    continue
                if not mem.place(name, self.stack_bytes(name, s), hot=self.policy == "static"):
                    if hot is not None:
                        raise ConfigError(f"mapping.hot_set: expert {name!r} ({self.stack_bytes(name, s) / 2**30:.3g} "
                                          f"GiB on stack {s}) does not fit in hardware.memory.hbm.capacity_gib "
                                          f"({mem.capacity / 2**30:.3g} GiB per stack) with the hot set before it "
                                          f"there ({', '.join(mem.resident)}); allowed: a smaller hot set or more HBM")
                    continue
        for name in order:
            self.ddr.place(name, self.sizes[name])
        if hot is not None and self.policy == "static":
            self._check_hot_room()
        self._check_merge_room()

    def _check_hot_room(self) -> None:
        """A static hot set the study names pins its experts: beside those outside it, every group of experts a
        request runs on a stack must still load with its KV cache, else its requests wait for ever."""
        for s, mem in enumerate(self.stacks):
            for g in self.groups:
                here, pinned, need = self._beside_hot(s, g)
                if here and need > mem.capacity:
                    raise ConfigError(
                        f"mapping.hot_set: {pinned} pinned in HBM stack {s} under cache_policy static is not allowed "
                        f"beside the experts a request runs there ({', '.join(here)}): with the KV cache of the "
                        f"longest request they need {need / 2**30:.4g} GiB of the stack's {mem.capacity / 2**30:.4g}; "
                        "allowed: a hot set without those experts, cache_policy lru or lfu, or "
                        f"hardware.memory.hbm.capacity_gib >= {gib_at_least(need)}")

    def _check_merge_room(self) -> None:
        """A weight summation reads its picks while it writes the merged expert beside them, on the lead's stack:
        the picks, the merged expert and the hot experts pinned there must fit at once, else the merge waits for
        ever."""
        for s, mem in enumerate(self.stacks):
            need, picks = max(self.merge_needs(s), default=(0.0, ()))
            if need <= mem.capacity:
                continue
            pinned = sorted(mem.hot)
            key, allowed = (("mapping.hot_set", "a hot set without those experts, cache_policy lru or lfu, or ")
                            if pinned else ("hardware.memory.hbm.capacity_gib", "fewer picks (eoe.router.k), "
                                            "another eoe.composition.kind, or "))
            beside = f" with the hot experts pinned there ({', '.join(pinned)})" if pinned else ""
            raise ConfigError(
                f"{key}: HBM stack {s} ({mem.capacity / 2**30:.4g} GiB) is too small to merge the picks "
                f"{', '.join(picks)} (eoe.composition.kind weight_summation){beside}: the picks and the merged "
                f"expert, or the merged expert with the KV cache of the longest request, need {need / 2**30:.4g} "
                f"GiB at once; allowed: {allowed}hardware.memory.hbm.capacity_gib >= {gib_at_least(need)}")

    def _set_kv_partition(self) -> None:
        rq = self.requests
        mean_tokens = float(np.mean(rq.prompt_tokens + rq.output_tokens)) if len(rq) else 0.0
        demand = {n: self.popularity[n] * mean_tokens * self.costs_for(x, 1).kv_bytes_per_token
                  for n, x in self.experts.items()}
        for s, mem in enumerate(self.stacks):
            users = [n for n in self.experts if any(s in i.stacks for i in self.replicas.get(n, ()))]
            mem.kv_share = kv_shares(self.cfg["kv_partition"], users, self.popularity, demand)

    def _start_background(self) -> None:
        """A co-located job's steady streams (BackgroundLoad.device_bytes_per_s) on the devices it names."""
        names = {d.name: i for i, d in enumerate(self.package.devices)}
        for dev, bps in self.background.device_bytes_per_s.items():
            if dev not in names:
                raise ConfigError(f"{self.background.label}: device {dev!r} is not a device of this package; allowed: "
                                  f"{sorted(names)}")
            if bps > 0:
                self.fluid.start(0.0, float("inf"), (names[dev],), float(bps), owner=(self._noop_flow, None))
        for chip in self.background.chiplet_busy_fraction:
            if not 0 <= int(chip) < self.hw.n_chiplets:
                raise ConfigError(f"{self.background.label}: chiplet {chip} is not allowed; allowed: "
                                  f"0..{self.hw.n_chiplets - 1}")

    # --- event queue -----------------------------------------------------------------------------------
    @property
    def events_scheduled(self) -> int:
        """Events put on the queue so far (stale flow completions included)."""
        return self._n

    def at(self, t: float, fn: Callable, *args: Any) -> None:
        self._n += 1
        heapq.heappush(self._events, (t, self._n, fn, args))

    def _schedule_flow(self, t: float, flow: Flow) -> None:
        if t == float("inf"):  # a background stream never ends
            return
        self._n += 1
        heapq.heappush(self._events, (t, self._n, self._flow_event, (flow, flow.version)))

    def _flow_event(self, flow: Flow, version: int) -> None:
        if flow.done or version != flow.version:
            return
        self.fluid.complete(flow, self.now)
        fn, arg = flow.owner
        fn(flow, arg)

    def run(self) -> "Engine":
        rq = self.requests
        arrivals = rq.arrival_s.tolist()
        for r, t in enumerate(arrivals):
            self.at(t, self.dispatcher.start, r)
        if self.failures is not None:
            self.failures.schedule(self)
        events = self._events
        pop = heapq.heappop
        stalls = 0
        progress = (0, 0)  # iterations ended, requests completed
        idle_checks = 0
        while True:
            while events:
                n = 0
                while events and n < PROGRESS_CHECK_EVENTS:
                    t, _, fn, args = pop(events)
                    self.now = t
                    fn(*args)
                    n += 1
                mark = (len(self.rec.step_inst), self.rec.completed)
                idle_checks = idle_checks + 1 if mark == progress else 0
                progress = mark
                if idle_checks >= MAX_IDLE_CHECKS:
                    self.rec.finish(self.now)
                    last = max(self.rec.step_t1, default=0.0)
                    raise SimulationError(self._stuck(len(rq) - self.rec.completed, last))
            done = self.rec.completed
            if done == len(rq):
                break
            stalls = stalls + 1 if done == self._done_at_stall else 1
            self._done_at_stall = done
            if stalls > MAX_STALL_BREAKS or not self.break_stall():
                self.rec.finish(self.now)
                raise SimulationError(self._stuck(len(rq) - done))
        self.rec.finish(self.now)
        return self

    def break_stall(self) -> bool:
        """Every event is processed and requests wait on each other through memory: composition parts that
        hold KV while waiting for a partner (whose admission or expert load waits for that room) give their KV
        up (recompute preemption), owners sent back to wait for an admission (``park_queued_owners``) are
        admitted again, and everything waiting retries. False when nothing could be freed."""
        freed = False
        for inst in self.instances:
            for m in inst.models.values():
                for seq in [x for x in m.running if x.blocks and x.blocked]:
                    if seq not in m.running:  # freeing KV above let a waiting load preempt it already
                        continue
                    self.preempt_for_recompute(m, seq)
                    freed = True
        if self.parked:
            for ticket in sorted(self.parked):
                self.release_parked(ticket)
            freed = True
        if freed:
            for s in range(self.package.n_stacks):
                self.retry_loads(s)
            for inst in self.instances:
                self.wake(inst)
        return freed

    def _stuck(self, left: int, idle_since: float | None = None) -> str:
        """Why requests never finished - every event was processed, or (``idle_since``: when the last iteration
        ended) events went on without an iteration ending: what holds the HBM stacks."""
        waits = [f"stack {s}: loads of {[n for n, _ in p]} wait" for s, p in enumerate(self.pending_loads) if p]
        full = [f"stack {m.index}: {m.weights / 2**20:.1f} MiB weights ({sorted(m.resident)}) + "
                f"{m.kv_used / 2**20:.1f} MiB KV of {m.capacity / 2**20:.1f} MiB" for m in self.stacks]
        head = f"serving: {left} of {len(self.requests)} requests never finished"
        if idle_since is not None:
            head += (f" (a livelock: the last iteration ended at {idle_since:.6g} s, then {MAX_IDLE_CHECKS} x "
                     f"{PROGRESS_CHECK_EVENTS} events up to {self.now:.6g} s of simulated time ended none)")
            if not waits and self.loads:
                waits = [f"loads of {sorted({n for _, n in self.loads})} in flight"]
        quota = "serving.kv_partition: shared, " if self.cfg["kv_partition"] != "shared" else ""
        if not waits:  # nothing waits for memory: the sequences wait on each other in the schedule
            return (f"{head} - they wait on each other with no expert load pending ({'; '.join(full)}), a "
                    "scheduling deadlock of the engine (please report the study); allowed meanwhile: "
                    f"{quota}a larger serving.max_num_seqs, or another serving.scheduler")
        return (f"{head} - the experts a request needs at once do not fit together in HBM ({'; '.join(waits)}; "
                f"{'; '.join(full)}); allowed: a larger hardware.memory.hbm.capacity_gib, fewer experts per stack "
                f"(hardware.memory.hbm.stacks / serves, mapping), {quota}or a composition that needs one expert at "
                "a time")

    # --- transfers -------------------------------------------------------------------------------------
    def flow(self, nbytes: float, path: tuple[int, ...], cap: float, done: Callable, arg: Any) -> Flow:
        """A transfer on the fluid model; ``done(flow, arg)`` when its bytes are moved and the devices'
        latency (at their utilization now) has passed."""
        lat = sum(self.curves[d].latency_at(self.fluid.utilization(d)) for d in path)
        f = self.fluid.start(self.now, nbytes, path, cap, owner=(self._after_latency, (lat, done, arg)))
        return f

    def _after_latency(self, flow: Flow, arg: tuple) -> None:
        lat, done, inner = arg
        if lat > 0:
            self.at(self.now + lat, done, flow, inner)
        else:
            done(flow, inner)

    def small_transfer(self, src: int, dst: int, nbytes: float, t: float) -> float:
        """Seconds to move a small message ``src -> dst`` (hop latency + serialization at the links' current
        share); its bytes are counted on the links crossed."""
        if src == dst or nbytes <= 0:
            return 0.0
        path = self.package.route(src, dst)
        fl = self.fluid
        seconds = 0.0
        slowest = float("inf")
        for d in path:
            curve = self.curves[d]
            seconds += curve.latency_at(fl.utilization(d))
            slowest = min(slowest, max(fl.capacity[d] - fl.load[d], fl.capacity[d] * 0.01))
            fl.bytes_moved[d] += nbytes
        self.rec.traffic(src, dst, nbytes, "message")
        return seconds + nbytes / slowest

    # --- routing and composition costs -------------------------------------------------------------------
    def route_delay(self, node: Node, tokens: int) -> float:
        """Seconds the gate of ``node`` takes for a prompt of ``tokens`` (its energy and busy time recorded)."""
        rm = self.router_model
        seconds = rm.fixed_cycles * self.hw.chiplet.cycle_s
        g = rm.gemm(tokens, len(node.children))
        if g is not None:
            cost = self.pricer.gemm(g, DEFAULT_BYTES_PER_WEIGHT)
            seconds += cost.seconds
            self.rec.gemm_energy(cost, "route")
        self.rec.chiplet_busy(self.router_chiplet, seconds)
        return seconds

    def compose_delay(self, names: list[str], insts: list[Instance], home: int) -> float:
        """Seconds to compose one token of a group: hidden states to ``home`` (slowest part), then the average."""
        lead = self.experts[names[0]]
        g = self.pricer.gemm(average_gemm(len(names), 1, lead.d_model), lead.bytes_per_weight)
        move = 0.0
        for name, inst in zip(names, insts):
            if inst.chips[0] != home:
                move = max(move, self.small_transfer(inst.chips[0], home, hidden_bytes(self.experts[name], 1),
                                                     self.now))
        return move + g.seconds

    # --- instance choice and loads ---------------------------------------------------------------------
    def choose_instance(self, expert: str, r: int, role: str = "prefill") -> Instance:
        """The replica of ``expert`` that takes request ``r``'s work in ``role``, by the load-balance policy. A
        hand-over (``decode``) goes to a replica whose stacks hold the expert when one does: elsewhere the
        sequence's KV would wait for a load that needs the room of the work on that stack."""
        insts = [i for i in self.replicas[expert] if i.alive and i.role in ("both", role)]
        if not insts:
            insts = [i for i in self.replicas[expert] if i.alive]
        if role == "decode":
            insts = [i for i in insts if self.weights_ready(i, expert)] or insts
        if len(insts) == 1:
            return insts[0]
        if self.cfg["load_balance"] == "round_robin":
            j = self._rr[expert + role]
            self._rr[expert + role] += 1
            return insts[j % len(insts)]
        return min(insts, key=lambda i: (i.outstanding_tokens() - self.tokens_not_emitted(i), i.iid))

    # --- sequences ---------------------------------------------------------------------------------------
    def submit(self, name: str, inst: Instance, r: int, ctx: int, out: int, t: float, first: Callable,
               done: Callable, group: Group | None = None) -> Seq:
        """Queue a sequence of ``name`` at ``inst`` at time ``t`` (after its expert is resident)."""
        self._sid += 1
        seq = Seq(self._sid, r, name, ctx, out, t, first, done)
        seq.group = group
        seq.inst = inst
        seq.role = inst.role
        self._set_kv_layout(seq, inst)
        if group is not None:
            group.parts.append(seq)
        self.at(t, self._arrive, seq)
        return seq

    def redirect_waiting(self, seq: Seq) -> None:
        """A sequence not yet admitted whose instance failed goes where that instance's work went (which may not
        have its model yet: a load finishing while the failed instance's models are moved admits it)."""
        if seq.inst.alive:
            return
        seq.inst = self.where_work_went(seq.inst)
        seq.role = seq.inst.role
        self.model_on(seq.inst, seq.expert)
        self._set_kv_layout(seq, seq.inst)

    def where_work_went(self, inst: Instance) -> Instance:
        """``inst``, or the live instance its work went to when its chiplet failed (and that one's, ...)."""
        while not inst.alive:
            inst = self.redirect[inst.iid]
        return inst

    def model_on(self, inst: Instance, name: str) -> ModelState:
        """The model ``name`` served by ``inst``, added when it has none (a failed instance's work moved there)."""
        if name not in inst.models:
            inst.models[name] = ModelState(name, self.costs_for(self.experts[name], inst.shards))
        return inst.models[name]

    def _arrive(self, seq: Seq) -> None:
        self.redirect_waiting(seq)
        seq.t_enqueue = self.now
        g = seq.group
        if g is None:
            self.admit_parts([seq], seq)
            return
        g.arrived += 1
        if g.arrived == len(g.parts):
            self._gang_admit(g)

    def attribute(self, r: int, category: str, seconds: float) -> None:
        """Seconds of request ``r``'s latency spent in ``category`` (the latency breakdown)."""
        if seconds > 0:
            self.rec_breakdown[r, CAT[category]] += seconds

    # --- composition of picks --------------------------------------------------------------------------------
    def run_group(self, names: list[str], r: int, ctx: int, t: float, first: Callable, done: Callable) -> None:
        insts = [self.choose_instance(n, r) for n in names]
        home = insts[0].chips[0]
        self._gid += 1
        delay = self.compose_delay(names, insts, home)
        group = Group(self._gid, delay, home, first, lambda tt: done(tt, home))
        for name, inst in zip(names, insts):
            self.dispatcher.expert(name, r, ctx, self.router_chiplet, t, _ignore_first, _ignore_done, inst=inst,
                                   group=group, weight=1.0 / len(names))

    def run_merged(self, names: list[str], r: int, ctx: int, t: float, first: Callable, done: Callable) -> None:
        key = merged_name(names)
        lead = names[0]
        inst = self.choose_instance(lead, r)
        if key not in inst.models:
            self.experts.setdefault(key, Expert(**{**self.experts[lead].__dict__, "name": key}))
            self.sizes.setdefault(key, self.sizes[lead])
            inst.models[key] = ModelState(key, self.costs_for(self.experts[lead], inst.shards))
            for st in set(inst.stacks):  # it runs in its lead's place: under a KV partition, with its quota
                share = self.stacks[st].kv_share
                if share is not None:
                    share.setdefault(key, share.get(lead, 0.0))
        self.at(t, self._merge_picks, names, key, inst, r, ctx, first, done)

    def _merge_picks(self, names: list[str], key: str, inst: Instance, r: int, ctx: int, first: Callable,
                     done: Callable) -> None:
        """The merged expert needs its picks in HBM (unless it is cached itself), then is merged and run."""
        if all(self.stacks[s].is_resident(key) for s in set(inst.stacks)):
            self.dispatcher.expert(key, r, ctx, self.router_chiplet, self.now, first, done, inst=inst)
            return
        pick_ready = after_all(len(names), lambda: self.dispatcher.expert(key, r, ctx, self.router_chiplet, self.now,
                                                                          first, done, inst=inst))
        for n in names:
            self.ensure_resident(n, inst, pick_ready, whole=True)  # merging reads whole experts

    # --- requests --------------------------------------------------------------------------------------------
    def request_first(self, r: int, t: float) -> None:
        self.rec.request_first(r, t)

    def request_done(self, r: int, t: float) -> None:
        self.rec.request_done(r, t)


def _all_nodes(node: Node):
    yield node
    for c in node.children:
        yield from _all_nodes(c)
    if node.manager is not None:
        yield node.manager


def _lead(name: str) -> str:
    return name[len("merged("):-1].split("+")[0] if name.startswith("merged(") else name


def _ignore_first(_t: float) -> None:
    return None


def _ignore_done(_t: float) -> None:
    return None
