"""One design point re-stitched at other request rates (the data of figure ``latency_vs_rate``).

The point keeps everything - component tables, hardware, mapping, seed, prompt/output lengths and
domains - and only its arrivals change: Poisson arrivals at each rate with ``requests`` requests (the
same seed, so the same request mix at every rate); a trace-driven point replays its first ``requests``
trace rows with the arrival times scaled to the rate (the trace's own rate = requests / its arrival span).

Rates: ``figures.load_curve.rates_per_s`` when given, else automatic: the point's bottleneck capacity
times ``capacity_fractions`` (geometric around 1, so the knee is inside the range). The capacity is the
rate at which the busiest resource of the study's own stitch would be busy all the time: throughput /
the largest utilization (chiplets, HBM, DDR, SSD, network per channel) of ``summary.json`` - requests
per second of bottleneck service time. The study's own rate is always added (``study_rate`` true): with
as many requests as the study, that row equals the point's row of ``e2e/summary.csv``.
"""
from __future__ import annotations

import copy
import csv
import tempfile
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from eoesim.eoe.hardware import build_hardware
from eoesim.eoe.requests import DEFAULTS as REQUEST_DEFAULTS
from eoesim.eoe.requests import TRACE_COLUMNS
from eoesim.errors import ConfigError, ParseError
from eoesim.serving.columns import summary_row
from eoesim.stitch.e2e import stitch_point
from eoesim.stitch.point_job import point_tables
from eoesim.stitch.study_model import StudyComponentModel

#: 2^-3 .. 2^0.5: a decade below the knee, finer steps around it, and two points past it
DEFAULT_CAPACITY_FRACTIONS = (0.125, 0.25, 0.5, 0.71, 0.84, 1.0, 1.19, 1.41)
DEFAULT_REQUESTS = 500
UTILIZATION_KEYS = ("chiplets_max", "hbm", "ddr", "ssd", "network")


def capacity_per_s(summary: Mapping[str, Any]) -> float:
    """Requests per second at which the study's busiest resource would be saturated (module docstring)."""
    util = summary["utilization"]
    busiest = max(float(util.get(k) or 0.0) for k in UTILIZATION_KEYS)
    if busiest <= 0:
        raise ConfigError("figures.load_curve: the point's summary shows no busy resource, so its capacity is "
                          "unknown; allowed: give figures.load_curve.rates_per_s")
    return float(summary["throughput"]["requests_per_s"]) / busiest


def _trace_rows(params: Mapping[str, Any], base_dir: Path | None) -> list[list[str]]:
    path = Path(params["eoe"]["requests"]["trace_file"])
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    with open(path, newline="") as fh:
        rows = [row for row in csv.reader(fh) if row and any(c.strip() for c in row)]
    if len(rows) < 2:
        raise ParseError(path, "no requests")
    return sorted(rows[1:], key=lambda row: float(row[0]))


def study_rate_per_s(params: Mapping[str, Any], base_dir: Path | None = None) -> float:
    """The point's own mean arrival rate: ``rate_per_s`` (Poisson) or requests / arrival span (trace)."""
    req = {**REQUEST_DEFAULTS, **(params["eoe"].get("requests") or {})}
    if req["arrival"] != "trace":
        return float(req["rate_per_s"])
    arrivals = [float(row[0]) for row in _trace_rows(params, base_dir)]
    span = arrivals[-1] - arrivals[0]
    if span <= 0:
        raise ConfigError("figures.load_curve: the trace's requests all arrive at once, so it has no rate to "
                          "scale; allowed: a trace whose arrival_s values differ")
    return len(arrivals) / span


def rates_per_s(cfg: Mapping[str, Any], summary: Mapping[str, Any], own_rate: float) -> list[tuple[float, bool]]:
    """(rate, is the study's own rate) pairs, ascending: configured or automatic rates plus the own rate."""
    given = cfg.get("rates_per_s") or []
    if given:
        rates = [float(r) for r in given]
    else:
        cap = capacity_per_s(summary)
        rates = [cap * float(f) for f in cfg.get("capacity_fractions") or DEFAULT_CAPACITY_FRACTIONS]
    pairs = {r: False for r in rates}
    pairs[float(own_rate)] = True
    return sorted(pairs.items())


def params_at_rate(params: Mapping[str, Any], rate: float, requests: int, own_rate: float,
                   workdir: Path, base_dir: Path | None = None) -> dict[str, Any]:
    """The point's parameters with ``requests`` requests arriving at ``rate`` per second."""
    out = copy.deepcopy(dict(params))
    req = out["eoe"].setdefault("requests", {})
    if req.get("arrival", REQUEST_DEFAULTS["arrival"]) != "trace":
        req.update(rate_per_s=float(rate), count=int(requests), duration_s=None)
        return out
    rows = _trace_rows(params, base_dir)[:requests]
    t0, scale = float(rows[0][0]), own_rate / rate
    path = workdir / f"trace_{rate:.6g}_per_s.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(TRACE_COLUMNS)
        writer.writerows([repr(t0 + (float(row[0]) - t0) * scale), *row[1:]] for row in rows)
    req["trace_file"] = str(path)
    return out


def load_curve(point: str, params: Mapping[str, Any], runs: Mapping[str, Mapping[str, Any]],
               summary: Mapping[str, Any], cfg: Mapping[str, Any], base_dir: Path | None = None) -> pd.DataFrame:
    """One row per rate: ``point``, ``rate_per_s``, ``study_rate``, then the columns of ``e2e/summary.csv``.

    ``runs``: simulator -> {run_id, table, point} as for stitch_e2e; ``summary``: the point's
    ``summary.json`` (for the automatic rates); ``cfg``: ``figures.load_curve``.
    """
    requests = int(cfg.get("requests") or DEFAULT_REQUESTS)
    model = StudyComponentModel(build_hardware(params["hardware"]), point_tables(runs),
                                {sim: info["point"] for sim, info in runs.items()})
    own = study_rate_per_s(params, base_dir)
    rows = []
    with tempfile.TemporaryDirectory(prefix="load_curve_") as tmp:
        for rate, is_own in rates_per_s(cfg, summary, own):
            at = params_at_rate(params, rate, requests, own, Path(tmp), base_dir)
            result = stitch_point(at, model, base_dir=base_dir)
            rows.append({"point": point, "rate_per_s": rate, "study_rate": is_own,
                         **summary_row(point, result.summary)})
    return pd.DataFrame(rows)

