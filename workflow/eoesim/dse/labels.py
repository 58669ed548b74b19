"""Short labels of design points from their swept values, for figure annotations.

``[64, 64]`` -> ``64x64``; a list of experts -> ``4exp``; a string as is; a number with a short name of
its key (``hbm8``: the last path part, or its parent when the last part is a generic unit name such as
``capacity_gib``). Values of the same key appear in the same position of every label.
"""
from __future__ import annotations

from typing import Any, Mapping

#: last path parts too generic to name a parameter on their own
GENERIC = {"capacity_gib", "bandwidth_gb_per_s", "latency_ns", "k", "kind", "count", "rate_per_s"}
#: short names of frequently swept parameters
SHORT = {"eoe.experts": "exp", "mapping.strategy": "", "mapping.cache_policy": "",
         "hardware.chiplet.dataflow": "", "hardware.chiplet.array": "",
         "hardware.memory.hbm.capacity_gib": "HBM", "hardware.memory.hbm.bandwidth_gb_per_s": "HBMbw",
         "eoe.router.k": "k", "eoe.requests.rate_per_s": "rate", "eoe.requests.zipf_skew": "zipf"}
STRATEGY = {"one_to_one": "1:1", "one_to_many": "1:N", "many_to_one": "N:1", "many_to_many": "N:N"}


def key_name(key: str) -> str:
    if key in SHORT:
        return SHORT[key]
    parts = key.split(".")
    return parts[-2] if parts[-1] in GENERIC and len(parts) > 1 else parts[-1]


def format_value(key: str, value: Any) -> str:
    if key == "eoe.experts" and isinstance(value, list):
        return f"{len(value)}exp"
    if isinstance(value, list) and all(isinstance(v, (int, float)) for v in value):
        return "x".join(f"{v:g}" for v in value)
    if isinstance(value, str):
        return STRATEGY.get(value, value)
    if value is None:
        return f"{key_name(key)}=none"
    if isinstance(value, bool):
        return f"{key_name(key)}={'on' if value else 'off'}"
    if isinstance(value, (int, float)):
        return f"{key_name(key)}{value:.2g}"
    return f"{key_name(key)}={value}"


def point_label(overrides: Mapping[str, Any]) -> str:
    """A short label of one design point (its swept values, space separated)."""
    return " ".join(format_value(k, v) for k, v in overrides.items())
