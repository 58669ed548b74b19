"""Figure ``timeline``: an excerpt of one design point's serving run, one lane per model instance and per
expert-load track.

Data: the point's ``timeline.json`` (Chrome trace events, see ``eoesim.serving.trace``): every complete event
(``ph: X``) becomes a bar on its lane (the trace's thread name: each instance, SSD -> DDR, DDR -> each HBM
stack), coloured by kind: a decode step (one or several identical decode iterations), an iteration with prompt
tokens (prefill, possibly with decodes batched in), an expert load. Lanes are shown when busy inside the window.

The window is ``figures.timeline.window_s`` or, by default, the busiest stretch of the run: among the
windows that start at an event and end when the next ``max_ops - 1`` events (by start) have all
finished, the one with the most busy lane-seconds per second (ties: the earliest).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from eoesim.errors import ConfigError, ParseError
from eoesim.figures.style import PALETTE, new_figure, save_figure

#: event kinds in the order they take the palette's colours; anything else is hatched grey
KIND_ORDER = ("decode", "prefill", "expert load")


def timeline_point(points: Sequence[str], point: int | str) -> str:
    """The point id chosen by ``figures.timeline.point`` (an index in points.csv order or an id)."""
    if isinstance(point, int):
        if point >= len(points):
            raise ConfigError(f"figures.timeline.point: {point} is not allowed; allowed: an index 0..{len(points) - 1} "
                              "or a point id of points.csv")
        return points[point]
    if point not in points:
        raise ConfigError(f"figures.timeline.point: {point!r} is not allowed; allowed: one of {list(points)} "
                          "or an index")
    return point


def check_window(window: Sequence[float] | None) -> None:
    if window is not None and not window[1] > window[0]:
        raise ConfigError(f"figures.timeline.window_s: {list(window)} is not allowed; allowed: [start, end] "
                          "with end > start")


def _thread_names(trace: Mapping[str, Any]) -> dict[tuple[int, int], str]:
    """(pid, tid) -> lane name, in trace order (process, then thread)."""
    names = {(ev["pid"], ev["tid"]): ev["args"]["name"] for ev in trace["traceEvents"]
             if ev.get("ph") == "M" and ev.get("name") == "thread_name"}
    return {key: names[key] for key in sorted(names)}


def trace_lanes(trace: Mapping[str, Any]) -> list[str]:
    """Every lane of the trace (busy or not), top to bottom."""
    return list(dict.fromkeys(_thread_names(trace).values()))


def trace_events(trace: Mapping[str, Any]) -> pd.DataFrame:
    """Rows (lane, kind, start_s, end_s) of the trace's complete events."""
    names = _thread_names(trace)
    rows = []
    for ev in trace["traceEvents"]:
        if ev.get("ph") != "X":
            continue
        key = (ev["pid"], ev["tid"])
        if key not in names:
            raise ParseError("timeline.json", f"event on pid {key[0]} tid {key[1]} without a thread_name")
        start = ev["ts"] * 1e-6
        rows.append({"lane": names[key], "kind": event_kind(ev), "start_s": start, "end_s": start + ev["dur"] * 1e-6})
    if not rows:
        raise ParseError("timeline.json", "no op events")
    return pd.DataFrame(rows)


def event_kind(ev: Mapping[str, Any]) -> str:
    """``decode`` (a step of decode iterations), ``prefill`` (an iteration with prompt tokens) or ``expert load``."""
    if ev.get("cat") == "load":
        return "expert load"
    return "prefill" if ev.get("args", {}).get("prompt_tokens") else "decode"


def _busy_between(start: np.ndarray, end: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Total event-seconds inside each window [a_k, b_k]: B(b) - B(a) with B(t) = sum clip(t - s, 0, e - s)."""
    s, f = np.sort(start), np.sort(end)
    cs, cf = np.r_[0.0, np.cumsum(s)], np.r_[0.0, np.cumsum(f)]

    def cum(t: np.ndarray) -> np.ndarray:
        ns, nf = np.searchsorted(s, t, "right"), np.searchsorted(f, t, "right")
        return (ns * t - cs[ns]) - (nf * t - cf[nf])

    return cum(b) - cum(a)


def busiest_window(events: pd.DataFrame, max_ops: int) -> tuple[float, float]:
    """The default window (module docstring)."""
    ev = events.sort_values(["start_s", "end_s"], ignore_index=True)
    start, end = ev["start_s"].to_numpy(), ev["end_s"].to_numpy()
    k = min(max_ops, len(ev))
    a = start[: len(ev) - k + 1]
    b = ev["end_s"].rolling(k).max().to_numpy()[k - 1:]
    width = b - a
    ok = width > 0
    if not ok.any():
        return float(start.min()), float(end.max())
    density = np.where(ok, _busy_between(start, end, a, b) / np.where(ok, width, 1), -1.0)
    i = int(np.argmax(density))
    return float(a[i]), float(b[i])


def excerpt(events: pd.DataFrame, window: Sequence[float]) -> pd.DataFrame:
    """The events overlapping ``window``, clipped to it, sorted by lane then start."""
    lo, hi = float(window[0]), float(window[1])
    inside = events[(events["end_s"] > lo) & (events["start_s"] < hi)].copy()
    if inside.empty:
        raise ConfigError(f"figures.timeline.window_s: {[lo, hi]} holds no op of the run; allowed: a window inside "
                          f"[{events['start_s'].min():.6g}, {events['end_s'].max():.6g}] s")
    inside["start_s"] = inside["start_s"].clip(lower=lo)
    inside["end_s"] = inside["end_s"].clip(upper=hi)
    inside = inside[inside["end_s"] > inside["start_s"]]
    return inside.sort_values(["lane", "start_s"], ignore_index=True)


def lanes(all_lanes: Sequence[str], excerpt_rows: pd.DataFrame) -> list[str]:
    """Lanes shown, top to bottom in trace order: the busy ones (module docstring)."""
    busy = set(excerpt_rows["lane"])
    return [lane for lane in all_lanes if lane in busy]


def kind_style(kind: str) -> dict:
    """Colour and hatch of an op kind: the palette in KIND_ORDER, hatched once it repeats."""
    if kind not in KIND_ORDER:
        return {"facecolor": "0.6", "hatch": "...."}
    i = KIND_ORDER.index(kind)
    return {"facecolor": PALETTE[i % len(PALETTE)], "hatch": "" if i < len(PALETTE) else "////"}


def plot_timeline(rows: pd.DataFrame, lane_names: list[str], window: Sequence[float], stem: Path | str,
                  point_label: str) -> dict[str, Path]:
    """Bars per lane in ms since the window start; ``rows``: the excerpt (lane, kind, start_s, end_s)."""
    lo, hi = float(window[0]), float(window[1])
    fig, ax = new_figure("double", height_in=0.9 + 0.2 * len(lane_names))
    y = {lane: i for i, lane in enumerate(lane_names)}
    present = set(rows["kind"])
    kinds = [k for k in KIND_ORDER if k in present] + sorted(present - set(KIND_ORDER))
    for kind in kinds:
        part = rows[rows["kind"] == kind]
        for lane, bars in part.groupby("lane"):
            spans = list(zip(1e3 * (bars["start_s"] - lo), 1e3 * (bars["end_s"] - bars["start_s"])))
            ax.broken_barh(spans, (y[lane] - 0.38, 0.76), edgecolor="white", linewidth=0.2, **kind_style(kind))
    handles = [Patch(edgecolor="white", label=k, **kind_style(k)) for k in kinds]
    ax.set_yticks(range(len(lane_names)), lane_names)
    ax.set_ylim(len(lane_names) - 0.5, -0.5)
    ax.set_xlim(0, 1e3 * (hi - lo))
    ax.set_xlabel(f"time since t = {lo:.6g} s of the run (ms); design point {point_label}")
    ax.grid(axis="y", visible=False)
    fig.legend(handles=handles, loc="outside right upper", title="kind")
    return save_figure(fig, rows, stem)


def load_trace(path: Path | str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())
