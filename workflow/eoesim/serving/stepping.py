"""How model instances run their steps on the package (a mixin of the serving engine).

A step starts when its instance is idle and has work (``_try_start``): batches are formed per model
(eoesim.serving.batching), preempting when a decode finds no KV block. Instances holding parts of the same
composition groups step together as a cluster (gang): a cluster's step starts on all its instances at once and
ends when the slowest is done plus the compositions. A step's HBM traffic is one flow per shard on the fluid
model, capped at bytes / compute seconds (the roofline) - for a step of several iterations whose flows wait for
each other at every iteration's end, at least k times one such iteration (``_iterations_floor``); tensor-parallel
collectives follow on the ring's links. A step of several identical decode iterations is cut at the exact
iteration in progress when anything would change its batch (``interrupt``), so the event granularity changes
a scheduling decision only through timing within microseconds, its iterations' bytes flowing as one transfer
(docs/design.md).
"""
from __future__ import annotations

from eoesim.serving.batching import form_batch, take_ahead
from eoesim.serving.fluid import Flow, together_s
from eoesim.serving.instance import Instance, Step, build_step
from eoesim.serving.sequences import RUNNING


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


#: collectives below this many bytes per ring link are timed from the links' state (no fluid flow)
SMALL_TRANSFER_BYTES = 64 * 1024


def stream_cap(nbytes: float, seconds: float) -> float:
    """The rate a step's bytes never need to exceed: all of them within ``seconds`` (its compute, the
    roofline's overlap of streaming with compute), unbounded when it computes for no time."""
    return nbytes / seconds if seconds > 0 else float("inf")


class StepRunner:
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
        done = self._members_done(members)
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

    def _members_done(self, members: list[Instance]) -> list[int]:
        """Iterations each member still moving its bytes (phase 0) has completed by now."""
        done = []
        for m in members:
            ms = m.step
            if ms is None or ms.phase != 0:
                continue
            if not ms.flows:  # compute-only: iterations of equal length
                done.append(int((self.now - ms.t0) / max(ms.compute.seconds, 1e-30) * ms.k))
                continue
            done.append(min(self._iterations_done(ms, f) for f in ms.flows))
        return done

    def tokens_not_emitted(self, inst: Instance) -> int:
        """Decode tokens of the iterations of ``inst``'s multi-iteration step complete by now: a step emits
        its tokens when it ends, while iteration by iteration they would be out already. Whoever reads how
        far an instance is (least-outstanding-tokens dispatch) subtracts them, so the event granularity
        does not change its choice."""
        step = inst.step
        if step is None or step.k <= 1:
            return 0
        members = step.cluster.members if step.cluster is not None else [inst]
        done = self._members_done(members)
        iterations = min(done) if done else step.k - 1  # past its bytes: the last iteration is in progress
        return iterations * sum(len(b.decodes) for b in step.batches)

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
        self.release_ahead([s for b in step.batches for s in b.decodes], k_new)
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
        self._start_step(inst, batches, self._final_k([batches]), None)

    def _batches(self, inst: Instance, limit: int) -> list:
        cfg = self.cfg
        out = []
        preempted = False
        decode_ok = inst.role in ("both", "decode")
        prefill_ok = inst.role in ("both", "prefill")
        for m in inst.models.values():
            if not (m.waiting or m.running or m.swapped) or not self.weights_ready(inst, m.name):
                continue
            if m.swapped and decode_ok:
                self._swap_in(inst, m)
            # a decode instance prefills again the sequences it preempted (recompute): they wait nowhere else,
            # and a prompt longer than a chunk (chunked prefill) runs on in later iterations
            prefill_here = prefill_ok or bool(m.waiting) or any(s.in_prefill for s in m.running)
            b = form_batch(m, cfg["scheduler"], cfg, self, decode_ok, prefill_here, limit)
            while b is not None and b.steps == 0:
                if not self.decode_room_from_idle_weights(m):
                    if not self._preempt(inst, m):
                        b = None
                        break
                    # as vLLM: no prompt is admitted in an iteration that preempted (the victim, first in line,
                    # would be admitted again and preempted again, for ever, while the KV it waits for stays)
                    prefill_here = False
                    preempted = True
                b = form_batch(m, cfg["scheduler"], cfg, self, decode_ok, prefill_here, limit)
            if b is not None and (b.decodes or b.prefills):
                out.append(b)
        if preempted and not out:  # no iteration follows to admit the victims: the next try may, at once
            self.wake(inst)
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
            self._start_step(m, batches[m.iid], self._final_k([batches[m.iid]]), None)
            return
        k = self._final_k([batches[m.iid] for m in members])
        compose = max((g.delay_s for m in members for b in batches[m.iid] for s in b.decodes
                       if (g := s.group) is not None), default=0.0)
        cluster = Cluster(members, k, self.now, compose)
        steps = [build_step(m, batches[m.iid], k, self.background.slowdown(m.chips[0])) for m in members]
        floor = self._iterations_floor(steps)
        for m, st in zip(members, steps):
            m.gang_wait = False
            self._launch(m, st, cluster, floor)

    def _final_k(self, batch_lists: list[list]) -> int:
        """The iterations of a step of these batches (one per instance), their blocks allocated
        (batching.take_ahead, once every batch of the step is formed): one when any batch prefills, else as
        many as every batch allows - fewer when a composition group's part steps without a partner (in
        prefill, blocked, queued): its next input is the group's composed token, so it generates at most one
        token past the group's last composition (iteration by iteration it would then wait, blocked); parts
        stepping together are composed every iteration."""
        batches = [b for bs in batch_lists for b in bs]
        if any(b.prefills for b in batches):
            return 1
        k = min(b.steps for b in batches)
        if k <= 1:
            return k
        decodes = [s for b in batches for s in b.decodes]
        stepping = set(map(id, decodes))
        for s in decodes:
            g = s.group
            if g is not None and any(id(p) not in stepping for p in g.parts):
                k = min(k, max(1, g.composed + 1 - s.generated))
        return take_ahead(decodes, self, self.cfg["kv_block_tokens"], k)

    def _start_step(self, inst: Instance, batches: list, k: int, cluster: Cluster | None) -> None:
        step = build_step(inst, batches, k, self.background.slowdown(inst.chips[0]))
        self._launch(inst, step, cluster, self._iterations_floor([step]))

    def _iterations_floor(self, steps: list[Step]) -> float:
        """Seconds a step of several iterations whose flows wait for each other at every iteration's end (a
        sharded step's shards, a cluster's members) takes at least: k times one iteration's flows moved
        together on idle devices (fluid.together_s). Iteration by iteration, the flows with fewer bytes finish
        first and the last ones go on alone, held at their caps (their compute), while the stack has room;
        their bytes moved as one flow each over k iterations would share the stack evenly and skip that tail
        every iteration (the default study served 1-3 % faster so). 0 for one flow or one iteration."""
        k = steps[0].k
        moving = [st for st in steps if st.bytes_per_shard > 0]
        if k <= 1 or sum(st.inst.shards for st in moving) <= 1:
            return 0.0
        flows = [(path, st.bytes_per_shard / k, stream_cap(st.bytes_per_shard, st.compute.seconds))
                 for st in moving for path in self._shard_paths(st.inst)]
        return k * together_s(flows, self.fluid.capacity)

    def _shard_paths(self, inst: Instance) -> list[tuple[int, ...]]:
        """The devices each shard of ``inst`` reads its stack over."""
        return [self.package.stack_path(s, chip) for chip, s in zip(inst.chips, inst.stacks)]

    def _launch(self, inst: Instance, step: Step, cluster: Cluster | None, floor_s: float) -> None:
        """Start a built step: its HBM bytes as one flow per shard, capped so that it takes its compute time,
        and ``floor_s`` (``_iterations_floor``), at least; or a compute timer when it moves none."""
        step.t0 = self.now
        step.cluster = cluster
        inst.step = step
        inst.events += 1
        c = step.compute.seconds
        if step.bytes_per_shard > 0:
            cap = stream_cap(step.bytes_per_shard, max(c, floor_s))
            flows = []
            step.flows_left = inst.shards
            fl, curves = self.fluid, self.curves
            for path in self._shard_paths(inst):
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
        """The members end in the order of their ids, so the one that forms the next batches first - taking KV
        blocks first where they share a stack - is the same whether the cluster ran one iteration or several
        (``serving.max_steps_per_event``), not the one that happened to start this step."""
        for m in sorted(cluster.members, key=lambda i: i.iid):
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
                self.hold_through(s, k, step.t0, t_end)
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

    def fail_step(self, inst: Instance) -> float:
        """``inst``'s chiplet failed mid-step: the iterations of a multi-iteration step complete by now end it
        (their tokens out when the last of them ended, as iteration by iteration they would have been), and the
        one in progress is lost, its flows stopped - else ``max_steps_per_event`` decided how much work a failure
        loses (all of a step's iterations). Returns the chiplet seconds lost."""
        step = inst.step
        done, t_done = self._done_at_failure(step)
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
        if not done:
            return self.now - step.t0
        fresh = build_step(inst, step.batches, done, self.background.slowdown(inst.chips[0]))
        step.k, step.compute, step.bytes_per_shard = done, fresh.compute, fresh.bytes_per_shard
        step.cluster, step.t_compute_end, step.t_coll_end = None, t_done, t_done
        inst.step = step
        self._finish_step(inst, step, t_done)
        return self.now - t_done

    def _done_at_failure(self, step: Step) -> tuple[int, float]:
        """Iterations of ``step`` (moving its bytes) complete by now, and when the last of them ended."""
        if step.k <= 1 or step.phase != 0 or step.prefill_tokens:
            return 0, step.t0
        per = step.compute.seconds / step.k  # the compute of an iteration: they are of equal length
        done = min([int((self.now - step.t0) / max(per, 1e-30)), step.k - 1]
                   + [self._iterations_done(step, f) for f in step.flows])
        t_done = step.t0 + done * per
        for f in step.flows:  # each flow moved the bytes of those iterations (and their latency) by then
            surplus = f.nbytes - f.remaining - (step.bytes_after(done) + done * step.lat_iter_s * f.rate)
            t_done = max(t_done, self.now - surplus / f.rate if f.rate > 0 else self.now)
        return done, min(t_done, self.now)
