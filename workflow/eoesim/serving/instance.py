"""Model instances (a chiplet group serving one or more experts) and the cost of one of their steps.

An instance is a tuple of chiplets running its models with tensor parallelism over them (one chiplet =
no parallelism). Several experts mapped onto the same chiplets share the instance: a step runs every
model that has work, one forward pass after the other (round robin at iteration granularity), so each
model's sequences get one token per step.

A step's cost (per shard: the shards are symmetric): compute seconds of every model's batch (stretched by
a co-located background job's share of the chiplets), the HBM bytes each shard streams from its stack
(weights once per forward pass, KV read and written), and for ``s > 1`` shards the tensor-parallel
collectives: two ring all-reduces of the batch's activations per layer, ``2 (s - 1)`` ring steps each,
every shard sending ``size / s`` per ring step to the next shard of the ring.
"""
from __future__ import annotations

from dataclasses import dataclass

from eoesim.serving.batching import ModelBatch, ModelState
from eoesim.serving.costs import ZERO, Cost


class Instance:
    """Chiplets, their HBM stacks, the models they serve, and the step in flight."""

    def __init__(self, iid: int, chips: tuple[int, ...], stack_of: list[int], role: str) -> None:
        self.iid = iid
        self.chips = tuple(chips)
        self.shards = len(self.chips)
        self.stacks = tuple(stack_of[c] for c in self.chips)
        self.models: dict[str, ModelState] = {}
        self.role = role  # both | prefill | decode
        self.step: Step | None = None
        self.gang_wait = False
        self.busy_s = 0.0
        self.iterations = 0
        self.events = 0
        self.waiters: list[Instance] = []  # instances whose gang waits for this one's step to end
        self.alive = True
        self.wake_pending = False  # a start attempt is already queued

    @property
    def idle(self) -> bool:
        return self.step is None and not self.gang_wait

    def keeps_kv_of(self, other: "Instance") -> bool:
        """Whether a sequence of ``other`` moved here keeps its KV: each shard's KV lives in the stack that shard
        reads, so every stack must keep its shard count."""
        return sorted(self.stacks) == sorted(other.stacks)

    def outstanding_tokens(self) -> int:
        return sum(m.outstanding_tokens() for m in self.models.values())

    def label(self) -> str:
        return f"instance {self.iid} chiplets {list(self.chips)}"


@dataclass
class Step:
    """One step (``k`` identical decode iterations, or one mixed iteration) of an instance."""

    inst: Instance
    batches: list[ModelBatch]
    k: int
    compute: Cost
    bytes_per_shard: float
    coll_bytes: float  # per ring link
    coll_rounds: int  # sequential ring steps (latency-bound part of the collectives)
    t0: float = 0.0
    flows_left: int = 0
    flows: tuple = ()
    cluster: object = None
    phase: int = 0  # 0 memory+compute, 1 collectives, 2 done (waiting for a cluster or a load)
    t_compute_end: float = 0.0
    rel_abs_s: float = 0.0  # propagated absolute error of the step's duration (seconds)
    load_wait: tuple | None = None  # (stack, expert) of a streamed load the step still waits for
    t_coll_end: float = 0.0
    reported: bool = False  # counted towards its cluster's end
    lat_iter_s: float = 0.0  # memory latency each iteration pays (at the stack's utilization when it began)
    lat_after_s: float | None = None  # latency still to pay once the bytes are moved (set when cut short)
    bytes_lin: float = 0.0  # decode-only steps: bytes of j iterations = bytes_lin j + bytes_quad j (j - 1)
    bytes_quad: float = 0.0

    def bytes_after(self, j: int) -> float:
        """HBM bytes per shard of the first ``j`` iterations of a decode-only step."""
        return self.bytes_lin * j + self.bytes_quad * j * (j - 1)
    waited_load_s: float = 0.0

    @property
    def tokens(self) -> int:
        return sum(b.tokens for b in self.batches)

    @property
    def sequences(self) -> int:
        return sum(len(b.decodes) + len(b.prefills) for b in self.batches)

    @property
    def prefill_tokens(self) -> int:
        return sum(q for b in self.batches for _, q in b.prefills)


def batch_cost(b: ModelBatch, k: int) -> tuple[Cost, float]:
    """(compute on one shard, HBM bytes per shard) of model batch ``b`` run for ``k`` steps."""
    costs = b.model.costs
    if not b.prefills:
        return costs.decode_steps([s.context for s in b.decodes], k, rows=len(b.decodes) + b.padded_rows)
    items = [(1, s.context) for s in b.decodes] + [(q, s.context) for s, q in b.prefills]
    emitting = len(b.decodes) + sum(1 for s, q in b.prefills if s.prefilled + q >= s.prompt_total)
    return costs.mixed_step(items, emitting)


def collective_bytes(b: ModelBatch, shards: int, k: int) -> float:
    """Bytes each shard sends to the next around the ring for ``k`` steps of ``b`` (two all-reduces of
    ``tokens x d_model`` activations per layer, ``2 (s-1) / s`` of them per shard each)."""
    if shards <= 1:
        return 0.0
    e = b.model.costs.expert
    size = b.tokens * e.d_model * e.bytes_per_weight
    return k * 2 * e.layers * 2 * (shards - 1) / shards * size


def build_step(inst: Instance, batches: list[ModelBatch], k: int, slowdown: float) -> Step:
    compute, nbytes, coll, rounds = ZERO, 0.0, 0.0, 0
    lin = quad = 0.0
    for b in batches:
        if not b.prefills:  # KV read grows by one token per sequence per iteration
            kv = b.model.costs.kv_bytes_per_token
            n = len(b.decodes)
            lin += b.model.costs.weight_bytes + kv * (sum(s.context for s in b.decodes) + n)
            quad += kv * n / 2
        b.steps = k
        c, m = batch_cost(b, k)
        compute = compute + c
        nbytes += m
        coll += collective_bytes(b, inst.shards, k)
        if inst.shards > 1:
            rounds += k * 2 * b.model.costs.expert.layers * 2 * (inst.shards - 1)
    if slowdown != 1.0:
        compute = Cost(compute.seconds * slowdown, compute.mac_j, compute.sram_j, compute.rel_s * slowdown,
                       compute.labels)
    return Step(inst, batches, k, compute, nbytes, coll, rounds, bytes_lin=lin, bytes_quad=quad)
