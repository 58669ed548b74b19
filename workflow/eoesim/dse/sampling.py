"""Seeded random / Latin-hypercube samples of a study's parameter ranges (``sweep.sample``).

A sample is ``{method: random | lhs, n, seed, ranges}``; each range is ``{min, max, log, integer}`` (a
number) or ``{choices: [...]}`` (any value the key's schema accepts, e.g. ``[rows, cols]`` arrays). Both
methods first draw points in the unit cube (numpy's PCG64 for ``random``, scipy's ``LatinHypercube`` for
``lhs``, one dimension per range in the order given) and then map each coordinate ``u`` in [0, 1):

- choices: ``choices[floor(u * len(choices))]``, so every choice has the same probability;
- number: ``min + u (max - min)``, or geometrically between min and max with ``log``; floats are rounded
  to :data:`SIGNIFICANT_DIGITS` significant digits so point ids and labels stay short and stable;
- integer (``integer: true``, implied when the key's schema is an integer): ``floor`` of the mapping over
  ``[min, max + 1)``, clipped to max, so each integer of the range is equally likely (``log``: of its
  logarithm).

Samples that coincide (possible with choices and integers) are kept once, in order of first appearance.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
from scipy.stats import qmc

from eoesim.errors import ConfigError
from eoesim.schema import iter_value_errors

METHODS = ("random", "lhs")
SIGNIFICANT_DIGITS = 6


def unit_samples(method: str, n: int, dims: int, seed: int) -> np.ndarray:
    """``n`` x ``dims`` points in [0, 1): independent uniform (random) or a Latin hypercube (lhs)."""
    rng = np.random.default_rng(seed)
    if method == "random":
        return rng.random((n, dims))
    if method == "lhs":
        return qmc.LatinHypercube(d=dims, rng=rng).random(n)
    raise ConfigError(f"sweep.sample.method: {method!r} is not allowed; allowed: one of {list(METHODS)}")


def _is_integer_schema(sub: Mapping[str, Any]) -> bool:
    types = sub.get("type")
    return types == "integer" or (isinstance(types, list) and "integer" in types and "number" not in types)


def _is_numeric_schema(sub: Mapping[str, Any]) -> bool:
    types = sub.get("type")
    types = types if isinstance(types, list) else [types]
    return bool({"integer", "number"} & set(types))


def map_unit(u: float, spec: Mapping[str, Any], integer: bool) -> Any:
    """The value of one range at unit coordinate ``u`` (see the module docstring)."""
    if "choices" in spec:
        choices = spec["choices"]
        return choices[min(int(u * len(choices)), len(choices) - 1)]
    lo, hi, log = float(spec["min"]), float(spec["max"]), bool(spec.get("log", False))
    if integer:
        top = hi + 1
        value = math.exp(math.log(lo) + u * (math.log(top) - math.log(lo))) if log else lo + u * (top - lo)
        return int(min(math.floor(value), hi))
    value = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) if log else lo + u * (hi - lo)
    return float(f"{min(max(value, lo), hi):.{SIGNIFICANT_DIGITS}g}")


def check_ranges(ranges: Mapping[str, Any], schema_at, prefix: str = "sweep.sample.ranges") -> list[str]:
    """Problems of the sample's ranges against each key's schema (``schema_at(key)`` -> sub-schema)."""
    problems = []
    for key, spec in ranges.items():
        where = f"{prefix}.{key}"
        sub = schema_at(key)
        numeric = [f for f in ("min", "max") if f in spec]
        if ("choices" in spec) == bool(numeric) or (numeric and len(numeric) != 2):
            problems.append(f"{where}: {spec!r} is not allowed; allowed: either {{min, max[, log, integer]}} "
                            "or {choices: [...]}")
            continue
        if "choices" in spec:
            if spec.get("log") or spec.get("integer"):
                problems.append(f"{where}: log/integer with choices; allowed: log and integer only with min/max")
            for i, value in enumerate(spec["choices"]):
                problems += iter_value_errors(value, sub, [*prefix.split("."), key, "choices", i])
            continue
        if not _is_numeric_schema(sub):
            problems.append(f"{where}: {{min, max}} on a key that is not a number (schema "
                            f"{sub.get('type') or sub.get('enum')}); "
                            "allowed: {choices: [...]} of values the key accepts")
            continue
        lo, hi = spec["min"], spec["max"]
        if lo > hi:
            problems.append(f"{where}: min {lo!r} > max {hi!r}; allowed: min <= max")
        if spec.get("log") and lo <= 0:
            problems.append(f"{where}: log range with min {lo!r}; allowed: min > 0 when log is true")
        if spec.get("integer") and not _is_integer_schema(sub) and (lo != int(lo) or hi != int(hi)):
            problems.append(f"{where}: integer range with bounds {lo!r}, {hi!r}; allowed: whole-number bounds")
        for bound, name in ((lo, "min"), (hi, "max")):
            value = int(bound) if _is_integer_schema(sub) and bound == int(bound) else bound
            problems += iter_value_errors(value, sub, [*prefix.split("."), key, name])
    return problems


def sample_rows(sample: Mapping[str, Any], seed: int, schema_at) -> list[dict[str, Any]]:
    """The overrides of each sampled point, deterministic in (sample, seed); duplicates kept once."""
    ranges = sample["ranges"]
    keys = list(ranges)
    integer = {k: "choices" not in ranges[k] and (bool(ranges[k].get("integer")) or _is_integer_schema(schema_at(k)))
               for k in keys}
    units = unit_samples(sample["method"], int(sample["n"]), len(keys), seed)
    rows, seen = [], set()
    for u in units:
        row = {k: map_unit(float(u[j]), ranges[k], integer[k]) for j, k in enumerate(keys)}
        marker = repr(sorted(row.items()))
        if marker not in seen:
            seen.add(marker)
            rows.append(row)
    return rows
