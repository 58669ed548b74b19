"""The one place that fixes how every paper figure looks and how it is written.

- widths of a two-column paper: :data:`SINGLE_COLUMN_IN` (3.5 in) and :data:`DOUBLE_COLUMN_IN` (7.16 in);
- a colour-blind-safe palette (Okabe & Ito, "Color Universal Design", 2008) and distinct markers, cycled
  together so series stay distinguishable in greyscale print;
- no titles inside a figure: the caption in the report (and the paper) carries them;
- :func:`save_figure` writes a vector PDF with embedded TrueType fonts (Type 42), a 300 dpi PNG and the
  tidy CSV of exactly the data plotted, side by side, from the same output stem.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from cycler import cycler  # noqa: E402
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter  # noqa: E402

from eoesim.errors import EoesimError  # noqa: E402
from eoesim.layout import FIGURE_SUFFIXES  # noqa: E402
from eoesim.paths import package_file  # noqa: E402

SINGLE_COLUMN_IN = 3.5
DOUBLE_COLUMN_IN = 7.16
#: Okabe-Ito colours without yellow (too faint on white at line widths used here)
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00", "#000000"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 2))]
STYLE_FILE = package_file("eoesim.figures", "eoesim.mplstyle")


class FigureError(EoesimError):
    """A figure could not be drawn from its data (e.g. the data it needs is empty)."""


def apply_style() -> None:
    """Load the paper style and the palette/marker cycle into matplotlib's global rcParams."""
    plt.style.use(str(STYLE_FILE))
    plt.rcParams["axes.prop_cycle"] = cycler(color=PALETTE) + cycler(marker=MARKERS)


def new_figure(width: str = "single", height_in: float | None = None, **subplots_kw):
    """A styled ``(fig, axes)`` at single (3.5 in) or double (7.16 in) column width."""
    apply_style()
    widths = {"single": SINGLE_COLUMN_IN, "double": DOUBLE_COLUMN_IN}
    if width not in widths:
        raise FigureError(f"figure width {width!r} is not one of {sorted(widths)}")
    w = widths[width]
    return plt.subplots(figsize=(w, height_in or w * 0.72), constrained_layout=True, **subplots_kw)


def plain_log_axis(ax, which: str) -> None:
    """A log ``which`` ("x" or "y") axis labelled 1, 2, 5 x 10^k in plain numbers, the minor ticks unlabelled:
    matplotlib's default labels of 2-9 x 10^k overlap at figure widths, and read 6 x 10^-1 for 0.6."""
    getattr(ax, f"set_{which}scale")("log")
    axis = getattr(ax, f"{which}axis")
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FormatStrFormatter("%g"))
    axis.set_minor_formatter(NullFormatter())


def series_style(i: int) -> dict:
    """Colour, marker and line style of the i-th series (the same i gives the same look in every figure)."""
    return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)],
            "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def output_paths(stem: Path | str) -> dict[str, Path]:
    """``{'pdf','png','csv'}`` paths for the output stem ``figures/<name>`` (suffix ignored if given)."""
    stem = Path(stem)
    if stem.suffix in FIGURE_SUFFIXES:
        stem = stem.with_suffix("")
    return {s.lstrip("."): stem.with_suffix(s) for s in FIGURE_SUFFIXES}


def save_figure(fig, data: pd.DataFrame, stem: Path | str) -> dict[str, Path]:
    """Write ``<stem>.pdf`` (Type 42 fonts), ``<stem>.png`` (300 dpi) and ``<stem>.csv`` (the plotted data).

    Refuses a figure with a title on any axes or a figure whose plotted data is empty: both are bugs for
    a paper figure (captions carry titles; an empty plot hides a broken upstream stage).
    """
    if data is None or data.empty:
        raise FigureError(f"figure {Path(stem).name}: no data to plot")
    for ax in fig.get_axes():
        if ax.get_title():
            raise FigureError(f"figure {Path(stem).name}: axes title {ax.get_title()!r}; put it in the caption")
    paths = output_paths(stem)
    paths["pdf"].parent.mkdir(parents=True, exist_ok=True)
    with plt.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42}):
        fig.savefig(paths["pdf"])
        fig.savefig(paths["png"], dpi=300)
    data.to_csv(paths["csv"], index=False)
    plt.close(fig)
    return paths
