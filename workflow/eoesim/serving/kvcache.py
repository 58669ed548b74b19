"""The paged KV cache of the serving engine's sequences (a mixin of the engine; the ``KVSpace`` of batching).

A sequence holds blocks of ``serving.kv_block_tokens`` tokens in every HBM stack its instance's shards read
(``kv_bpb``: bytes per block per stack). Admission needs the prompt's blocks with the watermark left free; a
decode step that finds no block preempts (recompute: the KV is dropped and prompt + generated tokens are
prefilled again; swap: the KV moves to DDR over the memory devices and links and back when there is room).
Freeing blocks retries the loads and hand-overs waiting for room and wakes idle instances with waiting work.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

from eoesim.serving.batching import ModelState, blocks_for
from eoesim.serving.fluid import Flow
from eoesim.serving.instance import Instance
from eoesim.serving.sequences import MOVING, RUNNING, SWAPPED, WAITING, Seq


class KVCache:
    def reserve_admission(self, seq: Seq, blocks: int) -> bool:
        """Allocate ``blocks`` for an admission, the watermark kept free. The parts of a composition group
        are admitted as a whole: the first part admitted also takes the prompt blocks of every partner that has
        none yet (on their own stacks), or nothing is taken - a part never holds KV waiting for a partner that
        cannot get any (their instances admit them next, without allocating again)."""
        needs = [(seq, blocks)]
        if seq.group is not None:
            bs = self.cfg["kv_block_tokens"]
            # what each partner's own admission will ask for: its prompt, or under static batching its prompt
            # and whole output (a smaller reservation left partners holding blocks that admit none of them)
            whole = self.cfg["scheduler"] == "static"
            needs += [(p, blocks_for(p.prompt_total + (p.remaining if whole else 0), bs)) for p in seq.group.parts
                      if p is not seq and p.blocks == 0 and p.state == WAITING]
        wm = self.admission_watermark(needs)
        want: dict[tuple[int, str], float] = defaultdict(float)
        per_stack: dict[int, float] = defaultdict(float)
        for p, n in needs:
            for s, bpb in p.kv_bpb.items():
                want[(s, p.expert)] += n * bpb
                per_stack[s] += n * bpb
        space = {s: b / (1.0 - wm) for s, b in per_stack.items()}
        for (s, expert), b in want.items():
            if seq.group is None:  # a group is admitted on the shared space (eoesim.serving.memory)
                space[s] = max(space[s], self.stacks[s].kv_space_for(expert, b, wm))
        self.evict_for_admissions(space, (seq.group or seq).ticket)
        def room() -> bool:
            for (s, expert), b in want.items():
                mem = self.stacks[s]
                if seq.group is None and mem.kv_room(expert) - wm * mem.kv_space() < b:
                    return False
            return all(self.stacks[s].kv_space() - self.stacks[s].kv_used - wm * self.stacks[s].kv_space() >= b
                       for s, b in per_stack.items())

        if not self.room_after_reclaim(room, per_stack):
            return False
        for p, n in needs:
            if n > 0:
                self.alloc(p, n)
            if p is not seq:  # a reserved partner goes first on its instance (it is admitted already, in effect)
                queue = p.inst.models[p.expert].waiting
                queue.remove(p)
                queue.appendleft(p)
                self.wake(p.inst)
        self.release_parked((seq.group or seq).ticket)
        return True

    def admission_watermark(self, needs: list[tuple[Seq, int]]) -> float:
        """The share of the KV space an admission of ``needs`` (sequence, blocks) keeps free: the watermark
        (``serving.kv_watermark``), except for a preempted sequence admitted again with its generated tokens
        (recomputed, or swapped in), which keeps free only what planning left room for beside it - the space a
        lone longest sequence needs (``lone_blocks``). With the whole watermark such a sequence could need more
        than any stack can give it and wait for ever; vLLM v0 drops a recomputed one (``AllocStatus.NEVER``,
        the request ignored) and leaves a swapped one waiting (``AllocStatus.LATER``); here it finishes."""
        wm = self.cfg["kv_watermark"]
        for p, n in needs:
            if n and (p.recompute or p.state == SWAPPED):
                wm = min(wm, max(0.0, 1.0 - (p.blocks + n) / self.lone_blocks))
        return wm

    def evict_for_admissions(self, spaces: dict[int, float], ticket: int, protect: frozenset = frozenset()) -> None:
        """``evict_for_admission`` on every stack of ``spaces`` (stack -> KV space), or on none when one of them
        cannot get its space that way: an admission reading two stacks evicted, on the one that could give room,
        an idle expert that a waiting owner was loading into both, while the other stack's load was still in
        flight - and the two loads took turns for ever."""
        if all(self._space_reachable(s, x, ticket, protect) for s, x in spaces.items()):
            for s, x in spaces.items():
                self.evict_for_admission(s, x, ticket, protect)

    def _space_reachable(self, stack: int, space: float, ticket: int, protect: frozenset) -> bool:
        """Whether evicting idle experts, and then parking owners queued without KV, gives ``stack`` a KV space
        of ``space`` (eoesim.serving.memory: KV before idle weights, KV before queued weights)."""
        mem = self.stacks[stack]
        short = space - mem.kv_space()
        return short <= mem.unpinned_bytes(protect) or self.owners_to_park(stack, short, ticket, protect) is not None

    def evict_for_admission(self, stack: int, space: float, ticket: int, protect: frozenset = frozenset()) -> bool:
        """KV before idle weights (eoesim.serving.memory): an admission (under ``ticket``) that needs a KV space
        of ``space`` bytes (its blocks with the watermark free, or the space whose quota holds them:
        StackMemory.kv_space_for) to fit with no other KV there evicts idle experts until ``stack`` has it - and,
        when those are too few, experts pinned only by younger owners queued without KV, which go back to wait
        (``park_queued_owners``); True when any was evicted. Otherwise the admission waits for KV that running
        sequences free. The experts in ``protect`` stay."""
        mem = self.stacks[stack]
        short = space - mem.kv_space()
        if short <= 0:
            return False
        return bool(mem.evict_idle(short, protect)) or (self.park_queued_owners(stack, short, ticket, protect)
                                                        and bool(mem.evict_idle(short, protect)))

    def decode_room_from_idle_weights(self, m: ModelState) -> bool:
        """The running sequences of ``m`` cannot take one decode step: idle experts on the stacks short of the
        blocks that step needs are evicted before any sequence is preempted (KV before idle weights); True when
        any was evicted."""
        bs = self.cfg["kv_block_tokens"]
        need: dict[int, float] = defaultdict(float)
        for seq in m.running:
            more = blocks_for(seq.cached + 1, bs) - seq.blocks
            if more > 0:
                for s, bpb in seq.kv_bpb.items():
                    need[s] += more * bpb
        short = {s: b - (self.stacks[s].kv_space() - self.stacks[s].kv_used) for s, b in need.items()}
        if any(x > 0 for x in short.values()) and self.reclaim_lookahead(s for s, x in short.items() if x > 0):
            return True
        evicted = False
        for s, b in need.items():
            mem = self.stacks[s]
            short = b - (mem.kv_space() - mem.kv_used)
            evicted = (short > 0 and bool(mem.evict_idle(short))) or evicted
        return evicted

    def fits(self, seq: Seq, blocks: int, watermark: float) -> bool:
        """Whether ``blocks`` more fit on the sequence's stacks with the ``watermark`` share of the KV space
        kept free (within its expert's quota unless it is a part of a composition group, which runs on the
        shared space: eoesim.serving.memory)."""

        def room() -> bool:
            for s, bpb in seq.kv_bpb.items():
                mem = self.stacks[s]
                free = mem.kv_room(seq.expert) if seq.group is None else mem.kv_space() - mem.kv_used
                if free - watermark * mem.kv_space() < blocks * bpb:
                    return False
            return True

        return self.room_after_reclaim(room, seq.kv_bpb)

    def fits_many(self, seqs: list[Seq], needs: list[int]) -> bool:
        want: dict[tuple[int, str], float] = defaultdict(float)
        for seq, n in zip(seqs, needs):
            if n:
                for s, bpb in seq.kv_bpb.items():
                    want[(s, seq.expert)] += n * bpb
        per_stack: dict[int, float] = defaultdict(float)
        for (s, _expert), b in want.items():  # running sequences grow on the shared space (quotas admit)
            per_stack[s] += b

        def room() -> bool:
            return all(self.stacks[s].kv_space() - self.stacks[s].kv_used >= b for s, b in per_stack.items())

        return self.room_after_reclaim(room, per_stack)

    def room_after_reclaim(self, room: Callable[[], bool], stacks) -> bool:
        """``room()``, asked again after the blocks taken ahead on ``stacks`` are given back when it is False."""
        return room() or (self.reclaim_lookahead(stacks) and room())

    def reclaim_lookahead(self, stacks) -> bool:
        """Room on ``stacks`` is short: blocks that multi-iteration steps took ahead for their later iterations
        (batching.decode_steps) are given back. Each such step reading one of those stacks is cut at its
        iteration in progress (``interrupt``) and its sequences keep the blocks up to it, as they would hold
        iteration by iteration; so ``serving.max_steps_per_event`` changes no admission, preemption or load.
        Static batches reserve their whole output at admission and keep it. True when any block was freed."""
        if self.cfg["scheduler"] == "static":
            return False
        short = set(stacks)
        freed = False
        for inst in self.instances:
            step = inst.step
            if step is None or step.k <= 1 or step.phase != 0 or short.isdisjoint(inst.stacks):
                continue
            members = step.cluster.members if step.cluster is not None else [inst]
            seqs = [s for m in members if m.step is not None for b in m.step.batches for s in b.decodes]
            held = sum(s.blocks for s in seqs)
            self.interrupt(inst)  # a step cut short gives its blocks ahead back (StepRunner._shorten)
            freed = freed or sum(s.blocks for s in seqs) < held
        return freed

    def release_ahead(self, decodes: list[Seq], k: int) -> None:
        """The sequences decode ``k`` iterations in their step: the blocks they took ahead for later ones go
        back (not under static batching, whose admission reserves the whole output)."""
        if self.cfg["scheduler"] == "static":
            return
        bs = self.cfg["kv_block_tokens"]
        for seq in decodes:
            extra = seq.blocks - blocks_for(seq.cached + k, bs)
            if extra > 0:
                self.release_blocks(seq, extra)

    def release_blocks(self, seq: Seq, blocks: int) -> None:
        """Give back ``blocks`` of a running sequence's blocks (its last ones, not yet written)."""
        for s, bpb in seq.kv_bpb.items():
            self.stacks[s].kv_free(seq.expert, blocks * bpb)
        seq.blocks -= blocks
        self.count_held(seq, min(seq.held, seq.blocks), self.now)

    def alloc(self, seq: Seq, blocks: int, hold: bool = True) -> None:
        """Allocate ``blocks`` more to ``seq``; ``hold``: they are in use now (else only once the iterations that
        write them begin: ``hold``, ``hold_through``)."""
        for s, bpb in seq.kv_bpb.items():
            self.stacks[s].kv_alloc(seq.expert, blocks * bpb)
        seq.blocks += blocks
        if hold:
            self.count_held(seq, seq.blocks, self.now)

    def hold(self, seq: Seq, blocks: int) -> None:
        """An iteration writing into ``seq``'s first ``blocks`` blocks begins now."""
        if blocks > seq.held:
            self.count_held(seq, min(blocks, seq.blocks), self.now)

    def hold_through(self, seq: Seq, k: int, t0: float, t1: float) -> None:
        """A step of ``k`` decode iterations of ``seq`` over ``[t0, t1]`` ended: each block its later iterations
        wrote is counted from the start of the first iteration that wrote it (iterations of equal length), as
        iteration by iteration it was allocated then."""
        bs = self.cfg["kv_block_tokens"]
        ctx = seq.cached
        target = min(seq.blocks, blocks_for(ctx + k, bs))
        for b in range(seq.held + 1, target + 1):
            j = max(0, (b - 1) * bs - ctx)  # the iteration writing the block's first token
            self.count_held(seq, b, t0 + j * (t1 - t0) / k)

    def count_held(self, seq: Seq, blocks: int, t: float) -> None:
        """From ``t`` the KV-usage series counts ``blocks`` of ``seq``'s blocks (on its stacks)."""
        if blocks != seq.held:
            for s, bpb in seq.kv_bpb.items():
                self.rec.kv_change(s, t, seq.expert, (blocks - seq.held) * bpb)
            seq.held = blocks

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
            seq.blocks = 0
            self.count_held(seq, 0, self.now)
            self.room_freed(seq.kv_bpb)

    def room_freed(self, stacks) -> None:
        """Room on ``stacks`` was freed - KV blocks, or the pin of an expert that may be evicted now: the loads
        and hand-overs waiting for room there retry, and idle instances there with sequences waiting to be
        admitted (or swapped in) wake."""
        stacks = set(stacks)
        for s in stacks:
            if self.pending_loads[s]:
                self.retry_loads(s)
            if self.kv_waiters[s]:
                waiting, self.kv_waiters[s] = self.kv_waiters[s], []
                for cb in waiting:
                    self.at(self.now, cb)
        self.wake_stack_users(stacks)

    def wake_stack_users(self, stacks) -> None:
        """Room on ``stacks`` changed (KV freed, a load done): idle instances there with sequences waiting to be
        admitted retry."""
        for s in stacks:
            for inst in self.stack_users[s]:
                if inst.step is None and not inst.gang_wait and not inst.wake_pending and any(
                        m.waiting or m.swapped for m in inst.models.values()):
                    self.wake(inst)

    def _preempt(self, inst: Instance, m: ModelState) -> bool:
        """Free KV for the model's next decode step by preempting its most recently admitted running
        sequence; False when nothing can be preempted."""
        cands = [s for s in m.running if s.blocks > 0]
        if not cands:
            return False
        victim = max(cands, key=lambda s: s.admit_order)
        # a part of a composition group is recomputed: swapped out, it would keep its partners' KV waiting for
        # a swap-in that the room they hold can prevent, for ever (as a prompt still in prefill, it has no
        # decode KV worth moving)
        if self.cfg["preemption"] == "swap" and not victim.in_prefill and victim.group is None:
            m.running.remove(victim)
            victim.preemptions += 1
            self.rec.preemption(victim, "swap", self.now)
            # the blocks holding its context move (not any a multi-step decode allocated ahead)
            filled = min(victim.blocks, blocks_for(victim.cached, self.cfg["kv_block_tokens"]))
            nbytes = filled * sum(victim.kv_bpb.values())
            victim.swapped_bytes = nbytes
            victim.state = SWAPPED
            m.swapped.append(victim)
            self.rec.kv_swap("out", nbytes)
            for s in set(victim.kv_bpb):
                self.flow(nbytes / len(victim.kv_bpb), self.package.stack_to_ddr(s), float("inf"),
                          self._noop_flow, None)
            self.free_kv(victim)
        else:
            self.preempt_for_recompute(m, victim)
        return True

    def preempt_for_recompute(self, m: ModelState, seq: Seq) -> None:
        """Recompute preemption of a running sequence of model ``m`` (or of one prefilled there, waiting for its
        hand-over): its KV is dropped, it leaves its static batch, and it waits at the head of the queue
        (``ModelState.queue_first``) to prefill again."""
        if seq in m.running:
            m.running.remove(seq)
        m.leave_static_batch(seq)
        seq.preemptions += 1
        self.rec.preemption(seq, "recompute", self.now)
        self._drop_kv(seq)
        m.queue_first(seq)

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
            need = blocks_for(s.cached + 1, self.cfg["kv_block_tokens"])
            wm = self.admission_watermark([(s, need)])  # a swap-in is admitted as a prompt is
            self.evict_for_admissions({st: need * bpb / (1.0 - wm) if s.group is not None
                                       else self.stacks[st].kv_space_for(s.expert, need * bpb, wm)
                                       for st, bpb in s.kv_bpb.items()}, (s.group or s).ticket)
            if not self.fits(s, need, wm):
                return
            self.release_parked((s.group or s).ticket)
            m.swapped.popleft()
            self.alloc(s, need)
            s.state = MOVING
            nbytes, s.swapped_bytes = s.swapped_bytes, 0.0
            self.rec.kv_swap("in", nbytes)
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

    def _set_kv_layout(self, seq: Seq, inst: Instance) -> None:
        """KV bytes per block on each stack the instance's shards read."""
        bs = self.cfg["kv_block_tokens"]
        per_token = inst.models[seq.expert].costs.kv_bytes_per_token
        seq.kv_bpb = {}
        for s in inst.stacks:
            seq.kv_bpb[s] = seq.kv_bpb.get(s, 0.0) + bs * per_token

    def rehome(self, seq: Seq, new: Instance, keep_kv: bool) -> None:
        """Move a sequence of a failed instance to ``new``: with its KV (same stacks) or to be recomputed. It pins
        its expert on the new stacks before it unpins the old ones: on a stack both read, a load retried in
        between would evict the expert it runs (or waits) with."""
        old = seq.inst
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
        for st in set(old.stacks):
            self.stacks[st].release(seq.expert)
        self.room_freed(old.stacks)
        m = new.models[seq.expert]
        if seq.state == RUNNING:
            m.running.append(seq)
        elif seq.blocks:  # its blocks were reserved with a partner's admission
            m.queue_first(seq)
        else:
            m.waiting.append(seq)
