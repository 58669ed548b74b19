"""Which chiplets train, which expert trains where, and which chiplet holds which rank of a layout.

Training takes the last ``training.chiplets`` chiplets along the package's snake order (consecutive ones
are adjacent); the serving mappings fill the snake order from its start (eoesim.eoe.mapping), so a split
package serves on the chiplets training leaves. Concurrent experts get equal contiguous slices of them; sequential
experts each get all.
Inside an expert's chiplets the ranks are ordered tensor-parallel fastest, then pipeline stage, then
data-parallel replica, so a tensor-parallel group (the most traffic, every layer) sits on neighbouring
chiplets and consecutive pipeline stages are close.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from eoesim.eoe.hardware import Hardware
from eoesim.training.accounting import Layout


def training_chiplets(hw: Hardware, count: int | None) -> tuple[int, ...]:
    order = hw.snake_order()
    return tuple(order if count is None else order[len(order) - count:])


def expert_groups(chiplets: Sequence[int], n_experts: int, schedule: str) -> list[tuple[int, ...]]:
    """The chiplets of each expert: equal contiguous slices (concurrent) or all of them (sequential)."""
    if schedule == "sequential":
        return [tuple(chiplets)] * n_experts
    size = len(chiplets) // n_experts
    return [tuple(chiplets[i * size:(i + 1) * size]) for i in range(n_experts)]


@dataclass(frozen=True)
class RankMap:
    """Chiplet of each (data-parallel replica, pipeline stage, tensor-parallel rank) of one expert."""

    chiplets: tuple[int, ...]
    layout: Layout

    def chiplet(self, replica: int, stage: int, tp_rank: int) -> int:
        lay = self.layout
        return self.chiplets[(replica * lay.pp + stage) * lay.tp + tp_rank]

    def tp_group(self, replica: int, stage: int) -> list[int]:
        return [self.chiplet(replica, stage, k) for k in range(self.layout.tp)]

    def dp_group(self, stage: int, tp_rank: int) -> list[int]:
        return [self.chiplet(r, stage, tp_rank) for r in range(self.layout.dp)]

    def tp_groups(self, stage: int) -> list[list[int]]:
        """Every replica's tensor-parallel group of ``stage`` (they communicate at the same time)."""
        return [self.tp_group(r, stage) for r in range(self.layout.dp)]

    def dp_groups(self, stage: int) -> list[list[int]]:
        """Every tensor-parallel rank's data-parallel group of ``stage``."""
        return [self.dp_group(stage, k) for k in range(self.layout.tp)]

    def stage_sends(self, stage: int) -> list[tuple[int, int]]:
        """(source, destination) chiplet of every replica's and rank's send from ``stage`` to ``stage + 1``."""
        lay = self.layout
        return [(self.chiplet(r, stage, k), self.chiplet(r, stage + 1, k))
                for r in range(lay.dp) for k in range(lay.tp)]
