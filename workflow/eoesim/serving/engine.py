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
Small transfers (token ids, hidden states, composition inputs, below ``SMALL_TRANSFER_BYTES``) are timed
from the links' current state without entering the fluid model; their bytes are counted all the same.
"""
from __future__ import annotations

import heapq
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from eoesim.eoe.composition import (average_gemm, check_composable, hidden_bytes, merge_gemm, merge_memory_bytes,
                                    merged_name)
from eoesim.eoe.expert import DEFAULT_BYTES_PER_WEIGHT, Expert, param_bytes, resolve_experts
from eoesim.eoe.hardware import build_hardware
from eoesim.eoe.mapping import build_mapping
from eoesim.eoe.morphology import Node, build_morphology
from eoesim.eoe.requests import DEFAULTS as REQUEST_DEFAULTS
from eoesim.eoe.requests import generate_requests, zipf_popularity
from eoesim.eoe.router import build_router, expert_popularity, route_node
from eoesim.errors import ConfigError, SimulationError
from eoesim.serving.background import BackgroundLoad
from eoesim.serving.batching import ModelState, blocks_for, form_batch
from eoesim.serving.costs import ModelCosts, shared_pricer
from eoesim.serving.dispatch import Dispatcher
from eoesim.serving.fluid import Flow, Fluid
from eoesim.serving.instance import Instance, Step, build_step
from eoesim.serving.metrics import BREAKDOWN_CATEGORIES
from eoesim.serving.power import power_settings
from eoesim.serving.memory import DDRCache, StackMemory, kv_shares
from eoesim.serving.package import Package
from eoesim.serving.recorder import Recorder
from eoesim.serving.sequences import DONE, MOVING, RUNNING, SWAPPED, WAITING, Group, Seq
from eoesim.serving.settings import check_block_size, serving_settings
from eoesim.stitch.components import ComponentModel, TableComponentModel
from eoesim.stitch.energy import EnergyModel

COMPOSITION_DEFAULT = "representation_average"
CAT = {c: i for i, c in enumerate(BREAKDOWN_CATEGORIES)}
SMALL_TRANSFER_BYTES = 64 * 1024


class Cluster:
    """Instances stepping together because they hold parts of the same composition groups."""

    __slots__ = ("members", "pending", "k", "t0", "compose_s", "t_end")

    def __init__(self, members: list[Instance], k: int, t0: float, compose_s: float) -> None:
        self.members = members
        self.pending = len(members)
        self.k = k
        self.t0 = t0
        self.compose_s = compose_s
        self.t_end = t0


class Engine:
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
            raise ConfigError(f"mapping.prefetch: {self.prefetch_n} is not allowed; allowed: a boolean or an integer >= 0")
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
        self._check_capacity()
        self._place_initial(mcfg.get("hot_set"))
        self._set_kv_partition()
        self.dispatcher = Dispatcher(self)
        self._start_background()
        self.req_state: dict[int, dict[str, Any]] = {}
        self.loads: dict[tuple[int, str], dict[str, Any]] = {}  # (stack, expert) -> load in flight
        self.ddr_waiters: dict[str, list] = {}  # expert -> (stack, load) waiting for its SSD -> DDR read
        self.kv_waiters: list[list[Callable]] = [[] for _ in range(pk.n_stacks)]
        self.pending_loads: list[list[tuple[str, float]]] = [[] for _ in range(pk.n_stacks)]
        self._sid = 0
        self._gid = 0
        self._rr: dict[str, int] = defaultdict(int)
        self._admits = 0
        self._route_cost: dict[tuple, Any] = {}
        self._compose_cost: dict[tuple, Any] = {}
        self.failures = None
        self.redirect: dict[int, Instance] = {}  # failed instance -> where its work went

    # --- setup -----------------------------------------------------------------------------------------
    def _build_instances(self, mcfg: Mapping[str, Any]) -> None:
        pk = self.package
        by_chips: dict[tuple[int, ...], Instance] = {}
        self.replicas: dict[str, list[Instance]] = {}
        dis = self.cfg["disaggregation"]
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

    def picks_at_once(self) -> int:
        """Experts one request runs together (the picks of a representation-averaging router)."""
        return self.router_model.k if self.composition == "representation_average" else 1

    def _check_capacity(self) -> None:
        """Every stack must hold, at once, the experts one request runs on it together (the picks of a
        representation-averaging router), else requests could wait for each other forever."""
        k = self.picks_at_once()
        for s, mem in enumerate(self.stacks):
            sizes = sorted((self.stack_bytes(n, s) for n in self.experts
                            if any(s in i.stacks for i in self.replicas[n])), reverse=True)
            need = sum(sizes[:k])
            if need > mem.capacity:
                raise ConfigError(
                    f"hardware.memory.hbm.capacity_gib: {mem.capacity / 2**30:.4g} GiB per stack is not allowed; "
                    f"allowed: at least {need / 2**30:.4g} GiB - stack {s} must hold the {min(k, len(sizes))} "
                    "largest experts it serves at once (a request's picks run together), plus their KV cache")

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
            users = [n for n in order if any(s in i.stacks for i in self.replicas[n])]
            buffer = 0.0
            if hot is None and self.policy == "static" and sum(self.stack_bytes(n, s) for n in users) > mem.capacity:
                # static pins what it places: an automatic hot set leaves room to load the other experts a
                # request runs at once (memory.py's transient buffer), else such a request would wait forever
                buffer = sum(sorted((self.stack_bytes(n, s) for n in users), reverse=True)[:self.picks_at_once()])
            for name in (hot if hot is not None else users):
                if name not in users or (buffer and mem.free() - self.stack_bytes(name, s) < buffer):
                    continue
                if not mem.place(name, self.stack_bytes(name, s), hot=self.policy == "static"):
                    if hot is not None:
                        raise ConfigError(f"mapping.hot_set: expert {name!r} ({self.stack_bytes(name, s) / 2**30:.3g} "
                                          f"GiB on stack {s}) does not fit in hardware.memory.hbm.capacity_gib "
                                          f"({mem.capacity / 2**30:.3g} GiB per stack) with the hot set before it; "
                                          "allowed: a smaller hot set or more HBM")
                    continue
        for name in order:
            self.ddr.place(name, self.sizes[name])

    def _set_kv_partition(self) -> None:
        rq = self.requests
        mean_tokens = float(np.mean(rq.prompt_tokens + rq.output_tokens)) if len(rq) else 0.0
        demand = {n: self.popularity[n] * mean_tokens * self.costs_for(x, 1).kv_bytes_per_token
                  for n, x in self.experts.items()}
        for s, mem in enumerate(self.stacks):
            users = [n for n in self.experts if any(s in i.stacks for i in self.replicas[n])]
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
        while events:
            t, _, fn, args = pop(events)
            self.now = t
            fn(*args)
        self.rec.finish(self.now)
        left = int(np.isnan(self.rec.done).sum())
        if left:
            raise SimulationError(self._stuck(left))
        return self

    def _stuck(self, left: int) -> str:
        """Why requests never finished (every event was processed): what holds the HBM stacks."""
        waits = [f"stack {s}: loads of {[n for n, _ in p]} wait" for s, p in enumerate(self.pending_loads) if p]
        full = [f"stack {m.index}: {m.weights / 2**20:.1f} MiB weights ({sorted(m.resident)}) + "
                f"{m.kv_used / 2**20:.1f} MiB KV of {m.capacity / 2**20:.1f} MiB" for m in self.stacks]
        return (f"serving: {left} of {len(self.requests)} requests never finished - the experts a request needs at "
                f"once do not fit together in HBM ({'; '.join(waits) or 'no load waits'}; {'; '.join(full)}); "
                "allowed: a larger hardware.memory.hbm.capacity_gib, fewer experts per stack "
                "(hardware.memory.hbm.stacks / serves, mapping), or a composition that needs one expert at a time")

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
        key = (len(node.children), tokens)
        c = self._route_cost.get(key)
        if c is None:
            rm = self.router_model
            g = rm.gemm(tokens, len(node.children))
            seconds = rm.fixed_cycles * self.hw.chiplet.cycle_s
            if g is not None:
                cost = self.pricer.gemm(g, DEFAULT_BYTES_PER_WEIGHT)
                seconds += cost.seconds
                self.rec.gemm_energy(cost, "route")
            c = self._route_cost[key] = seconds
        else:
            rm = self.router_model
            g = rm.gemm(tokens, len(node.children))
            if g is not None:
                self.rec.gemm_energy(self.pricer.gemm(g, DEFAULT_BYTES_PER_WEIGHT), "route")
        self.rec.chiplet_busy(self.router_chiplet, c)
        return c

    def compose_delay(self, names: list[str], insts: list[Instance], home: int) -> float:
        """Seconds to compose one token of a group: hidden states to ``home`` (slowest part), then the average."""
        lead = self.experts[names[0]]
        key = (len(names), lead.d_model, lead.bytes_per_weight)
        g = self.pricer.gemm(average_gemm(len(names), 1, lead.d_model), lead.bytes_per_weight)
        move = 0.0
        for name, inst in zip(names, insts):
            if inst.chips[0] != home:
                move = max(move, self.small_transfer(inst.chips[0], home, hidden_bytes(self.experts[name], 1),
                                                     self.now))
        self._compose_cost[key] = g
        return move + g.seconds

    # --- instance choice and loads ---------------------------------------------------------------------
    def choose_instance(self, expert: str, r: int, role: str = "prefill") -> Instance:
        insts = [i for i in self.replicas[expert] if i.alive and i.role in ("both", role)]
        if not insts:
            insts = [i for i in self.replicas[expert] if i.alive]
        if len(insts) == 1:
            return insts[0]
        if self.cfg["load_balance"] == "round_robin":
            j = self._rr[expert + role]
            self._rr[expert + role] += 1
            return insts[j % len(insts)]
        return min(insts, key=lambda i: (i.outstanding_tokens(), i.iid))

    def prefetch_expert(self, name: str, r: int, t: float) -> None:
        if self.policy == "static" or name not in self.replicas:
            return
        inst = self.choose_instance(name, r)
        self.at(t, self._prefetch_now, name, inst)

    def _prefetch_now(self, name: str, inst: Instance) -> None:
        for s in set(inst.stacks):
            mem = self.stacks[s]
            if not mem.is_resident(name) and (s, name) not in self.loads:
                self.rec.cache_event("prefetch")
                self.start_load(s, name, prefetch=True)

    def ensure_resident(self, name: str, inst: Instance, then: Callable[[], Any], whole: bool = False) -> None:
        """Call ``then`` once ``name`` may run on ``inst``: resident on every stack it reads, or (streamed
        loads, unless ``whole``) its loads have started."""
        missing = []
        for s in set(inst.stacks):
            mem = self.stacks[s]
            mem.touch(name)
            if not mem.is_resident(name):
                missing.append(s)
        self.rec.cache_access(name, hit=not missing)
        if not missing:
            then()
            return
        state = {"n": len(missing)}

        def one_ready() -> None:
            state["n"] -= 1
            if state["n"] == 0:
                then()

        streamed = self.cfg["expert_load"] == "streamed" and not whole
        for s in missing:
            load = self.loads.get((s, name)) or self.start_load(s, name)
            if not streamed:
                load["waiters"].append(one_ready)
            elif load["flowing"]:
                one_ready()
            else:
                load["started"].append(one_ready)

    def start_load(self, stack: int, name: str, prefetch: bool = False,
                   protect: frozenset = frozenset()) -> dict[str, Any]:
        load = {"waiters": [], "started": [], "flowing": False, "t0": self.now, "prefetch": prefetch,
                "stack": stack, "name": name, "ssd_start": None, "ssd_end": None, "copy_start": None,
                "protect": protect}
        self.loads[(stack, name)] = load
        self._try_load(stack, name, load)
        return load

    def _try_load(self, stack: int, name: str, load: dict[str, Any]) -> None:
        mem = self.stacks[stack]
        nbytes = self.stack_bytes(name, stack)
        if mem.reserve(name, nbytes, load["protect"]) is None:
            self._make_room(stack, nbytes)
            if mem.reserve(name, nbytes, load["protect"]) is None:
                self.pending_loads[stack].append((name, self.now))
                return
        if name.startswith("merged("):
            self._merge(stack, name, load)
            return
        if self.ddr.has(name):
            self._copy_to_stack(stack, name, load)
        elif name in self.ddr.loading:
            self.ddr_waiters.setdefault(name, []).append((stack, load))
        else:
            self.ddr.reserve(name, self.sizes[name])
            self.ddr_waiters.setdefault(name, []).append((stack, load))
            self.rec.ssd_read(name, self.sizes[name], self.now)
            load["ssd_start"] = self.now
            self._started(load)
            self.flow(self.sizes[name], (self.package.SSD, self.package.DDR), float("inf"), self._ssd_done,
                      (name, self.now))

    def _started(self, load: dict[str, Any]) -> None:
        if not load["flowing"]:
            load["flowing"] = True
            for cb in load["started"]:
                cb()
            load["started"] = []

    def _ssd_done(self, flow: Flow, arg: tuple) -> None:
        name, t0 = arg
        self.ddr.loaded(name)
        self.rec.load_done("ssd", name, t0, self.now, flow.nbytes)
        for stack, load in self.ddr_waiters.pop(name, []):
            if load["ssd_start"] is not None:
                load["ssd_end"] = self.now
            self._copy_to_stack(stack, name, load)

    def _copy_to_stack(self, stack: int, name: str, load: dict[str, Any]) -> None:
        self._started(load)
        load["copy_start"] = self.now
        nbytes = self.stack_bytes(name, stack)
        pk = self.package
        entry = pk.nearest_served(stack, pk.ddr_chiplet)
        if entry != pk.ddr_chiplet:  # a stack beside the DDR's chiplet is reached without the package network
            self.rec.traffic(pk.ddr_chiplet, entry, nbytes, "expert_load")
        self.flow(nbytes, self.package.ddr_to_stack(stack), float("inf"), self._load_done, load)

    def _merge(self, stack: int, name: str, load: dict[str, Any]) -> None:
        """Weight summation on the lead's stack: read the picks, write the merged expert."""
        self._started(load)
        picks = name[len("merged("):-1].split("+")
        lead = self.experts[picks[0]]
        g = self.pricer.gemm(merge_gemm(lead, len(picks)), lead.bytes_per_weight)
        self.rec.gemm_energy(g, "merge")
        nbytes = merge_memory_bytes(self.stack_bytes(name, stack), len(picks))
        self.flow(nbytes, (stack,), nbytes / max(g.seconds, 1e-12), self._load_done, load)

    def _load_done(self, flow: Flow, load: dict[str, Any]) -> None:
        stack, name = load["stack"], load["name"]
        self.stacks[stack].loaded(name)
        del self.loads[(stack, name)]
        self.rec.load_done("hbm", name, load["t0"], self.now, flow.nbytes, stack=stack, prefetch=load["prefetch"])
        self.rec.expert_loads.append({"expert": name, "stack": stack, "issue_s": load["t0"],
                                      "ssd_start_s": load["ssd_start"], "ssd_end_s": load["ssd_end"],
                                      "copy_start_s": load["copy_start"], "hbm_ready_s": self.now,
                                      "prefetch": load["prefetch"], "size_bytes": flow.nbytes})
        for cb in load["waiters"]:
            cb()
        for inst in self.instances:
            if inst.step is not None and inst.step.phase == 2 and inst.step.load_wait == (stack, name):
                self._finish_after_load(inst)

    def retry_loads(self, stack: int) -> None:
        pending, self.pending_loads[stack] = self.pending_loads[stack], []
        for name, _t in pending:
            load = self.loads.get((stack, name))
            if load is not None:
                self._try_load(stack, name, load)

    def _make_room(self, stack: int, nbytes: float) -> None:
        """Weights before KV: free KV on ``stack`` for a load by preempting (recompute) sequences that are not
        making progress there - composition parts waiting for a partner first - most recently admitted first."""
        mem = self.stacks[stack]
        unpinned = sum(b for e, b in mem.resident.items() if not mem.pinned(e))
        need = nbytes - mem.free() - unpinned
        if need <= 0:
            return
        victims = []
        for inst in self.instances:
            if stack not in inst.stacks or inst.step is not None:
                continue
            for m in inst.models.values():
                victims.extend(s for s in m.running if s.blocks and s.blocked)
        victims.sort(key=lambda s: -s.admit_order)
        for s in victims:
            if need <= 0:
                break
            m = s.inst.models[s.expert]
            if s not in m.running:
                continue
            need -= s.blocks * s.kv_bpb.get(stack, 0.0)
            m.running.remove(s)
            s.preemptions += 1
            self.rec.preemption(s, "recompute", self.now)
            self._drop_kv(s)
            m.waiting.appendleft(s)

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

    def _set_kv_layout(self, seq: Seq, inst: Instance) -> None:
        """KV bytes per block on each stack the instance's shards read."""
        bs = self.cfg["kv_block_tokens"]
        per_token = inst.models[seq.expert].costs.kv_bytes_per_token
        seq.kv_bpb = {}
        for s in inst.stacks:
            seq.kv_bpb[s] = seq.kv_bpb.get(s, 0.0) + bs * per_token

    def rehome(self, seq: Seq, new: Instance, keep_kv: bool) -> None:
        """Move a sequence of a failed instance to ``new``: with its KV (same stacks) or to be recomputed."""
        old = seq.inst
        for st in set(old.stacks):
            self.stacks[st].release(seq.expert)
        if not keep_kv:
            self.free_kv(seq)
            if seq.state != WAITING and seq.generated > 0:
                seq.recompute = seq.generated
            seq.prefilled = 0
            seq.state = WAITING
        seq.inst = new
        seq.role = new.role
        self._set_kv_layout(seq, new)
        for st in set(new.stacks):
            self.stacks[st].admit(seq.expert)
        m = new.models[seq.expert]
        if seq.state == RUNNING:
            m.running.append(seq)
        else:
            m.waiting.append(seq)

    def abort_step(self, inst: Instance) -> None:
        """Drop the step in flight (its chiplet failed): its flows stop, its sequences do not advance."""
        step = inst.step
        for f in step.flows:
            if not f.done:
                self.fluid.cancel(f, self.now)
        inst.step = None
        cl = step.cluster
        if cl is not None:
            cl.members = [m for m in cl.members if m is not inst]
            if not step.reported:
                cl.pending -= 1
                if cl.pending == 0 and cl.members:
                    self.at(self.now + cl.k * cl.compose_s, self._finish_cluster, cl)

    def _arrive(self, seq: Seq) -> None:
        while not seq.inst.alive:
            seq.inst = self.redirect[seq.inst.iid]
            self._set_kv_layout(seq, seq.inst)
        inst = seq.inst
        g = seq.group
        if g is not None:
            seq.t_enqueue = self.now
            g.arrived += 1
            if g.arrived == len(g.parts):
                self._gang_admit(g)
            return
        for s in set(inst.stacks):
            self.stacks[s].admit(seq.expert)
        seq.t_enqueue = self.now
        self.rec.seq_queued(seq, self.now)
        self.ensure_resident(seq.expert, inst, lambda: self._enqueue(seq))

    def _gang_admit(self, g: Group) -> None:
        """Admit a composition group's parts together once every part's expert is resident on its stacks
        (so no resident expert is pinned waiting for a partner that cannot load); until then the group's
        experts are wanted and its loads never evict each other."""
        need = {(s, p.expert) for p in g.parts for s in set(p.inst.stacks)}
        missing = [(s, e) for s, e in need if not self.stacks[s].is_resident(e)]
        if not g.counted:
            g.counted = True
            for p in g.parts:
                self.rec.cache_access(p.expert, hit=all(self.stacks[s].is_resident(p.expert)
                                                        for s in set(p.inst.stacks)))
            for s, e in need:
                self.stacks[s].wanted[e] = self.stacks[s].wanted.get(e, 0) + 1
        if missing:
            state = {"n": len(missing)}

            def loaded() -> None:
                state["n"] -= 1
                if state["n"] == 0:
                    self._gang_admit(g)

            for s, e in missing:
                protect = frozenset(x for st, x in need if st == s)
                load = self.loads.get((s, e)) or self.start_load(s, e, protect=protect)
                load["waiters"].append(loaded)
            return
        for s, e in need:
            self.stacks[s].wanted[e] -= 1
        last = max(p.t_enqueue for p in g.parts)  # before the last part arrived, parts wait for partners, not loads
        for p in g.parts:
            for s in set(p.inst.stacks):
                self.stacks[s].admit(p.expert)
                self.stacks[s].touch(p.expert)
            self.attribute(p.req, "expert_load", (self.now - last) * p.weight)
            p.t_enqueue = self.now
            p.inst.models[p.expert].waiting.append(p)
            self.wake(p.inst)

    def attribute(self, r: int, category: str, seconds: float) -> None:
        """Seconds of request ``r``'s latency spent in ``category`` (the latency breakdown)."""
        if seconds > 0:
            self.rec_breakdown[r, CAT[category]] += seconds

    def _enqueue(self, seq: Seq) -> None:
        self.attribute(seq.req, "expert_load", (self.now - seq.t_enqueue) * seq.weight)
        seq.t_enqueue = self.now
        seq.inst.models[seq.expert].waiting.append(seq)
        self.wake(seq.inst)

    # --- KV space (serving.batching.KVSpace) ---------------------------------------------------------------
    def fits(self, seq: Seq, blocks: int, watermark: bool) -> bool:
        return self._fits(seq.expert, seq.kv_bpb, blocks, watermark)

    def _fits(self, expert: str, kv_bpb: Mapping[int, float], blocks: int, watermark: bool) -> bool:
        wm = self.cfg["kv_watermark"] if watermark else 0.0
        for s, bpb in kv_bpb.items():
            mem = self.stacks[s]
            if mem.kv_room(expert) - wm * mem.kv_space() < blocks * bpb:
                return False
        return True

    def fits_many(self, seqs: list[Seq], needs: list[int]) -> bool:
        want: dict[tuple[int, str], float] = defaultdict(float)
        for seq, n in zip(seqs, needs):
            if n:
                for s, bpb in seq.kv_bpb.items():
                    want[(s, seq.expert)] += n * bpb
        per_stack: dict[int, float] = defaultdict(float)
        for (s, expert), b in want.items():
            if self.stacks[s].kv_room(expert) < b:
                return False
            per_stack[s] += b
        return all(self.stacks[s].kv_space() - self.stacks[s].kv_used >= b for s, b in per_stack.items())

    def alloc(self, seq: Seq, blocks: int) -> None:
        for s, bpb in seq.kv_bpb.items():
            self.stacks[s].kv_alloc(seq.expert, blocks * bpb)
            self.rec.kv_change(s, self.now, self.stacks[s].kv_used)
        seq.blocks += blocks

    def admit(self, seq: Seq) -> None:
        if seq.t_admit < 0:
            seq.t_admit = self.now
            seq.wait_s += self.now - seq.t_enqueue
        self._admits += 1
        seq.admit_order = self._admits

    def free_kv(self, seq: Seq) -> None:
        if seq.blocks:
            for s, bpb in seq.kv_bpb.items():
                self.stacks[s].kv_free(seq.expert, seq.blocks * bpb)
                self.rec.kv_change(s, self.now, self.stacks[s].kv_used)
            seq.blocks = 0
            for s in set(seq.kv_bpb):
                if self.pending_loads[s]:
                    self.retry_loads(s)
                if self.kv_waiters[s]:
                    waiting, self.kv_waiters[s] = self.kv_waiters[s], []
                    for cb in waiting:
                        self.at(self.now, cb)
            self._wake_stack_users(seq.kv_bpb)

    def _wake_stack_users(self, stacks) -> None:
        """KV space freed on ``stacks``: idle instances there with sequences waiting to be admitted retry."""
        for s in stacks:
            for inst in self.stack_users[s]:
                if inst.step is None and not inst.gang_wait and not inst.wake_pending and any(
                        m.waiting or m.swapped for m in inst.models.values()):
                    self.wake(inst)

    # --- steps ---------------------------------------------------------------------------------------------
    def wake(self, inst: Instance) -> None:
        """Something changed for ``inst``: start a step if it is idle; cut a multi-iteration step short."""
        if inst.step is not None:
            self.interrupt(inst)
            return
        if inst.gang_wait or inst.wake_pending:
            return
        inst.wake_pending = True
        self.at(self.now, self._try_start, inst)

    def interrupt(self, inst: Instance) -> None:
        """End ``inst``'s running step (or its cluster's) at the iteration in progress.

        A multi-iteration step moves its bytes as one flow, while iteration by iteration each one would have
        paid the memory latency after its bytes: iteration ``j`` is done once ``bytes(j) + j x latency x
        rate`` bytes-worth have passed. The step is cut after the iteration in progress, and the latency it
        still owes is what that iteration would have ended with. A cluster steps in lock step: its iteration in
        progress is the slowest member's; the members ahead of it are cut back to the same count."""
        step = inst.step
        if step is None or step.k <= 1:
            return
        cluster = step.cluster
        members = cluster.members if cluster is not None else [inst]
        done = []
        for m in members:
            ms = m.step
            if ms is None or ms.phase != 0:
                continue
            if not ms.flows:  # compute-only: iterations of equal length
                done.append(int((self.now - ms.t0) / max(ms.compute.seconds, 1e-30) * ms.k))
                continue
            done.append(min(self._iterations_done(ms, f) for f in ms.flows))
        if not done:
            return
        k_new = min(done) + 1
        if k_new >= step.k:
            return
        for m in members:
            if m.step is not None:
                self._shorten(m.step, k_new)
        if cluster is not None:
            cluster.k = k_new

    def _iterations_done(self, step: Step, f: Flow) -> int:
        f.advance(self.now)
        moved = f.nbytes - f.remaining
        per_iter = step.lat_iter_s * f.rate
        lo, hi = 0, step.k - 1  # the largest j with bytes(j) + j latency-bytes <= moved
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if step.bytes_after(mid) + mid * per_iter <= moved:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _shorten(self, step: Step, k_new: int) -> None:
        fresh = build_step(step.inst, step.batches, k_new, self.background.slowdown(step.inst.chips[0]))
        step.k, step.compute, step.bytes_per_shard = k_new, fresh.compute, fresh.bytes_per_shard
        step.coll_bytes, step.coll_rounds = fresh.coll_bytes, fresh.coll_rounds
        if step.phase != 0:  # already done with its (now fewer) iterations
            return
        for f in step.flows:
            moved = f.nbytes - f.remaining
            ahead = max(0.0, moved - step.bytes_per_shard)
            step.lat_after_s = max(0.0, k_new * step.lat_iter_s - (ahead / f.rate if f.rate > 0 else 0.0))
            self.fluid.truncate(f, self.now, max(0.0, step.bytes_per_shard - moved))
        if not step.flows:
            self.at(max(self.now, step.t0 + step.compute.seconds), self._compute_timer_done, step.inst, step)

    def _try_start(self, inst: Instance) -> None:
        inst.wake_pending = False
        if inst.step is not None or inst.gang_wait or not inst.alive:
            return
        batches = self._batches(inst, self.cfg["max_steps_per_event"])
        if not batches:
            return
        partners = self._gang(inst, batches)
        if partners is None:
            return
        if partners:
            self._start_cluster([inst] + partners, {inst.iid: batches})
            return
        k = min(b.steps for b in batches) if all(not b.prefills for b in batches) else 1
        self._start_step(inst, batches, k, None)

    def _batches(self, inst: Instance, limit: int) -> list:
        cfg = self.cfg
        out = []
        decode_ok = inst.role in ("both", "decode")
        prefill_ok = inst.role in ("both", "prefill")
        for m in inst.models.values():
            if not (m.waiting or m.running or m.swapped):
                continue
            if m.swapped and decode_ok:
                self._swap_in(inst, m)
            b = form_batch(m, cfg["scheduler"], cfg, self, decode_ok, prefill_ok, limit)
            while b is not None and b.steps == 0:
                if not self._preempt(inst, m):
                    b = None
                    break
                b = form_batch(m, cfg["scheduler"], cfg, self, decode_ok, prefill_ok, limit)
            if b is not None and (b.decodes or b.prefills):
                out.append(b)
        return out

    def _gang(self, inst: Instance, batches: list) -> list[Instance] | None:
        """Partner instances that must step with ``inst`` (their groups' parts are ready), [] for none, or
        None when a partner is busy (``inst`` waits for it; the partner is cut short)."""
        groups = {s.group for b in batches for s in b.decodes if s.group is not None}
        if not groups:
            return []
        seen = {inst.iid}
        partners: list[Instance] = []
        queue = list(groups)
        visited_groups = set(groups)
        while queue:
            g = queue.pop()
            for p in g.parts:
                other = p.inst
                if other.iid in seen or p.state != RUNNING or p.in_prefill or p.blocked or p.remaining <= 0:
                    continue
                if other.step is not None or not other.alive:
                    if other.alive:
                        inst.gang_wait = True
                        other.waiters.append(inst)
                        self.interrupt(other)
                        return None
                    continue
                seen.add(other.iid)
                partners.append(other)
                for m in other.models.values():
                    for s in m.running:
                        if s.group is not None and s.group not in visited_groups and not s.blocked:
                            visited_groups.add(s.group)
                            queue.append(s.group)
        return partners

    def _start_cluster(self, members: list[Instance], formed: dict[int, list]) -> None:
        batches = {}
        for m in members:
            b = formed.get(m.iid)
            if b is None:
                m.gang_wait = False
                b = self._batches(m, self.cfg["max_steps_per_event"])
            batches[m.iid] = b
        members = [m for m in members if batches[m.iid]]
        if len(members) == 1:
            m = members[0]
            bs = batches[m.iid]
            self._start_step(m, bs, min(b.steps for b in bs) if all(not b.prefills for b in bs) else 1, None)
            return
        mixed = any(b.prefills for m in members for b in batches[m.iid])
        k = 1 if mixed else min(b.steps for m in members for b in batches[m.iid])
        compose = max((g.delay_s for m in members for b in batches[m.iid] for s in b.decodes
                       if (g := s.group) is not None), default=0.0)
        cluster = Cluster(members, k, self.now, compose)
        for m in members:
            m.gang_wait = False
            self._start_step(m, batches[m.iid], k, cluster)

    def _start_step(self, inst: Instance, batches: list, k: int, cluster: Cluster | None) -> None:
        step = build_step(inst, batches, k, self.background.slowdown(inst.chips[0]))
        step.t0 = self.now
        step.cluster = cluster
        inst.step = step
        inst.events += 1
        c = step.compute.seconds
        pk = self.package
        if step.bytes_per_shard > 0:
            cap = step.bytes_per_shard / c if c > 0 else float("inf")
            flows = []
            step.flows_left = inst.shards
            fl, curves = self.fluid, self.curves
            for chip, s in zip(inst.chips, inst.stacks):
                path = pk.stack_path(s, chip)
                step.lat_iter_s = max(step.lat_iter_s, sum(curves[d].latency_at(fl.utilization(d)) for d in path))
                flows.append(fl.start(self.now, step.bytes_per_shard, path, cap, owner=(self._step_bytes_done, step)))
            step.flows = tuple(flows)
        else:
            self.at(self.now + c, self._compute_timer_done, inst, step)

    def _compute_timer_done(self, inst: Instance, step: Step) -> None:
        if inst.step is not step or step.phase != 0 or self.now < step.t0 + step.compute.seconds - 1e-15:
            return
        self._collectives(inst, step)

    def _step_bytes_done(self, flow: Flow, step: Step) -> None:
        """A shard's bytes are moved; its data arrives after the devices' latency, once per iteration."""
        lat = step.k * step.lat_iter_s if step.lat_after_s is None else step.lat_after_s
        self.at(self.now + lat, self._memory_done, flow, step)

    def _memory_done(self, flow: Flow, step: Step) -> None:
        if step.inst.step is not step or step.phase != 0:
            return
        step.flows_left -= 1
        if step.flows_left == 0:
            end = step.t0 + step.compute.seconds
            if self.now < end - 1e-15:  # a flow finished early (its cap was not binding after a re-share)
                self.at(end, self._compute_timer_done, step.inst, step)
            else:
                self._collectives(step.inst, step)

    def _collectives(self, inst: Instance, step: Step) -> None:
        step.t_compute_end = self.now
        if inst.shards <= 1 or step.coll_bytes <= 0:
            self._step_end(inst, step)
            return
        step.phase = 1
        pk = self.package
        chips = inst.chips
        ring = [pk.route(chips[j], chips[(j + 1) % len(chips)]) for j in range(len(chips))]
        hop_lat = max(sum(self.curves[d].latency_at(self.fluid.utilization(d)) for d in path) for path in ring)
        latency = step.coll_rounds * hop_lat
        for j, path in enumerate(ring):
            self.rec.traffic(chips[j], chips[(j + 1) % len(chips)], step.coll_bytes, "collective")
        if step.coll_bytes / max(1, step.k) < SMALL_TRANSFER_BYTES:
            seconds = latency
            for j, path in enumerate(ring):
                for d in path:
                    self.fluid.bytes_moved[d] += step.coll_bytes
                share = min(max(self.fluid.capacity[d] - self.fluid.load[d], 0.01 * self.fluid.capacity[d])
                            for d in path)
                seconds = max(seconds, latency + step.coll_bytes / share)
            self.at(self.now + seconds, self._coll_timer, inst, step)
            return
        step.flows_left = len(ring)
        step.flows = tuple(self.fluid.start(self.now, step.coll_bytes, path, float("inf"),
                                            owner=(self._coll_flow_done, (step, latency))) for path in ring)

    def _coll_timer(self, inst: Instance, step: Step) -> None:
        if inst.step is step:
            self._step_end(inst, step)

    def _coll_flow_done(self, flow: Flow, arg: tuple) -> None:
        step, latency = arg
        if step.inst.step is not step:
            return
        step.flows_left -= 1
        if step.flows_left == 0:
            self.at(self.now + latency, self._coll_timer, step.inst, step)

    def _step_end(self, inst: Instance, step: Step) -> None:
        """Memory, compute and collectives of a step are done."""
        if step.phase < 2:
            step.t_coll_end = self.now
        step.phase = 2
        wait = self._loading_for(inst, step)
        if wait is not None:
            step.load_wait = wait
            return
        cluster = step.cluster
        if cluster is None:
            self._finish_step(inst, step, self.now)
            return
        step.reported = True
        cluster.pending -= 1
        cluster.t_end = max(cluster.t_end, self.now)
        if cluster.pending == 0:
            self.at(self.now + cluster.k * cluster.compose_s, self._finish_cluster, cluster)

    def _loading_for(self, inst: Instance, step: Step) -> tuple[int, str] | None:
        """A streamed load one of the step's models still waits for (the step ends after it)."""
        if self.cfg["expert_load"] != "streamed":
            return None
        for b in step.batches:
            for s in set(inst.stacks):
                if (s, b.model.name) in self.loads:
                    return (s, b.model.name)
        return None

    def _finish_after_load(self, inst: Instance) -> None:
        step = inst.step
        wait = self._loading_for(inst, step)
        if wait is not None:
            step.load_wait = wait
            return
        step.load_wait = None
        layers = max(b.model.costs.expert.layers for b in step.batches)
        last_layer = step.compute.seconds / layers
        step.waited_load_s += self.now - step.t_coll_end + last_layer
        self.at(self.now + last_layer, self._step_end, inst, step)

    def _finish_cluster(self, cluster: Cluster) -> None:
        for m in cluster.members:
            if m.step is not None and m.step.cluster is cluster:
                self._finish_step(m, m.step, self.now)

    def _finish_step(self, inst: Instance, step: Step, t_end: float) -> None:
        inst.step = None
        dur = t_end - step.t0
        mem_rel = self.curves[inst.stacks[0]].rel_error or 0.0
        step.rel_abs_s = step.compute.rel_s + mem_rel * max(0.0, dur - step.compute.seconds)
        inst.busy_s += dur
        inst.iterations += step.k
        self.rec.step(inst, step, t_end)
        k = step.k
        for b in step.batches:
            self.rec.hbm_stream(step.t0, inst, b, k)
        comp = min(step.compute.seconds, step.t_compute_end - step.t0)
        mem = max(0.0, step.t_compute_end - step.t0 - step.compute.seconds)
        net = max(0.0, step.t_coll_end - step.t_compute_end)
        compose = step.cluster.k * step.cluster.compose_s if step.cluster is not None else 0.0
        load = step.waited_load_s
        for b in step.batches:
            for s in b.decodes:
                s.compute_s += comp
                s.memory_s += mem
                s.network_s += net
                s.other_s += compose
                s.load_s += load
            for s, _ in b.prefills:
                s.compute_s += comp
                s.memory_s += mem
                s.network_s += net
                s.other_s += compose
                s.load_s += load
        for b in step.batches:
            m = b.model
            for s in b.decodes:
                self._emit(s, k, step.t0, t_end, step)
            for s, q in b.prefills:
                s.prefilled = min(s.prompt_total, s.prefilled + q)
                self.rec.seq_step(s, step, t_end)
                if not s.in_prefill:
                    self._prefill_complete(s, t_end)
            if m.static_batch is not None and all(s.remaining <= 0 for s in m.static_batch):
                m.static_batch = None
        waiters, inst.waiters = inst.waiters, []
        for w in waiters:
            w.gang_wait = False
            self.wake(w)
        self.wake(inst)

    def _emit(self, s: Seq, k: int, t0: float, t1: float, step: Step) -> None:
        """``k`` decode tokens of ``s`` over ``[t0, t1]``."""
        self.rec.seq_step(s, step, t1)
        s.generated += k
        self.rec.tokens(s, k, t0, t1)
        g = s.group
        if g is not None:
            s.blocked = s.generated > g.composed
            self._compose(g, t1, paid=step.cluster is not None)
        elif s.remaining <= 0:
            self._seq_done(s, t1)

    def _prefill_complete(self, s: Seq, t: float) -> None:
        """The prompt is processed: the first token (or, after a recompute, the next one) is out."""
        if s.restore:  # a composition part got its KV back; it still waits for its group
            s.restore = False
            s.recompute = 0
            return
        s.recompute = 0
        s.generated += 1
        first = s.t_first < 0
        if first:
            s.t_first = t
        self.rec.tokens(s, 1, t, t)
        if s.role == "prefill" and s.remaining > 0:
            if first and s.group is None and s.on_first is not None:
                s.on_first(t)
            self._hand_over(s)
            return
        g = s.group
        if g is not None:
            s.blocked = s.generated > g.composed
            self._compose(g, t)
            return
        if first and s.on_first is not None:
            s.on_first(t)
        if s.remaining <= 0:
            self._seq_done(s, t)

    def _compose(self, g: Group, t: float, paid: bool = False) -> None:
        """Compose what every part has generated; unblock the parts; first / last token of the request.
        ``paid``: the parts stepped together as a cluster, whose end already includes the compositions."""
        ready = g.ready_tokens()
        if ready <= g.composed:
            return
        first = g.composed == 0
        g.composed = ready
        self.rec.compose(g, ready)
        out = g.parts[0].out
        t_c = t if paid else t + g.delay_s
        if not paid:  # the parts wait for this composition (a cluster's step already attributes its own)
            self.attribute(g.parts[0].req, "composition", g.delay_s)
        if first:
            self.at(t_c, g.on_first, t_c)
        if ready >= out:
            for p in g.parts:
                if p.state != DONE:
                    self._seq_done(p, t_c, notify=False)
            self.at(t_c, g.on_done, t_c)
            return
        if paid:
            self._unblock(g)
        else:
            self.at(t_c, self._unblock, g)

    def _unblock(self, g: Group) -> None:
        for p in g.parts:
            was = p.blocked
            p.blocked = p.generated > g.composed
            if was and not p.blocked and p.state == RUNNING:
                self.wake(p.inst)

    def _seq_done(self, s: Seq, t: float, notify: bool = True) -> None:
        s.state = DONE
        w, r = s.weight, s.req
        self.attribute(r, "compute", s.compute_s * w)
        self.attribute(r, "memory", s.memory_s * w)
        self.attribute(r, "network", s.network_s * w)
        self.attribute(r, "composition", s.other_s * w)
        self.attribute(r, "expert_load", s.load_s * w)
        m = s.inst.models[s.expert]
        for queue in (m.running, m.waiting, m.swapped):
            if s in queue:
                queue.remove(s)
        self.free_kv(s)
        for st in set(s.inst.stacks):
            self.stacks[st].release(s.expert)
            if self.pending_loads[st]:  # the expert is unpinned only now (free_kv retried while it was pinned)
                self.retry_loads(st)
        self.rec.seq_done(s, t)
        if notify and s.on_done is not None:
            self.at(t, s.on_done, t)

    # --- preemption and swapping ---------------------------------------------------------------------------
    def _preempt(self, inst: Instance, m: ModelState) -> bool:
        """Free KV for the model's next decode step by preempting its most recently admitted running
        sequence; False when nothing can be preempted."""
        cands = [s for s in m.running if s.blocks > 0]
        if not cands:
            return False
        victim = max(cands, key=lambda s: s.admit_order)
        m.running.remove(victim)
        victim.preemptions += 1
        self.rec.preemption(victim, self.cfg["preemption"], self.now)
        if self.cfg["preemption"] == "swap" and not victim.in_prefill:
            nbytes = victim.blocks * sum(victim.kv_bpb.values())
            victim.state = SWAPPED
            m.swapped.append(victim)
            for s in set(victim.kv_bpb):
                self.flow(nbytes / len(victim.kv_bpb), self.package.stack_to_ddr(s), float("inf"),
                          self._noop_flow, None)
            self.free_kv(victim)
        else:
            self._drop_kv(victim)
            m.waiting.appendleft(victim)
        return True

    def _drop_kv(self, s: Seq) -> None:
        """Recompute preemption: the sequence's KV is dropped; it prefills prompt + what it generated again.
        A composition part ahead of its group (waiting for the composed token) only restores its KV: the
        prefill of its prompt and the tokens the group composed emits nothing new."""
        if not s.in_prefill:
            s.recompute = s.generated
        s.restore = s.group is not None and s.generated > s.group.composed
        if s.restore:
            s.recompute = s.generated - 1
        s.prefilled = 0
        s.state = WAITING
        self.free_kv(s)

    def _swap_in(self, inst: Instance, m: ModelState) -> None:
        while m.swapped:
            s = m.swapped[0]
            need = blocks_for(s.context + 1, self.cfg["kv_block_tokens"])
            if not self.fits(s, need, watermark=True):
                return
            m.swapped.popleft()
            self.alloc(s, need)
            s.state = MOVING
            nbytes = need * sum(s.kv_bpb.values())
            state = {"n": len(s.kv_bpb)}
            for st in s.kv_bpb:
                self.flow(nbytes / len(s.kv_bpb), tuple(reversed(self.package.stack_to_ddr(st))), float("inf"),
                          self._swapped_in, (s, state))

    def _swapped_in(self, flow: Flow, arg: tuple) -> None:
        s, state = arg
        state["n"] -= 1
        if state["n"] == 0:
            s.state = RUNNING
            s.inst.models[s.expert].running.append(s)
            self.wake(s.inst)

    def _noop_flow(self, flow: Flow, arg: Any) -> None:
        return None

    # --- disaggregation -----------------------------------------------------------------------------------
    def _hand_over(self, s: Seq) -> None:
        """Move a prefilled sequence to a decode instance: admit it there, then move its KV cache."""
        src = s.inst
        dst = self.choose_instance(s.expert, s.req, role="decode")
        m_src = src.models[s.expert]
        if s in m_src.running:
            m_src.running.remove(s)
        s.state = MOVING
        self.at(self.now, self._hand_over_try, s, src, dst)

    def _hand_over_try(self, s: Seq, src: Instance, dst: Instance) -> None:
        bs = self.cfg["kv_block_tokens"]
        per_token = dst.models[s.expert].costs.kv_bytes_per_token
        new_bpb: dict[int, float] = {}
        for st in dst.stacks:
            new_bpb[st] = new_bpb.get(st, 0.0) + bs * per_token
        need = blocks_for(s.context + 1, bs)
        if not self._fits(s.expert, new_bpb, need, watermark=False):
            for st in set(dst.stacks):
                self.kv_waiters[st].append(lambda: self._hand_over_try(s, src, dst))
            return
        nbytes = s.context * s.inst.models[s.expert].costs.kv_bytes_per_token * src.shards
        old_bpb, old_blocks = dict(s.kv_bpb), s.blocks
        s.kv_bpb, s.blocks = new_bpb, 0
        for st in set(dst.stacks):
            self.stacks[st].admit(s.expert)
        self.alloc(s, need)
        for st, bpb in old_bpb.items():
            self.stacks[st].kv_free(s.expert, old_blocks * bpb)
            self.rec.kv_change(st, self.now, self.stacks[st].kv_used)
        src_stack, dst_stack = src.stacks[0], dst.stacks[0]
        path = self.package.stack_to_stack(src_stack, dst_stack) if src_stack != dst_stack else (src_stack,)
        self.rec.traffic(src.chips[0], dst.chips[0], nbytes, "kv")
        self.flow(nbytes, path, float("inf"), self._handed_over, (s, src, dst))

    def _handed_over(self, flow: Flow, arg: tuple) -> None:
        s, src, dst = arg
        for st in set(src.stacks):
            self.stacks[st].release(s.expert)
        self.rec.kv_move(s, flow.nbytes)
        self.ensure_resident(s.expert, dst, lambda: self._join_decode(s, dst))

    def _join_decode(self, s: Seq, dst: Instance) -> None:
        s.inst = dst
        s.role = "decode"
        s.state = RUNNING
        dst.models[s.expert].running.append(s)
        self.wake(dst)

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
        self.at(t, self._merge_picks, names, key, inst, r, ctx, first, done)

    def _merge_picks(self, names: list[str], key: str, inst: Instance, r: int, ctx: int, first: Callable,
                     done: Callable) -> None:
        """The merged expert needs its picks in HBM (unless it is cached itself), then is merged and run."""
        if all(self.stacks[s].is_resident(key) for s in set(inst.stacks)):
            self.dispatcher.expert(key, r, ctx, self.router_chiplet, self.now, first, done, inst=inst)
            return
        state = {"n": len(names)}

        def pick_ready() -> None:
            state["n"] -= 1
            if state["n"] == 0:
                self.dispatcher.expert(key, r, ctx, self.router_chiplet, self.now, first, done, inst=inst)

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
