"""The 1F1B pipeline schedule (PipeDream-Flush / Megatron-LM) of one optimizer step.

Stage i of p first runs min(p - i - 1, m) forward passes (warm-up), then alternates one forward and one
backward pass, then drains the remaining backward passes. F(i, j) waits for F(i-1, j), B(i, j) for
B(i+1, j) and F(i, j); a stage runs one pass at a time. With equal stages (forward t_f, backward t_b) the
step takes (m + p - 1)(t_f + t_b), of which (p - 1)(t_f + t_b) is the bubble: a fraction (p-1)/(m+p-1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Pass:
    stage: int
    micro_batch: int
    kind: str  # "F" or "B"
    start_s: float
    end_s: float


def stage_order(stage: int, stages: int, micro_batches: int) -> list[tuple[str, int]]:
    warm = min(stages - stage - 1, micro_batches)
    order = [("F", j) for j in range(warm)]
    for j in range(micro_batches - warm):
        order += [("F", warm + j), ("B", j)]
    order += [("B", j) for j in range(micro_batches - warm, micro_batches)]
    return order


def one_f_one_b(forward_s: Sequence[float], backward_s: Sequence[float], micro_batches: int) -> list[Pass]:
    """Every pass of one step, each stage's ``forward_s[i]`` / ``backward_s[i]`` per micro-batch."""
    p = len(forward_s)
    orders = [stage_order(i, p, micro_batches) for i in range(p)]
    nxt = [0] * p
    free = [0.0] * p
    done: dict[tuple[str, int, int], float] = {}
    passes: list[Pass] = []
    while any(nxt[i] < len(orders[i]) for i in range(p)):
        progressed = False
        for i in range(p):
            while nxt[i] < len(orders[i]):
                kind, j = orders[i][nxt[i]]
                deps = [("F", i - 1, j)] if kind == "F" and i > 0 else []
                if kind == "B":
                    deps = [("F", i, j)] + ([("B", i + 1, j)] if i < p - 1 else [])
                if any(d not in done for d in deps):
                    break
                start = max([free[i]] + [done[d] for d in deps])
                end = start + (forward_s[i] if kind == "F" else backward_s[i])
                done[(kind, i, j)] = free[i] = end
                passes.append(Pass(i, j, kind, start, end))
                nxt[i] += 1
                progressed = True
        assert progressed, "the 1F1B order cannot deadlock"
    return passes


def makespan(passes: Sequence[Pass]) -> float:
    return max((p.end_s for p in passes), default=0.0)
