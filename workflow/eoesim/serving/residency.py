"""Which experts are in which HBM stack, and the loads that bring them there (a mixin of the serving engine).

A sequence may run once its expert is resident in every stack its instance reads (or, with streamed loads,
once those loads have started: the first iteration then ends no earlier than the load plus its last layer).
A load copies the expert DDR -> HBM across the package links from the DDR's chiplet to the stack, after an
SSD -> DDR read when DDR does not hold it; both are transfers on the fluid model. Room is made by evicting
unpinned experts (eoesim.serving.memory) and, weights before KV, by preempting sequences that make no
progress there. The parts of a composition group are admitted together once all their experts are resident.
"""
from __future__ import annotations

from typing import Any, Callable

from eoesim.eoe.composition import merge_gemm, merge_memory_bytes, merged_picks
from eoesim.serving.countdown import after_all
from eoesim.serving.fluid import Flow
from eoesim.serving.instance import Instance
from eoesim.serving.sequences import SWAPPED, Group


class ExpertResidency:
    def use_expert(self, name: str, inst: Instance) -> None:
        """A use of ``name`` on ``inst``'s stacks: counted in the cache statistics and the replacement policy."""
        for s in set(inst.stacks):
            self.stacks[s].touch(name)
        self.rec.cache_access(name, hit=all(self.stacks[s].is_resident(name) for s in set(inst.stacks)))

    def ensure_resident(self, name: str, inst: Instance, then: Callable[[], Any], whole: bool = False,
                        access: bool = True, holder: int | None = None) -> None:
        """Call ``then`` once ``name`` may run on ``inst``: resident on every stack it reads, or (streamed
        loads, unless ``whole``) its loads have started. ``access``: this is a use of the expert (``use_expert``);
        else only its arrival is awaited (a use counted elsewhere). ``holder``: the ticket of work waiting for
        the loads that holds KV elsewhere (a prefilled sequence to hand over): they go by it, and may park
        younger work queued without KV (``_park_for_load``)."""
        if access:
            self.use_expert(name, inst)
        missing = [s for s in set(inst.stacks) if not self.stacks[s].is_resident(name)]
        if not missing:
            then()
            return
        one_ready = after_all(len(missing), then)
        streamed = self.cfg["expert_load"] == "streamed" and not whole
        for s in missing:
            load = self.loads.get((s, name))
            if load is None:
                load = self.start_load(s, name, self.bytes_on(name, inst, s), ticket=holder,
                                       parks=holder is not None)
            elif holder is not None:  # work holding KV waits for it now
                load["parks"] = True
                retake(load, holder)
                if self.pending_loads[s]:
                    self.at(self.now, self.retry_loads, s)
            if not streamed:
                load["waiters"].append(one_ready)
            elif load["flowing"]:
                one_ready()
            else:
                load["started"].append(one_ready)

    def weights_ready(self, inst: Instance, name: str) -> bool:
        """Whether ``name`` may run on ``inst`` now: resident on every stack it reads, or (streamed loads) its
        loads are flowing. Admission waits for this (``admit_parts``); sequences a failed chiplet's instance
        moved onto other stacks are queued at once and wait here for the load ``ensure_resident`` started."""
        streamed = self.cfg["expert_load"] == "streamed"
        for s in inst.stacks:
            if not self.stacks[s].is_resident(name):
                load = self.loads.get((s, name))
                if not (streamed and load is not None and load["flowing"]):
                    return False
        return True

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
                self.start_load(s, name, self.bytes_on(name, inst, s), prefetch=True)

    def start_load(self, stack: int, name: str, nbytes: float, prefetch: bool = False,
                   protect: frozenset = frozenset(), ticket: float | None = None,
                   parks: bool = False) -> dict[str, Any]:
        """A load of ``nbytes`` of ``name`` into ``stack``; ``ticket`` orders loads waiting for room (oldest first;
        a prefetch comes after everything, a load without a ticket gets the next one); ``parks``: it may park
        younger work queued without KV (``_park_for_load``)."""
        if ticket is None:
            ticket = float("inf") if prefetch else self.next_ticket()
        load = {"waiters": [], "started": [], "flowing": False, "t0": self.now, "prefetch": prefetch,
                "stack": stack, "name": name, "ssd_start": None, "ssd_end": None, "copy_start": None,
                "protect": protect, "ticket": ticket, "parked": None, "nbytes": nbytes, "parks": parks,
                "picks": merged_picks(name), "picks_ticket": ticket}
        for p in load["picks"]:  # a merge waiting for room keeps its picks from younger loads
            self.stacks[stack].want(p, ticket, 1)
        self.loads[(stack, name)] = load
        self._try_load(stack, name, load)
        return load

    def _try_load(self, stack: int, name: str, load: dict[str, Any]) -> None:
        mem = self.stacks[stack]
        nbytes = load["nbytes"]
        if load["picks"] and not self._picks_resident(stack, load):
            return
        if nbytes > mem.free():  # blocks taken ahead by multi-iteration steps go before idle experts
            self.reclaim_lookahead((stack,))
        protect = load["protect"] | frozenset(load["picks"])
        if mem.reserve(name, nbytes, protect, load["ticket"]) is None:
            self._make_room(stack, nbytes)
            if mem.reserve(name, nbytes, protect, load["ticket"]) is None and not (
                    (self.park_load_waiters(stack, name, load) or self._park_for_load(stack, load, protect))
                    and mem.reserve(name, nbytes, protect, load["ticket"]) is not None):
                self.pending_loads[stack].append((name, self.now))
                return
        if load["picks"]:
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

    def _park_for_load(self, stack: int, load: dict[str, Any], protect: frozenset) -> bool:
        """Work holding KV before queued work (a load with ``parks``, for a prefilled sequence to hand over), as an
        admission's KV goes before it (``owners_to_park``): owners younger than the load (or queued behind others)
        that pin experts on ``stack`` with no KV there go back to wait for their experts, and are admitted again
        once the load is in. Else prefilled sequences waiting to hand over their KV to a stack whose one expert
        only queued prefills pinned waited for ever, while their KV kept those prefills waiting. True when enough
        could be unpinned."""
        if not load["parks"] or not self.park_queued_owners(stack, load["nbytes"] - self.stacks[stack].free(),
                                                            load["ticket"], protect):
            return False
        load["parked"] = load["ticket"]
        return True

    def _picks_resident(self, stack: int, load: dict[str, Any]) -> bool:
        """Whether a merge's picks are all in ``stack``; else loads them (an older load may have evicted one while
        the merge waited) and tries the merge again once they are."""
        missing = [p for p in load["picks"] if not self.stacks[stack].is_resident(p)]
        if not missing:
            return True
        pick_in = after_all(len(missing), self._try_load, stack, load["name"], load)
        retaken = False
        for p in missing:
            pick = self.loads.get((stack, p))
            if pick is None:
                pick = self.start_load(stack, p, load["nbytes"], protect=frozenset(load["picks"]),
                                       ticket=load["ticket"])
            else:  # it goes by an older merge's ticket, keeping its other picks
                retaken = retake(pick, load["ticket"], frozenset(load["picks"])) or retaken
            pick["waiters"].append(pick_in)
        if retaken:
            self.at(self.now, self.retry_loads, stack)
        return False

    def _make_room(self, stack: int, nbytes: float) -> None:
        """Weights before KV: free KV on ``stack`` for a load by preempting (recompute) sequences that are not
        making progress there - composition parts waiting for a partner first - most recently admitted first."""
        mem = self.stacks[stack]
        need = nbytes - mem.free() - mem.unpinned_bytes()
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
            self.preempt_for_recompute(m, s)

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
        nbytes = load["nbytes"]
        pk = self.package
        entry = pk.nearest_served(stack, pk.ddr_chiplet)
        if entry != pk.ddr_chiplet:  # a stack beside the DDR's chiplet is reached without the package network
            self.rec.traffic(pk.ddr_chiplet, entry, nbytes, "expert_load")
        self.flow(nbytes, self.package.ddr_to_stack(stack), float("inf"), self._load_done, load)

    def _merge(self, stack: int, name: str, load: dict[str, Any]) -> None:
        """Weight summation on the lead's stack: read the picks (pinned there until it ends), write the merged
        expert."""
        self._started(load)
        mem = self.stacks[stack]
        for p in load["picks"]:
            mem.want(p, load["picks_ticket"], -1)
            mem.admit(p)
        lead = self.experts[load["picks"][0]]
        g = self.pricer.gemm(merge_gemm(lead, len(load["picks"])), lead.bytes_per_weight)
        self.rec.gemm_energy(g, "merge")
        nbytes = merge_memory_bytes(load["nbytes"], len(load["picks"]))
        self.flow(nbytes, (stack,), nbytes / max(g.seconds, 1e-12), self._load_done, load)

    def _load_done(self, flow: Flow, load: dict[str, Any]) -> None:
        stack, name = load["stack"], load["name"]
        self.stacks[stack].loaded(name)
        del self.loads[(stack, name)]
        for p in load["picks"]:  # the merge has read them
            self.stacks[stack].release(p)
        if self.pending_loads[stack]:
            self.retry_loads(stack)
        self.rec.load_done("hbm", name, load["t0"], self.now, flow.nbytes, stack=stack, prefetch=load["prefetch"])
        self.rec.expert_loads.append({"expert": name, "stack": stack, "issue_s": load["t0"],
                                      "ssd_start_s": load["ssd_start"], "ssd_end_s": load["ssd_end"],
                                      "copy_start_s": load["copy_start"], "hbm_ready_s": self.now,
                                      "prefetch": load["prefetch"], "size_bytes": flow.nbytes})
        for cb in load["waiters"]:
            cb()
        if load["parked"] is not None:
            self.release_parked(load["parked"])
        for inst in self.instances:
            if inst.step is not None and inst.step.phase == 2 and inst.step.load_wait == (stack, name):
                self._finish_after_load(inst)
        # the expert is no longer pinned as a copy in flight, only by who runs it: an admission that needs it
        # evicted, or the room of younger owners queued behind it (park_queued_owners), may go ahead now
        self.wake_stack_users((stack,))

    def next_ticket(self) -> int:
        self._ticket += 1
        return self._ticket

    def retry_loads(self, stack: int) -> None:
        """Loads waiting for room on ``stack`` try again, oldest ticket first."""
        pending, self.pending_loads[stack] = self.pending_loads[stack], []
        pending.sort(key=lambda x: self.loads[(stack, x[0])]["ticket"] if (stack, x[0]) in self.loads else 0)
        for name, _t in pending:
            load = self.loads.get((stack, name))
            if load is not None:
                self._try_load(stack, name, load)

    def park_queued_owners(self, stack: int, short: float, ticket: int, protect: frozenset = frozenset()) -> bool:
        """KV before queued weights: an admission under ``ticket`` whose KV needs ``short`` more bytes of space
        on ``stack`` than evicting the idle experts there gives sends owners (sequences, composition groups)
        queued with no KV in HBM (waiting to be admitted, or swapped out to DDR) back to wait for their experts -
        younger ones, and older ones queued behind others (``_parkable``) - so the experts only they pin can be
        evicted. Queued work needs its expert only once it runs; else two owners, each queued behind its own KV
        and pinning an expert the other's KV needs the room of, wait for ever. The owners are re-admitted
        (``release_parked``) once the admission under ``ticket`` is. The experts in ``protect`` stay pinned. True
        when enough could be unpinned."""
        chosen = self.owners_to_park(stack, short, ticket, protect)
        if chosen is None:
            return False
        for owner in chosen:
            self._park(owner, ticket, stack)
        return True

    def owners_to_park(self, stack: int, short: float, ticket: int, protect: frozenset = frozenset()) -> list | None:
        """The owners ``park_queued_owners`` would send back, or None when they cannot unpin enough."""
        mem = self.stacks[stack]
        need = short - mem.unpinned_bytes()
        holders: dict[str, list] = {}
        for inst in self.stack_users[stack]:
            for name, m in inst.models.items():
                holders.setdefault(name, []).extend([*m.waiting, *m.running, *m.swapped])
        chosen: list = []
        for e, nbytes in mem.resident.items():  # least recently used first
            if need <= 0:
                break
            if e in mem.hot or e in mem.loading or e in protect or not mem.active.get(e, 0):
                continue
            seqs = holders.get(e, [])
            owners = list(dict.fromkeys(s.group or s for s in seqs))
            if len(seqs) != mem.active[e] or not all(self._parkable(o, ticket) for o in owners):
                continue
            chosen.extend(o for o in owners if o not in chosen)
            need -= nbytes
        return chosen if need <= 0 else None

    def park_load_waiters(self, stack: int, name: str, load: dict[str, Any]) -> bool:
        """A load of ``name`` into ``stack`` that cannot get room while sequences are queued for it: a failed
        chiplet's instance moved them (eoesim.serving.failures), and they queue before their expert is in. Their
        owners (a sequence, or a composition group) cannot run before the load, yet their queued parts pin
        their experts there - with a stack full of experts pinned that way the load waited for ever. Each such
        owner whose parts all hold no KV goes back to wait for its experts: the load takes the oldest of their
        tickets, and they are admitted again once it is in. True when any was sent back."""
        mem = self.stacks[stack]
        if not mem.active.get(name, 0):  # nobody is queued for it before it is in: only failures do that
            return False
        owners = list(dict.fromkeys(s.group or s for inst in self.stack_users[stack] if name in inst.models
                                    for s in inst.models[name].waiting))
        owners = [o for o in owners if all(_queued_without_kv(p) for p in _parts_of(o))]
        if not owners:
            return False
        ticket = min([load["ticket"], *(o.ticket for o in owners)])
        load["ticket"] = ticket
        load["parked"] = ticket
        for owner in owners:
            self._park(owner, ticket, stack)
        return True

    @staticmethod
    def _parkable(owner: Any, ticket: int) -> bool:
        """Queued with no KV in HBM, and younger than the admission - or, older, queued behind others in every
        queue it is in (it could not go first anyway: the queues are served in order)."""
        if not all(_queued_without_kv(p) for p in _parts_of(owner)):
            return False
        return owner.ticket > ticket or all(_queue_of(p)[0] is not p for p in _parts_of(owner))

    def _park(self, owner: Any, ticket: int, stack: int) -> None:
        parts = _parts_of(owner)
        need = list(dict.fromkeys((s, p.expert) for p in parts for s in p.inst.stacks))
        for p in parts:
            _queue_of(p).remove(p)
            if p.t_admit < 0:  # its wait for admission so far; from here it waits for its experts
                p.wait_s += self.now - p.t_enqueue
            p.t_enqueue = self.now
            for s in set(p.inst.stacks):
                if self.stacks[s].release(p.expert) and s != stack:  # a static transient expert left
                    self.at(self.now, self.retry_loads, s)
        self._set_wanted(owner, need)
        # those parked under this owner's own admission wait for it now (the lists are one when it is that one)
        behind = self.parked.pop(owner.ticket, []) if owner.ticket != ticket else []
        self.parked.setdefault(ticket, []).extend([owner, *behind])

    def _set_wanted(self, owner: Any, need: list) -> None:
        """``owner`` waits for its experts: it wants each (stack, expert) of ``need`` under its ticket."""
        for s, e in owner.wanted:
            self.stacks[s].want(e, owner.ticket, -1)
        owner.wanted = frozenset(need)
        for s, e in need:
            self.stacks[s].want(e, owner.ticket, 1)

    def release_parked(self, ticket: int) -> None:
        """The admission under ``ticket`` is in: the owners it sent back are admitted again, oldest first."""
        for owner in sorted(self.parked.pop(ticket, []), key=lambda o: o.ticket):
            self.at(self.now, self.admit_parts, _parts_of(owner), owner)

    def _gang_admit(self, g: Group) -> None:
        self.admit_parts(g.parts, g)

    def admit_parts(self, parts: list, owner: Any) -> None:
        """Admit ``parts`` - a single sequence, or the parts of a composition group - together, once every
        part's expert may run on its stacks (resident; for a lone sequence with streamed loads, its load has
        started), so no resident expert is pinned waiting for a partner that cannot load. Until then the
        experts are wanted under ``owner``'s ticket, and the owner's loads never evict each other. A part whose
        instance failed while it waited goes where the failed instance's work went."""
        for p in parts:
            if not p.inst.alive:
                self.redirect_waiting(p)
        # in the parts' order (a set of names would iterate in the order of this process's string hashes,
        # and the loads below would start in a different order in every run)
        need = list(dict.fromkeys((s, p.expert) for p in parts for s in p.inst.stacks))
        host = {p.expert: p.inst for p in parts}
        if not owner.counted:
            owner.counted = True
            for p in parts:
                self.rec.cache_access(p.expert, hit=all(self.stacks[s].is_resident(p.expert)
                                                        for s in set(p.inst.stacks)))
            owner.ticket = self.next_ticket()
            self._set_wanted(owner, need)
        elif owner.wanted != frozenset(need):
            # a part went where its failed instance's work went: the owner wants its experts there now, under its
            # ticket (else each one loaded there could be evicted for a younger load before the owner is
            # admitted, over and over)
            self._set_wanted(owner, need)
        streamed = len(parts) == 1 and self.cfg["expert_load"] == "streamed"
        missing = [(s, e) for s, e in need if not self.stacks[s].is_resident(e)
                   and not (streamed and self.loads.get((s, e), {}).get("flowing"))]
        if missing:
            ready = after_all(len(missing), self.admit_parts, parts, owner)
            retaken = set()
            for s, e in missing:
                protect = frozenset(x for st, x in need if st == s)
                load = self.loads.get((s, e))
                if load is None:
                    load = self.start_load(s, e, self.bytes_on(e, host[e], s), protect=protect,
                                           ticket=owner.ticket)
                elif retake(load, owner.ticket, protect):  # by an older owner's ticket, keeping its other experts
                    retaken.add(s)
                if streamed and load["flowing"]:
                    ready()
                else:
                    (load["started"] if streamed else load["waiters"]).append(ready)
            for s in retaken:  # a waiting load under an older ticket may evict what the newer one could not
                if self.pending_loads[s]:
                    self.retry_loads(s)
            return
        for s, e in owner.wanted:
            self.stacks[s].want(e, owner.ticket, -1)
        owner.wanted = frozenset()
        last = max(p.t_enqueue for p in parts)  # before the last part arrived, parts wait for partners, not loads
        for p in parts:
            for s in set(p.inst.stacks):
                self.stacks[s].admit(p.expert)
                self.stacks[s].touch(p.expert)
            self.attribute(p.req, "expert_load", (self.now - last) * p.weight)
            p.t_enqueue = self.now
            m = p.inst.models[p.expert]
            (m.swapped if p.state == SWAPPED else m.waiting).append(p)  # swapped: it was parked
            self.wake(p.inst)


def _parts_of(owner: Any) -> list:
    """The sequences an owner of a place in the queues stands for: a group's parts, or the sequence itself."""
    return owner.parts if isinstance(owner, Group) else [owner]


def _queue_of(seq: Any):
    """The queue of its model that holds ``seq`` while it holds no KV in HBM (waiting or swapped), or None."""
    m = seq.inst.models[seq.expert]
    if seq.state == SWAPPED:
        return m.swapped if seq in m.swapped else None
    return m.waiting if seq in m.waiting else None


def _queued_without_kv(seq: Any) -> bool:
    """Queued on a live instance (waiting, or swapped out) with no KV in HBM."""
    return _queue_of(seq) is not None and seq.blocks == 0 and seq.inst.alive


def retake(load: dict[str, Any], ticket: int, protect: frozenset | None = None) -> bool:
    """Older work (``ticket``) now waits for ``load``: the load goes by that ticket - and keeps that work's other
    experts (``protect``) - when it is older than the load's own; True when it was."""
    if ticket >= load["ticket"]:
        return False
    load["ticket"] = ticket
    if protect is not None:
        load["protect"] = protect
    return True
