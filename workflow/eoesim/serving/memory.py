"""What each HBM stack holds: resident expert weights and the paged KV cache, competing for its capacity.

Per stack, ``capacity = weights + KV + free``. Expert weights enter when a load completes and leave when
evicted; KV is allocated in blocks of ``kv_block_tokens`` tokens per sequence. Weights come first: an
expert load evicts unpinned experts (never KV) to make room, and waits while KV holds the space it
needs; KV admission sees only what the resident weights leave.

Residency policies (``mapping.cache_policy``), decided in simulated time:
- ``static``: the hot set is resident from the start and never evicted; any other expert is loaded when
  needed and dropped as soon as no sequence of it is admitted on the stack (a transient buffer);
- ``lru`` / ``lfu``: a loaded expert stays until room is needed; the victim is the least recently /
  least frequently (then least recently) used unpinned expert.
An expert is *pinned* on a stack while a load of it is in flight, any sequence of it is admitted on an
instance that reads it from that stack (a prefilled one waiting to hand over its KV excepted: the move
reads KV, not weights), or a weight summation there reads it, so a copy in flight can never be evicted. The
experts of a composition group are admitted together, once all are resident (eoesim.serving.residency):
while a group waits, its experts are *wanted* under its ticket (groups and loads are served oldest first), as
are a waiting merge's picks and the expert a waiting hand-over needs on its decode stack. A load may evict an
unpinned expert only if no group older than the load's own ticket wants it, so two waiting groups cannot keep
evicting each other's experts: the older one completes.

KV before idle weights: idle (unpinned) experts are evicted for KV - those no waiting group wants first - when
running sequences need blocks for their next decode step that the stack does not have (before any of them is
preempted), and when an admission's prompt blocks do not fit in the stack's KV space even with no other KV
there (otherwise the admission waits for the KV running sequences free). Else an admitted sequence could wait
forever behind an idle expert while the load its pinned expert blocks waits for it. When the idle experts are too
few, experts pinned only by younger owners queued without KV go too, and those owners wait for their experts
again (eoesim.serving.residency): queued work needs its expert only once admitted. An admission reading several
stacks evicts on none of them unless each can give it its space (KVCache.evict_for_admissions): evicting where it
could, while another stack's room was still taken by a load in flight, undid that load's twin on the first stack.

KV space among the experts sharing a stack (``serving.kv_partition``): ``shared`` (first come), or a quota
per expert, as a share of the KV space: ``equal``, ``popularity`` (the expert's share of routed
requests), ``response_length`` (its expected KV demand: requests routed to it x their mean context +
output tokens x its KV bytes per token). A quota caps what admitting a sequence may bring its expert to, while
other experts hold KV on the stack (an expert alone there uses the free space: a strict quota left space idle
while sequences waited, and with their experts pinned they could wait forever). Running sequences grow, and a
composition group (admitted whole) is admitted, on the shared space: quotas there made parts of a group and
the experts they pin wait on each other. So a partition shapes single-sequence admissions (top-1 routing,
chains, sequential aggregation); a merged expert (weight summation) takes its lead's quota.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Mapping

from eoesim.errors import ConfigError

POLICIES = ("static", "lru", "lfu")
KV_PARTITIONS = ("shared", "equal", "popularity", "response_length")


class StackMemory:
    """Capacity accounting of one HBM stack (module docstring)."""

    def __init__(self, index: int, capacity_bytes: float, policy: str) -> None:
        if policy not in POLICIES:
            raise ConfigError(f"mapping.cache_policy: {policy!r} is not allowed; allowed: {list(POLICIES)}")
        self.index = index
        self.capacity = float(capacity_bytes)
        self.policy = policy
        self.resident: OrderedDict[str, float] = OrderedDict()  # expert -> bytes, least recently used first
        self.hot: set[str] = set()
        self.loading: dict[str, float] = {}  # expert -> bytes reserved for its load in flight
        self.active: dict[str, int] = {}  # expert -> sequences admitted that read it from this stack
        self.uses: dict[str, int] = {}
        self.kv_used = 0.0
        self.kv_by_model: dict[str, float] = {}
        self.kv_share: dict[str, float] | None = None  # expert -> share of the KV space (None: shared)
        self.evictions = 0
        self.wanted: dict[str, dict[int, int]] = {}  # expert -> {ticket of a group waiting for it: count}

    # --- weights -------------------------------------------------------------------------------------
    @property
    def weights(self) -> float:
        return sum(self.resident.values()) + sum(self.loading.values())

    def free(self) -> float:
        return self.capacity - self.weights - self.kv_used

    def is_resident(self, expert: str) -> bool:
        return expert in self.resident

    def touch(self, expert: str) -> None:
        self.uses[expert] = self.uses.get(expert, 0) + 1
        if expert in self.resident:
            self.resident.move_to_end(expert)

    def pinned(self, expert: str) -> bool:
        return expert in self.hot or expert in self.loading or self.active.get(expert, 0) > 0

    def unpinned_bytes(self, protect: frozenset = frozenset()) -> float:
        """Bytes of the resident experts that may be evicted (not pinned, not in ``protect``)."""
        return sum(b for e, b in self.resident.items() if not self.pinned(e) and e not in protect)

    def want(self, expert: str, ticket: int, n: int) -> None:
        tickets = self.wanted.setdefault(expert, {})
        tickets[ticket] = tickets.get(ticket, 0) + n
        if tickets[ticket] <= 0:
            del tickets[ticket]
            if not tickets:
                del self.wanted[expert]

    def _victims(self, protect: frozenset, ticket: float) -> list[str]:
        order = {e: i for i, e in enumerate(self.resident)}
        cands = [e for e in self.resident if not self.pinned(e) and e not in protect
                 and min(self.wanted.get(e, {ticket: 1}), default=ticket) >= ticket]
        if self.policy == "lfu":
            cands.sort(key=lambda e: (e in self.wanted, self.uses.get(e, 0), order[e]))
        else:
            cands.sort(key=lambda e: (e in self.wanted, order[e]))
        return cands

    def reserve(self, expert: str, nbytes: float, protect: frozenset = frozenset(),
                ticket: float = float("inf")) -> list[str] | None:
        """Make room for a load of ``nbytes`` (evicting unpinned experts not in ``protect`` and not wanted by a
        group older than ``ticket``); returns the evicted experts, or None (nothing evicted) when the room cannot
        be made now."""
        need = nbytes - self.free()
        victims: list[str] = []
        if need > 0:
            for e in self._victims(protect, ticket):
                if need <= 0:
                    break
                victims.append(e)
                need -= self.resident[e]
            if need > 0:
                return None
        for e in victims:
            del self.resident[e]
            self.evictions += 1
        self.loading[expert] = nbytes
        return victims

    def evict_idle(self, nbytes: float, protect: frozenset = frozenset()) -> list[str]:
        """Free ``nbytes`` for KV by evicting unpinned experts not in ``protect`` in policy order, those no
        waiting group wants first; returns the evicted experts, none when they cannot free that much."""
        victims: list[str] = []
        need = nbytes
        for e in self._victims(protect, float("-inf")):
            if need <= 0:
                break
            victims.append(e)
            need -= self.resident[e]
        if need > 0:
            return []
        for e in victims:
            del self.resident[e]
            self.evictions += 1
        return victims

    def loaded(self, expert: str) -> None:
        self.resident[expert] = self.loading.pop(expert)
        self.resident.move_to_end(expert)

    def place(self, expert: str, nbytes: float, hot: bool) -> bool:
        """Put an expert in at the start (no load); False when it does not fit."""
        if nbytes > self.free():
            return False
        self.resident[expert] = nbytes
        if hot:
            self.hot.add(expert)
        return True

    def admit(self, expert: str) -> None:
        self.active[expert] = self.active.get(expert, 0) + 1

    def release(self, expert: str) -> bool:
        """A sequence of ``expert`` left; True when a static-policy transient expert was dropped."""
        n = self.active.get(expert, 0) - 1
        self.active[expert] = max(n, 0)
        if n <= 0 and self.policy == "static" and expert in self.resident and expert not in self.hot:
            del self.resident[expert]
            return True
        return False

    # --- KV ------------------------------------------------------------------------------------------
    def kv_space(self) -> float:
        """Bytes the KV cache may use in all: the capacity less the resident and loading weights."""
        return max(0.0, self.capacity - self.weights)

    def binding_share(self, model: str) -> float | None:
        """``model``'s share of the KV space while other experts hold KV on the stack (its quota binds); None
        for shared KV, or when only ``model`` holds KV here: a quota is work-conserving, the free space is
        used rather than left idle while the expert waits (with pinned experts it could wait forever)."""
        if self.kv_share is None or self.kv_used - self.kv_by_model.get(model, 0.0) <= 0.5:
            return None
        return self.kv_share.get(model, 0.0)

    def kv_room(self, model: str) -> float:
        room = self.kv_space() - self.kv_used
        share = self.binding_share(model)
        if share is not None:
            room = min(room, share * self.kv_space() - self.kv_by_model.get(model, 0.0))
        return room

    def kv_space_for(self, model: str, nbytes: float, watermark: float) -> float:
        """The KV space in which ``model`` could take ``nbytes`` with the ``watermark`` share of the space kept
        free and no other KV there - or, while its quota binds, the space whose quota leaves that much."""
        share = self.binding_share(model)
        if share is None:
            return nbytes / (1.0 - watermark)
        return nbytes / (share - watermark) if share > watermark else float("inf")

    def kv_alloc(self, model: str, nbytes: float) -> None:
        self.kv_used += nbytes
        self.kv_by_model[model] = self.kv_by_model.get(model, 0.0) + nbytes

    def kv_free(self, model: str, nbytes: float) -> None:
        self.kv_used = max(0.0, self.kv_used - nbytes)
        self.kv_by_model[model] = max(0.0, self.kv_by_model.get(model, 0.0) - nbytes)


def kv_shares(policy: str, experts: list[str], popularity: Mapping[str, float],
              demand: Mapping[str, float]) -> dict[str, float] | None:
    """Each expert's share of a stack's KV space under ``policy`` (None for ``shared``)."""
    if policy not in KV_PARTITIONS:
        raise ConfigError(f"serving.kv_partition: {policy!r} is not allowed; allowed: {list(KV_PARTITIONS)}")
    if policy == "shared" or not experts:
        return None
    if policy == "equal":
        weights = {e: 1.0 for e in experts}
    elif policy == "popularity":
        weights = {e: float(popularity.get(e, 0.0)) for e in experts}
    else:
        weights = {e: float(demand.get(e, 0.0)) for e in experts}
    total = sum(weights.values())
    if total <= 0:
        return {e: 1.0 / len(experts) for e in experts}
    return {e: w / total for e, w in weights.items()}


class DDRCache:
    """Which experts are in DDR (LRU), so a miss in HBM reads DDR rather than the SSD."""

    def __init__(self, capacity_bytes: float) -> None:
        self.capacity = float(capacity_bytes)
        self.resident: OrderedDict[str, float] = OrderedDict()
        self.loading: dict[str, float] = {}

    def has(self, expert: str) -> bool:
        if expert in self.resident:
            self.resident.move_to_end(expert)
            return True
        return False

    def place(self, expert: str, nbytes: float) -> bool:
        if nbytes > self.capacity - sum(self.resident.values()) - sum(self.loading.values()):
            return False
        self.resident[expert] = nbytes
        return True

    def reserve(self, expert: str, nbytes: float) -> None:
        """Room for an SSD read (the oldest experts leave DDR; weights are read-only, nothing is written back)."""
        free = self.capacity - sum(self.resident.values()) - sum(self.loading.values())
        while free < nbytes and self.resident:
            _, size = self.resident.popitem(last=False)
            free += size
        self.loading[expert] = nbytes

    def loaded(self, expert: str) -> None:
        self.resident[expert] = self.loading.pop(expert)


def gib_at_least(nbytes: float) -> str:
    """``nbytes`` in GiB rounded up to 4 significant digits: the capacity an error message allows passes the check
    (0.12501 GiB reads 0.1251; to the nearest it would read 0.125, the capacity refused)."""
    gib = nbytes / 2**30
    if gib <= 0:
        return "0"
    step = 10.0 ** (math.floor(math.log10(gib)) - 3)
    return f"{math.ceil(gib / step) * step:.4g}"
