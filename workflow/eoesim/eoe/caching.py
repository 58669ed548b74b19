"""Which experts are resident in HBM and DDR, under a static hot set, LRU or LFU.

Weights live on the SSD; an expert runs from HBM. ``ExpertCache.access(key)`` answers where a needed
expert comes from - ``"hbm"`` (resident: a hit), ``"ddr"`` (copied DDR -> HBM) or ``"ssd"`` (read
SSD -> DDR, then DDR -> HBM) - and updates residency:

- ``static``: HBM holds the hot set, DDR the next most popular experts that fit; nothing moves. An
  expert outside both is streamed through a transient buffer on every use (not retained).
- ``lru`` / ``lfu``: an expert brought in is inserted in HBM (and, from the SSD, in DDR), evicting the
  least recently used / least frequently used residents (frequency counts every access ever made,
  ties broken by recency) until it fits. HBM evictions are dropped - weights are read-only, so the DDR
  copy (if still resident) serves the next miss.

Start state (all policies): HBM holds the hot set; DDR holds the most popular experts that fit. The hot
set is ``hot_set`` (expert names, or an integer N = the N most popular), by default the most popular
experts that fit in HBM. Residency is decided in request-arrival order (the lowering order), which is
an approximation when requests overlap: a request that finds an expert "resident" whose load is still
in flight waits for that load (the stitcher adds the dependency).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Hashable, Mapping, Sequence

from eoesim.errors import ConfigError

POLICIES = ("static", "lru", "lfu")


@dataclass
class CacheStats:
    accesses: int = 0
    hbm_hits: int = 0
    ddr_hits: int = 0
    ssd_loads: int = 0
    prefetches: int = 0
    prefetch_loads: int = 0
    derived_misses: int = 0

    def as_dict(self) -> dict[str, float]:
        d = {k: getattr(self, k) for k in ("accesses", "hbm_hits", "ddr_hits", "ssd_loads", "prefetches",
                                           "prefetch_loads", "derived_misses")}
        d["hit_rate"] = self.hbm_hits / self.accesses if self.accesses else float("nan")
        d["ddr_hit_rate"] = self.ddr_hits / self.accesses if self.accesses else float("nan")
        return d


@dataclass
class _Level:
    capacity: float
    items: "OrderedDict[Hashable, float]" = field(default_factory=OrderedDict)  # key -> bytes, LRU first
    used: float = 0.0

    def add(self, key: Hashable, size: float) -> None:
        self.items[key] = size
        self.used += size

    def remove(self, key: Hashable) -> None:
        self.used -= self.items.pop(key)


def default_hot_set(sizes: Mapping[str, float], popularity: Mapping[str, float], capacity: float) -> list[str]:
    """The most popular experts that fit together in ``capacity`` bytes (greedy by popularity)."""
    ranked = sorted(sizes, key=lambda e: (-popularity.get(e, 0.0), list(sizes).index(e)))
    chosen, used = [], 0.0
    for e in ranked:
        if used + sizes[e] <= capacity:
            chosen.append(e)
            used += sizes[e]
    return chosen


class ExpertCache:
    def __init__(self, policy: str, hbm_bytes: float, ddr_bytes: float, sizes: Mapping[str, float],
                 popularity: Mapping[str, float], hot_set: Sequence[str] | int | None = None,
                 path: str = "mapping") -> None:
        if policy not in POLICIES:
            raise ConfigError(f"{path}.cache_policy: {policy!r} is not allowed; allowed: {list(POLICIES)}")
        self.policy = policy
        self.hbm = _Level(float(hbm_bytes))
        self.ddr = _Level(float(ddr_bytes))
        self.freq: dict[Hashable, int] = {}
        self.clock = 0
        self.last: dict[Hashable, int] = {}
        self.stats = CacheStats()
        too_big = sorted(e for e, s in sizes.items() if s > hbm_bytes)
        if too_big:
            raise ConfigError(f"hardware.memory.hbm.capacity_gib: {hbm_bytes / 2**30:.3f} GiB cannot hold expert(s) "
                              f"{too_big} ({max(sizes[e] for e in too_big) / 2**30:.3f} GiB); allowed: a capacity "
                              "of at least the largest expert")
        ranked = sorted(sizes, key=lambda e: (-popularity.get(e, 0.0), list(sizes).index(e)))
        if hot_set is None:
            hot = default_hot_set(sizes, popularity, hbm_bytes)
        elif isinstance(hot_set, int) and not isinstance(hot_set, bool):
            if hot_set < 0:
                raise ConfigError(f"{path}.hot_set: {hot_set} is not allowed; allowed: an integer >= 0 or names")
            hot = ranked[:hot_set]
        else:
            hot = list(hot_set)
            bad = [e for e in hot if e not in sizes]
            if bad:
                raise ConfigError(f"{path}.hot_set: {bad} are not experts of the morphology; allowed: {list(sizes)}")
        total = sum(sizes[e] for e in hot)
        if total > hbm_bytes:
            raise ConfigError(f"{path}.hot_set: {hot} need {total / 2**30:.3f} GiB, HBM holds "
                              f"{hbm_bytes / 2**30:.3f} GiB; allowed: a hot set that fits in HBM")
        for e in hot:
            self.hbm.add(e, sizes[e])
        for e in ranked:
            if self.ddr.used + sizes[e] <= ddr_bytes:
                self.ddr.add(e, sizes[e])
        self.hot = tuple(hot)

    # --- residency -------------------------------------------------------------------------------
    def resident(self, key: Hashable) -> str | None:
        if key in self.hbm.items:
            return "hbm"
        if key in self.ddr.items:
            return "ddr"
        return None

    def _victim(self, level: _Level) -> Hashable:
        if self.policy == "lfu":
            return min(level.items, key=lambda k: (self.freq.get(k, 0), self.last.get(k, -1)))
        return next(iter(level.items))

    def _insert(self, level: _Level, key: Hashable, size: float) -> bool:
        if size > level.capacity:
            return False
        while level.used + size > level.capacity:
            level.remove(self._victim(level))
        level.add(key, size)
        return True

    def access(self, key: Hashable, size: float, prefetch: bool = False, derived: bool = False) -> str:
        """Where ``key`` comes from for this use (``hbm`` | ``ddr`` | ``ssd``); updates residency.

        ``derived`` keys (merged experts) exist only where they were computed: a miss returns
        ``"derive"``, counts as ``derived_misses`` and inserts the key in HBM (not DDR) unless static.
        """
        self.clock += 1
        st = self.stats
        if prefetch:
            st.prefetches += 1
        else:
            st.accesses += 1
            self.freq[key] = self.freq.get(key, 0) + 1
        self.last[key] = self.clock
        if key in self.hbm.items:
            if not prefetch:
                st.hbm_hits += 1
            if self.policy == "lru":
                self.hbm.items.move_to_end(key)
            return "hbm"
        if derived:
            st.derived_misses += 1
            if self.policy != "static":
                self._insert(self.hbm, key, size)
            return "derive"
        src = "ddr" if key in self.ddr.items else "ssd"
        if prefetch:
            st.prefetch_loads += 1
        elif src == "ddr":
            st.ddr_hits += 1
        else:
            st.ssd_loads += 1
        if self.policy == "static":
            return src
        if src == "ddr":
            self.ddr.items.move_to_end(key)
        else:
            self._insert(self.ddr, key, size)
        self._insert(self.hbm, key, size)
        return src
