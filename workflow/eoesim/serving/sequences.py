"""Sequences (one expert's work for one request) and composition groups (experts decoding in lock step).

A sequence prefills ``prompt`` tokens and generates ``out`` tokens on one model instance. The prefill
produces the first token; each decode step one more. Its KV cache holds ``prefilled + generated`` tokens
(in blocks). A preempted sequence that is recomputed prefills its prompt and the tokens it already
generated again (they are not emitted twice).

A group joins the sequences of a representation-averaging composition: token ``t`` of the request exists
once every part generated its token ``t`` and the composing chiplet averaged their hidden states; a part
waits for that before its next step (``blocked``).
"""
from __future__ import annotations

from typing import Any, Callable

WAITING, RUNNING, SWAPPED, MOVING, DONE = range(5)


class Seq:
    __slots__ = ("sid", "req", "expert", "inst", "prompt", "out", "prefilled", "generated", "group", "blocked",
                 "blocks", "kv_bpb", "t_enqueue", "t_admit", "t_first", "state", "role", "on_first", "on_done",
                 "preemptions", "rel_s", "wait_s", "last_step_end", "compute_s", "memory_s", "network_s",
                 "admit_order", "recompute", "weight", "t_arrive", "other_s", "load_s", "restore", "ticket", "counted",
                 "wanted", "swapped_bytes", "held")

    def __init__(self, sid: int, req: int, expert: str, prompt: int, out: int, now: float,
                 on_first: Callable[[float], Any] | None, on_done: Callable[[float], Any] | None) -> None:
        self.sid = sid
        self.req = req
        self.expert = expert
        self.inst = None
        self.prompt = int(prompt)
        self.out = int(out)
        self.prefilled = 0
        self.generated = 0
        self.group: Group | None = None
        self.blocked = False
        self.blocks = 0
        self.held = 0  # of its blocks, those of iterations begun: what the KV-usage series counts
        self.kv_bpb: dict[int, float] = {}  # stack -> KV bytes per block
        self.t_enqueue = now
        self.t_admit = -1.0
        self.t_first = -1.0
        self.state = WAITING
        self.role = "both"
        self.on_first = on_first
        self.on_done = on_done
        self.preemptions = 0
        self.rel_s = 0.0
        self.wait_s = 0.0
        self.last_step_end = now
        self.compute_s = 0.0  # latency breakdown: seconds of the steps it was in, by category
        self.memory_s = 0.0
        self.network_s = 0.0
        self.other_s = 0.0  # composition
        self.load_s = 0.0  # waiting for a streamed expert load inside a step
        self.admit_order = 0
        self.recompute = 0  # generated tokens to prefill again after a recompute preemption
        self.restore = False  # the recompute only restores KV (a composition part ahead of its group)
        self.swapped_bytes = 0.0  # KV bytes it holds in DDR (swap preemption)
        self.ticket = 0  # order among sequences / groups waiting for their experts (oldest first)
        self.counted = False  # its cache access is recorded
        self.wanted: frozenset = frozenset()  # (stack, expert) it wants while waiting for its experts
        self.weight = 1.0  # share of the request's latency this sequence's time stands for (parallel parts < 1)
        self.t_arrive = now

    @property
    def prompt_total(self) -> int:
        """Tokens the prefill must process (the prompt, plus generated tokens after a recompute)."""
        return self.prompt + self.recompute

    @property
    def in_prefill(self) -> bool:
        return self.prefilled < self.prompt_total

    @property
    def context(self) -> int:
        """Tokens of the sequence so far: the prompt (or the part of it prefilled) and the generated tokens
        (vLLM's sequence length; ``cached`` are those in the KV cache)."""
        return self.prefilled + (self.generated - self.recompute if self.recompute else self.generated)

    @property
    def cached(self) -> int:
        """Tokens whose KV is in the cache: ``context`` less the last generated token, the next decode step's
        input, whose KV that step writes (vLLM allocates a decode step's slots for ``context`` tokens)."""
        return self.context - (1 if self.generated > self.recompute else 0)

    def end_recompute(self) -> None:
        """Its prefill (prompt + generated tokens, after a recompute) is done: the generated tokens count once
        in ``context`` again, as generated (counting them as prefilled too put them in the KV cache twice)."""
        self.prefilled = self.prompt
        self.recompute = 0

    @property
    def remaining(self) -> int:
        return self.out - self.generated

    def outstanding_tokens(self) -> int:
        return (self.prompt_total - self.prefilled) + self.remaining


class Group:
    """The parts of one representation-averaging composition (module docstring)."""

    __slots__ = ("parts", "composed", "delay_s", "home", "on_first", "on_done", "coupled", "gid", "arrived",
                 "counted", "ticket", "wanted")

    def __init__(self, gid: int, delay_s: float, home: int, on_first, on_done) -> None:
        self.gid = gid
        self.parts: list[Seq] = []
        self.composed = 0  # tokens composed so far
        self.delay_s = delay_s  # per composed token: hidden states to the home chiplet + the average
        self.home = home
        self.on_first = on_first
        self.on_done = on_done
        self.coupled = False  # every part has finished its prefill: they step together from here
        self.arrived = 0  # parts that reached their instance (admitted together once all have)
        self.counted = False  # cache accesses recorded
        self.ticket = 0  # order among groups waiting for their experts (oldest first)
        self.wanted: frozenset = frozenset()  # (stack, expert) it wants while waiting for its experts

    def __hash__(self) -> int:
        """By id number, not address: sets of groups iterate alike in every run (identical summaries)."""
        return self.gid

    def ready_tokens(self) -> int:
        """Tokens every part has generated (what can be composed)."""
        return min(p.generated for p in self.parts)
