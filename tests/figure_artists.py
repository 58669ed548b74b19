"""What a figure drew: the data of the artists on its axes, read back after the figure module saved it.

``style.save_figure`` writes the frame it is given to ``<stem>.csv`` whatever the axes show, so comparing
that CSV with the input proves nothing about the plot. These helpers read the axes themselves: line
x/y data, bar heights (or widths of horizontal bars), scatter offsets, broken-bar spans. ``capture_figures`` keeps every
figure closed during a test (pyplot's ``close`` still runs: a closed Figure keeps its artists).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer
from matplotlib.figure import Figure


def capture_figures(monkeypatch) -> list[Figure]:
    """The figures ``plt.close`` is called on from now until the test ends, in order."""
    closed: list[Figure] = []
    close = plt.close

    def keep(fig=None):
        if isinstance(fig, Figure):
            closed.append(fig)
        close(fig)

    monkeypatch.setattr(plt, "close", keep)
    return closed


def data_lines(ax) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(label, x, y)`` of every line with data (axvline/axhline reference lines included)."""
    return [(line.get_label(), np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float))
            for line in ax.get_lines() if len(line.get_xdata())]


def line_xy(ax, label: str) -> tuple[np.ndarray, np.ndarray]:
    """x and y of the one line labelled ``label``."""
    found = [(x, y) for name, x, y in data_lines(ax) if name == label]
    assert len(found) == 1, f"{len(found)} line(s) labelled {label!r}; labels: {[n for n, _, _ in data_lines(ax)]}"
    return found[0]


def bar_values(ax) -> list[np.ndarray]:
    """Per bar series (``ax.bar``/``ax.barh`` call), the bars' heights (vertical) or widths (horizontal)."""
    out = []
    for container in ax.containers:
        if isinstance(container, BarContainer):
            size = "get_width" if container.orientation == "horizontal" else "get_height"
            out.append(np.array([getattr(patch, size)() for patch in container.patches]))
    return out


def scatter_offsets(ax) -> list[np.ndarray]:
    """Per ``ax.scatter`` call, its points as an ``(n, 2)`` array of x, y."""
    return [np.asarray(c.get_offsets(), dtype=float) for c in ax.collections if isinstance(c, PathCollection)]


def broken_bars(ax) -> list[tuple[str, list[tuple[float, float]]]]:
    """Per ``ax.broken_barh`` call, its face colour (``#rrggbb``) and its ``(start, width)`` spans along x."""
    out = []
    for c in ax.collections:
        if isinstance(c, PolyCollection) and not isinstance(c, PathCollection):
            spans = [(float(p.vertices[:, 0].min()), float(np.ptp(p.vertices[:, 0]))) for p in c.get_paths()]
            out.append((to_hex(c.get_facecolor()[0]), spans))
    return out


def markers(ax) -> np.ndarray:
    """Every point drawn as a marker without a line (``plot(..., linestyle="none")``), ``(n, 2)`` rows sorted."""
    parts = [np.column_stack([x, y]) for line in ax.get_lines() if line.get_linestyle() in ("None", "none", " ", "")
             for x, y in [(np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float))]]
    points = np.concatenate(parts) if parts else np.empty((0, 2))
    return points[np.lexsort((points[:, 1], points[:, 0]))]


def sorted_points(x, y) -> np.ndarray:
    """``(n, 2)`` rows of ``x``, ``y`` in the order ``markers`` returns them."""
    points = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    return points[np.lexsort((points[:, 1], points[:, 0]))]
