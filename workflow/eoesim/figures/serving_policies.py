"""Figure ``serving_policies``: throughput, p99 TTFT, p99 TPOT and goodput vs request rate, per scheduling policy.

One design point (``figures.serving_policies.point``: an index in points.csv order or an id; null = the
first point) is served again from its own component tables (eoesim.stitch.variants) with each policy of
``figures.serving_policies.policies`` (default continuous batching vs static batching) at the same rates:
``rates_per_s`` when given, else the point's capacity times the load curve's fractions
(eoesim.stitch.load_curve). Goodput is the share of requests meeting ``serving.slo`` (both TTFT and TPOT)
per second. Iteration-level batching keeps throughput rising with the offered rate until the instances are
compute- or memory-bound; a static batch waits for its longest sequence, so its throughput saturates
earlier and its TTFT explodes at a lower rate.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from eoesim.errors import ConfigError
from eoesim.figures.style import new_figure, plain_log_axis, save_figure, series_style
from eoesim.serving.settings import SCHEDULERS
from eoesim.stitch.load_curve import load_curve

KEY = "figures.serving_policies"
DEFAULTS: dict[str, Any] = {"point": None, "policies": ["continuous", "static"], "rates_per_s": [],
                            "requests": 400}
#: (column of the curve, y label, scale to the axis unit)
PANELS = (("throughput_tokens_per_s", "Throughput (k tokens/s)", 1e-3), ("ttft_p99_s", "TTFT p99 (ms)", 1e3),
          ("tpot_p99_s", "TPOT p99 (ms)", 1e3), ("goodput_requests_per_s", "Goodput (requests/s)", 1.0))


def settings(section: Mapping[str, Any] | None, point_ids: list[str]) -> dict[str, Any]:
    cfg = {**DEFAULTS, **(section or {})}
    point = cfg["point"]
    if point is None:
        cfg["point"] = point_ids[0]
    elif isinstance(point, int) and not isinstance(point, bool):
        if not 0 <= point < len(point_ids):
            raise ConfigError(f"{KEY}.point: {point} is not allowed; allowed: an index 0..{len(point_ids) - 1} or a "
                              "point id")
        cfg["point"] = point_ids[point]
    elif point not in point_ids:
        raise ConfigError(f"{KEY}.point: {point!r} is not allowed; allowed: one of {point_ids} or an index")
    bad = [p for p in cfg["policies"] if p not in SCHEDULERS]
    if bad or len(cfg["policies"]) < 1:
        raise ConfigError(f"{KEY}.policies: {cfg['policies']!r} is not allowed; allowed: a list of {list(SCHEDULERS)}")
    return cfg


def policy_curves(inputs: Mapping[str, Any], summary: Mapping[str, Any], cfg: Mapping[str, Any],
                  base_dir: Path | None = None) -> pd.DataFrame:
    """One row per (policy, rate): the load curve of the point with ``serving.scheduler`` = policy."""
    frames = []
    curve_cfg = {"rates_per_s": list(cfg["rates_per_s"]), "requests": int(cfg["requests"])}
    for policy in cfg["policies"]:
        params = {**inputs["params"], "serving": {**(inputs["params"].get("serving") or {}), "scheduler": policy}}
        frame = load_curve(inputs["point"], params, inputs["runs"], summary, curve_cfg, base_dir)
        frame.insert(1, "policy", policy)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def plot_serving_policies(frame: pd.DataFrame, stem: Path | str) -> dict[str, Path]:
    fig, axes = new_figure("double", height_in=2.4, ncols=len(PANELS))
    for i, (policy, curve) in enumerate(frame.groupby("policy", sort=False)):
        x = curve["rate_per_s"].to_numpy(dtype=float)
        for ax, (col, _, scale) in zip(axes, PANELS):
            y = curve[col].to_numpy(dtype=float) * scale
            ok = np.isfinite(y)
            ax.plot(x[ok], y[ok], label=policy.replace("_", " "), **series_style(i))
    for ax, (col, ylabel, _) in zip(axes, PANELS):
        plain_log_axis(ax, "x")
        if col.startswith(("ttft", "tpot")):
            plain_log_axis(ax, "y")
        ax.set_xlabel("Request rate (requests/s)")
        ax.set_ylabel(ylabel)
    axes[0].legend(loc="best")
    data = frame[["point", "policy", "rate_per_s", "study_rate"] + [c for c, _, _ in PANELS]]
    return save_figure(fig, data, stem)
