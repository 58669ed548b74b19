"""Saturation throughput of a Garnet configuration: bisection over a bounded list of injection rates.

Criterion: a rate is saturated when its average packet latency exceeds ``factor`` x the zero-load
latency (a NaN or infinite latency - e.g. no packet delivered - counts as saturated). The zero-load
latency is given, or measured at the lowest rate of the list (which then counts as unsaturated).
Bisection assumes latency grows with the rate (true below and across saturation; past it gem5's
latency keeps growing with the run length). It evaluates at most ceil(log2(len(rates))) + 2 rates, each
once, so it can drive real runs (a callable that runs gem5 for one rate) or look rates up in a table
of runs already made (e.g. a Snakemake checkpoint's output over ``rate_grid``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from eoesim.errors import ConfigError

MAX_POINTS = 1000


@dataclass(frozen=True)
class SaturationResult:
    #: lowest rate of the list judged saturated; None if even the highest rate is not
    saturation_rate: float | None
    #: highest rate of the list judged unsaturated; None if even the lowest rate is saturated
    last_unsaturated_rate: float | None
    zero_load_latency: float
    threshold_latency: float
    #: (rate, latency) in evaluation order
    evaluated: tuple[tuple[float, float], ...]


def rate_grid(start: float, stop: float, step: float, decimals: int = 3) -> list[float]:
    """Injection rates start, start+step, ... <= stop, rounded to ``decimals`` (gem5's --precision)."""
    if not (0 < start <= stop <= 1) or step <= 0:
        raise ConfigError(f"rate_grid: need 0 < start <= stop <= 1 and step > 0; got {start}, {stop}, {step}")
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    if count > MAX_POINTS:
        raise ConfigError(f"rate_grid: {count} points; allowed: at most {MAX_POINTS}")
    return sorted({round(start + i * step, decimals) for i in range(count)})


def find_saturation(
    latency_at: Callable[[float], float],
    rates: Sequence[float],
    factor: float = 3.0,
    zero_load_latency: float | None = None,
) -> SaturationResult:
    """Bisect ``rates`` (strictly increasing, each in (0, 1]) for the first saturated rate."""
    rates = [float(r) for r in rates]
    if not rates or len(rates) > MAX_POINTS:
        raise ConfigError(f"find_saturation: rates must hold 1..{MAX_POINTS} values; got {len(rates)}")
    if any(not (0 < r <= 1) for r in rates) or any(b <= a for a, b in zip(rates, rates[1:])):
        raise ConfigError(f"find_saturation: rates {rates}; allowed: strictly increasing values in (0, 1]")
    if not factor > 1:
        raise ConfigError(f"find_saturation: factor {factor}; allowed: a number > 1")
    if zero_load_latency is not None and not (zero_load_latency > 0 and math.isfinite(zero_load_latency)):
        raise ConfigError(f"find_saturation: zero_load_latency {zero_load_latency}; allowed: a finite number > 0")

    seen: dict[int, float] = {}
    order: list[tuple[float, float]] = []

    def latency(i: int) -> float:
        if i not in seen:
            seen[i] = float(latency_at(rates[i]))
            order.append((rates[i], seen[i]))
        return seen[i]

    lo = -1  # index of the highest rate known unsaturated (-1: none)
    if zero_load_latency is None:
        zero_load_latency = latency(0)
        if not (zero_load_latency > 0 and math.isfinite(zero_load_latency)):
            raise ConfigError(
                f"find_saturation: latency {zero_load_latency} at the lowest rate {rates[0]} cannot serve as "
                "zero-load latency; allowed: a finite number > 0 (lower the first rate or pass zero_load_latency)"
            )
        lo = 0
    threshold = factor * zero_load_latency

    def saturated(i: int) -> bool:
        return not (latency(i) <= threshold)

    hi = len(rates) - 1
    if hi == lo or not saturated(hi):
        return SaturationResult(None, rates[-1], zero_load_latency, threshold, tuple(order))
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if saturated(mid):
            hi = mid
        else:
            lo = mid
    return SaturationResult(rates[hi], rates[lo] if lo >= 0 else None, zero_load_latency, threshold, tuple(order))
