"""What finished steps produce (a mixin of the serving engine): tokens, compositions, hand-overs, completions.

A prefill that completes emits the first token (or, after a recompute, the next one); a decode step emits one
token per iteration per sequence. Composition groups compose every token once all parts have it (after the
hidden states reached the composing chiplet, unless the parts stepped as a cluster, whose end already includes
it). With disaggregation a prefilled sequence is admitted on a decode instance (one whose stacks hold the expert,
when one does) and its KV moves there over the package network, after the expert's weights (weights before KV).
Hand-overs that wait for room held by each other's KV (prefill and decode instances sharing stacks) give way to
the older: the younger is preempted by recompute. A finished sequence frees its KV and releases its expert's pin.
"""
from __future__ import annotations

from typing import Any

from eoesim.serving.batching import blocks_for
from eoesim.serving.fluid import Flow
from eoesim.serving.instance import Instance, Step
from eoesim.serving.sequences import DONE, MOVING, RUNNING, Group, Seq


class TokenFlow:
    def _emit(self, s: Seq, k: int, t0: float, t1: float, step: Step) -> None:
        """``k`` decode tokens of ``s`` over ``[t0, t1]``."""
        self.rec.seq_step(s, step, t1)
        s.generated += k
        self.rec.tokens(s, k, t0, t1)
        g = s.group
        if g is not None:
            s.blocked = s.generated > g.composed
            self._compose(g, t1, paid=step.cluster is not None)
            self._part_done(s, t1)
        elif s.remaining <= 0:
            self._seq_done(s, t1)

    def _prefill_complete(self, s: Seq, t: float) -> None:
        """The prompt is processed: the first token (or, after a recompute, the next one) is out."""
        if s.restore:  # a composition part got its KV back; it still waits for its group
            s.restore = False
            s.end_recompute()
            if s.role == "prefill" and s.remaining > 0:  # on a prefill instance: it decodes elsewhere
                self._hand_over(s)
            return
        s.end_recompute()
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
            self._part_done(s, t)
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

    def _part_done(self, s: Seq, t: float) -> None:
        """A composition part that has generated its last token runs no more: its KV and its expert's pin are
        freed now, while its partners still generate theirs (one lags after a preemption) - else a finished
        part held its KV until the group's last composition, and could be preempted and recomputed meanwhile
        to wait again. The request is done at the group's last composition (``_compose``)."""
        if s.remaining <= 0 and s.state != DONE:
            self._seq_done(s, t, notify=False)

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

    def _hand_over(self, s: Seq) -> None:
        """Move a prefilled sequence to a decode instance: admit it there, then move its KV cache."""
        src = s.inst
        dst = self.choose_instance(s.expert, s.req, role="decode")
        m_src = src.models[s.expert]
        if s in m_src.running:
            m_src.running.remove(s)
        s.state = MOVING
        # prefilled, it needs its expert here no more - only its KV, until that moves: the expert is unpinned, so
        # a stack holding prefilled sequences waiting to hand over can load the expert of those coming the other
        # way (else two stacks, each full with one expert and KV waiting to move to the other, wait for ever)
        for st in set(src.stacks):
            self.stacks[st].release(s.expert)
        self.room_freed(src.stacks)
        self.use_expert(s.expert, dst)
        attempt = self.hand_overs[s] = (src, dst)
        self._want_for_hand_over(s, dst)
        self.at(self.now, self._hand_over_try, s, attempt)

    def _want_for_hand_over(self, s: Seq, dst: Instance | None) -> None:
        """A sequence waiting to hand over to ``dst`` (None: no longer) wants its expert there under its ticket
        until its KV moves, so no younger load evicts it meanwhile (memory.py). Else, with no one pinning it,
        the expert that landed for it could be evicted by a load of another waiting hand-over's expert before
        it moved, then reloaded, evicting that one, and so on for ever."""
        ticket, need = self.hand_over_wants.pop(s, (0, []))
        for st, e in need:
            self.stacks[st].want(e, ticket, -1)
        if dst is not None:
            ticket, need = (s.group or s).ticket, [(st, s.expert) for st in sorted(set(dst.stacks))]
            for st, e in need:
                self.stacks[st].want(e, ticket, 1)
            self.hand_over_wants[s] = (ticket, need)

    def _hand_over_try(self, s: Seq, attempt: tuple[Instance, Instance]) -> None:
        if self.hand_overs.get(s) is not attempt:  # it was preempted meanwhile (``_preempt_hand_overs``)
            return
        src, dst = attempt
        if not dst.alive:  # its decode instance failed while it waited: another replica takes it
            dst = self.choose_instance(s.expert, s.req, role="decode")
            attempt = self.hand_overs[s] = (src, dst)
            self._want_for_hand_over(s, dst)
        if not self.weights_ready(dst, s.expert):  # weights before KV: its KV goes there once the expert does
            self.ensure_resident(s.expert, dst, lambda: self._hand_over_try(s, attempt), access=False,
                                 holder=(s.group or s).ticket)
            return
        bs = self.cfg["kv_block_tokens"]
        per_token = dst.models[s.expert].costs.kv_bytes_per_token
        new_bpb: dict[int, float] = {}
        for st in dst.stacks:
            new_bpb[st] = new_bpb.get(st, 0.0) + bs * per_token
        need = blocks_for(s.cached + 1, bs)
        # its blocks on a stack the decode instance also reads are freed as the new ones are taken
        held = {st: s.blocks * bpb for st, bpb in s.kv_bpb.items()}
        # KV before idle weights, as for an admission (its expert stays)
        self.evict_for_admissions({st: need * bpb - held.get(st, 0.0) for st, bpb in new_bpb.items()},
                                  (s.group or s).ticket, protect=frozenset((s.expert,)))

        def short() -> bool:
            room = {st: (self.stacks[st].kv_room(s.expert) if s.group is None
                         else self.stacks[st].kv_space() - self.stacks[st].kv_used) for st in new_bpb}
            return any(room[st] + held.get(st, 0.0) < need * bpb for st, bpb in new_bpb.items())

        if not self.room_after_reclaim(lambda: not short(), new_bpb) and not self._preempt_hand_overs(s, new_bpb,
                                                                                                   short):
            if not self._yield_to_older_hand_over(s):
                for st in set(dst.stacks):
                    self.kv_waiters[st].append(lambda: self._hand_over_try(s, attempt))
            return
        del self.hand_overs[s]
        self._want_for_hand_over(s, None)  # its admission there pins the expert now
        nbytes = s.cached * s.inst.models[s.expert].costs.kv_bytes_per_token * src.shards
        old_bpb, old_blocks = dict(s.kv_bpb), s.blocks
        self.count_held(s, 0, self.now)  # its blocks here leave the KV in use as it is handed over
        s.kv_bpb, s.blocks = new_bpb, 0
        for st in set(dst.stacks):
            self.stacks[st].admit(s.expert)
        self.alloc(s, need)
        for st, bpb in old_bpb.items():
            self.stacks[st].kv_free(s.expert, old_blocks * bpb)
        if old_blocks:
            self.room_freed(old_bpb)
        src_stack, dst_stack = src.stacks[0], dst.stacks[0]
        path = self.package.stack_to_stack(src_stack, dst_stack) if src_stack != dst_stack else (src_stack,)
        self.rec.traffic(src.chips[0], dst.chips[0], nbytes, "kv")
        self.flow(nbytes, path, float("inf"), self._handed_over, (s, src, dst))

    def _preempt_hand_overs(self, s: Seq, stacks, short) -> bool:
        """``s`` cannot move onto ``stacks``: younger sequences that hold KV there waiting for their own
        hand-over (elsewhere) are preempted by recompute, youngest first, until ``short()`` is False. Prefill
        and decode instances sharing stacks can otherwise each hold the room the other's hand-overs need, all
        waiting for ever. True when the room was made."""
        victims = sorted((v for v in self.hand_overs if v is not s and v.admit_order > s.admit_order
                          and v.blocks and not set(v.kv_bpb).isdisjoint(stacks)), key=lambda v: -v.admit_order)
        for v in victims:
            self._recompute_hand_over(v)
            if not short():
                return True
        return False

    def _yield_to_older_hand_over(self, s: Seq) -> bool:
        """``s`` waits for room and holds KV where older sequences' hand-overs are to go: ``s`` gives it up
        (recompute), as it would be preempted for them when they tried again, and they try again at once
        (before ``s``, first in its queue, takes the room back). True when it did."""
        mine = set(s.kv_bpb)
        older = sorted((o for o, (_src, dst) in self.hand_overs.items()
                        if o is not s and o.admit_order < s.admit_order and not mine.isdisjoint(dst.stacks)),
                       key=lambda o: o.admit_order)
        if not older:
            return False
        self._recompute_hand_over(s)
        for o in older:
            attempt = self.hand_overs.get(o)
            if attempt is not None:
                self._hand_over_try(o, attempt)
        return True

    def _recompute_hand_over(self, s: Seq) -> None:
        src, _dst = self.hand_overs.pop(s)
        self._want_for_hand_over(s, None)
        for st in set(src.stacks):  # queued to prefill again, it pins its expert there again
            self.stacks[st].admit(s.expert)
        self.preempt_for_recompute(src.models[s.expert], s)
        if not src.alive:  # its prefill instance failed since: it prefills again where that one's work went
            src.models[s.expert].waiting.remove(s)
            src = self.where_work_went(src)
            self.rehome(s, src, keep_kv=False)
        # its expert may have left the prefill stack while it waited (nothing pinned it): it is loaded again
        self.ensure_resident(s.expert, src, lambda: self.wake(src), access=False)

    def _handed_over(self, flow: Flow, arg: tuple) -> None:
        s, src, dst = arg
        self.rec.kv_move(s, flow.nbytes)
        self.ensure_resident(s.expert, dst, lambda: self._join_decode(s, dst), access=False)

    def _join_decode(self, s: Seq, dst: Instance) -> None:
        s.inst = dst
        s.role = "decode"
        s.state = RUNNING
        if not dst.alive:  # its chiplet failed while the KV moved: it goes where the instance's sequences went
            new = self.where_work_went(dst)
            self.rehome(s, new, keep_kv=new.keeps_kv_of(dst))
            self.wake(new)
            return
        dst.models[s.expert].running.append(s)
        self.wake(dst)

    def _noop_flow(self, flow: Flow, arg: Any) -> None:
        return None
