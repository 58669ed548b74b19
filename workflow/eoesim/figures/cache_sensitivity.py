"""Figure cache_sensitivity: expert-cache hit rate and e2e latency vs Zipf skew, one line per cache policy.

One base design point (``figures.cache_sensitivity.point``; null, the default, = the first point with
generated requests that can miss) is re-stitched from its own component tables
(eoesim.stitch.variants) for every Zipf skew of the request domains (``eoe.requests.zipf_skew``) and every
cache policy (``mapping.cache_policy``; LRU and LFU also with each ``prefetch`` depth - a static hot set
never moves, so it is drawn once). Memory pressure (eoesim.stitch.variants.MemoryPressure): HBM holds
``hbm_experts`` experts (null = half of them) and DDR ``ddr_experts`` - capacities = that many times the
largest expert - since a study whose HBM holds every expert has no misses to show; ``memory_pressure:
false`` keeps the point's own capacities. With ``reference`` the point as configured
(its own capacities, policy and prefetch) is drawn too, at every skew. ``requests`` (null = the study's
count) shortens each re-stitch. Each (line, skew) is re-stitched with ``repeats`` request streams (seeds
seed, seed + 1, ...): a line is their mean, its band their range.

Hit rate = accesses served from HBM / accesses (eoe.caching); latency = ``latency_stat`` of the
requests' ``latency_metric`` (``e2e_latency``: arrival -> last token; ``ttft``: arrival -> first token).
A base point with a single expert cannot miss under the default budget, and a point that reads its requests
from a trace has no Zipf skew to sweep: when no point can show the figure it is left out (``base_point``).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import pandas as pd

from eoesim.config import Study
from eoesim.errors import ConfigError
from eoesim.figures.style import new_figure, save_figure, series_style
from eoesim.stitch.variants import MemoryPressure, Restitcher, check_variant, with_overrides

KEY = "figures.cache_sensitivity"
log = logging.getLogger(__name__)
POLICY_LABELS = {"static": "static", "lru": "LRU", "lfu": "LFU"}


@dataclass(frozen=True)
class CacheSensitivity:
    """The resolved ``figures.cache_sensitivity`` section (``point`` is a design point id)."""

    point: str
    zipf_skews: tuple[float, ...]
    policies: tuple[str, ...]
    prefetch: tuple[int, ...]
    memory_pressure: bool
    hbm_experts: int | None
    ddr_experts: int
    requests: int | None
    latency_metric: str
    latency_stat: str
    reference: bool
    repeats: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "CacheSensitivity":
        return cls(**{**d, "zipf_skews": tuple(d["zipf_skews"]), "policies": tuple(d["policies"]),
                      "prefetch": tuple(d["prefetch"])})

    @property
    def latency_column(self) -> str:
        return f"{self.latency_metric}_{self.latency_stat}_s"

    @property
    def pressure(self) -> MemoryPressure:
        return MemoryPressure(self.memory_pressure, self.hbm_experts, self.ddr_experts)


def resolve_point(study: Study, value: int | str, key: str) -> str:
    """A design point id from an index into the study's points (points.csv order) or an id."""
    ids = [p.id for p in study.points]
    if isinstance(value, int) and 0 <= value < len(ids):
        return ids[value]
    if isinstance(value, str) and value in ids:
        return value
    raise ConfigError(f"{key}: {value!r} is not allowed; allowed: a point index 0..{len(ids) - 1} "
                      f"or a point id of the study {ids[:12]}, or null (the first point that can show the figure)")


def _poisson(params: Mapping[str, Any]) -> bool:
    """Whether a point draws its requests (a trace fixes its domain mix: no Zipf skew can move it)."""
    return params["eoe"]["requests"]["arrival"] == "poisson"


def _pressure(section: Mapping[str, Any]) -> MemoryPressure:
    return MemoryPressure(section["memory_pressure"], section["hbm_experts"], section["ddr_experts"])


def base_point(study: Study) -> tuple[str | None, str]:
    """(the base design point id, or None when the figure is left out; why that point, or why none).

    ``point: null`` picks the first point with generated (Poisson) requests that can miss in the expert
    cache; an explicit point is the user's choice and must have generated requests (ConfigError)."""
    section = study.config["figures"]["cache_sensitivity"]
    pressure = _pressure(section)
    if section["point"] is None:
        poisson = [p for p in study.points if _poisson(p.params)]
        if not poisson:
            return None, "every design point reads its requests from a trace, whose domain mix no Zipf skew sets"
        for p in poisson:
            if pressure.can_miss(p.params):
                return p.id, f"design point {p.id}, the first with generated requests that can miss"
        pressure.check(poisson[0].params, KEY, poisson[0].id, ("hbm",))  # an explicit budget holding them all
        return None, f"design point(s) {[p.id for p in poisson][:12]} have a single expert, which never misses"
    pid = resolve_point(study, section["point"], f"{KEY}.point")
    if not _poisson(study.point(pid).params):
        raise ConfigError(f"{KEY}.point: {section['point']!r} (design point {pid}) reads its requests from a "
                          "trace, whose domain mix no Zipf skew sets; allowed: a point with eoe.requests.arrival "
                          "poisson, or null (the first such point)")
    pressure.check(study.point(pid).params, KEY, pid, ("hbm",))
    if not pressure.can_miss(study.point(pid).params):
        return None, f"design point {pid} has a single expert, which never misses"
    return pid, f"design point {pid} ({KEY}.point)"


def settings(study: Study) -> CacheSensitivity | None:
    """The figure's settings checked against the study (ConfigError naming the key, value and allowed), or
    None when no design point can show it (see base_point; the reason is logged)."""
    section = study.config["figures"]["cache_sensitivity"]
    pid, why = base_point(study)
    if pid is None:
        log.warning("figure cache_sensitivity left out: %s", why)
        return None
    params = study.point(pid).params
    out = CacheSensitivity(point=pid, zipf_skews=tuple(float(s) for s in section["zipf_skews"]),
                           policies=tuple(section["policies"]), prefetch=tuple(int(n) for n in section["prefetch"]),
                           memory_pressure=section["memory_pressure"], hbm_experts=section["hbm_experts"],
                           ddr_experts=section["ddr_experts"], requests=section["requests"],
                           latency_metric=section["latency_metric"], latency_stat=section["latency_stat"],
                           reference=section["reference"], repeats=section["repeats"])
    for line in lines(out, params):
        check_variant(params, overrides(out, params, out.zipf_skews[0], line), KEY)
    return out


@dataclass(frozen=True)
class Line:
    """One line of the figure: a cache policy and prefetch depth (under the budget), or the point as configured."""

    policy: str
    prefetch: int
    as_configured: bool = False

    def label(self, params: Mapping[str, Any]) -> str:
        if self.as_configured:
            return f"as configured ({params['hardware']['memory']['hbm']['capacity_gib']:g} GiB HBM)"
        return POLICY_LABELS[self.policy] + (f" + prefetch {self.prefetch}" if self.prefetch else "")


def lines(s: CacheSensitivity, params: Mapping[str, Any]) -> list[Line]:
    """Static once (it never prefetches), LRU / LFU per prefetch depth, then the point as configured."""
    out = [Line(p, n) for p in s.policies for n in ((0,) if p == "static" else s.prefetch)]
    if s.reference:
        mapping = params["mapping"]
        out.append(Line(mapping["cache_policy"], int(mapping["prefetch"]), as_configured=True))
    return out


def overrides(s: CacheSensitivity, params: Mapping[str, Any], skew: float, line: Line) -> dict[str, Any]:
    """The parameter overrides of one re-stitch."""
    out: dict[str, Any] = {"eoe.requests.zipf_skew": skew}
    if s.requests is not None:
        out.update({"eoe.requests.count": s.requests, "eoe.requests.duration_s": None})
    if not line.as_configured:  # the budget's KV room is that of the requests re-stitched
        out.update({"mapping.cache_policy": line.policy, "mapping.prefetch": line.prefetch,
                    **s.pressure.overrides(with_overrides(params, out))})
    return out


def seeds(s: CacheSensitivity, params: Mapping[str, Any]) -> list[int]:
    """The seeds of the request streams re-stitched per (line, skew): the point's, then the next ones."""
    first = int(params.get("seed", 1))
    return list(range(first, first + s.repeats))


def sweep(restitcher: Restitcher, s: CacheSensitivity) -> pd.DataFrame:
    """One row per (line, skew, seed): the re-stitched point's cache counters and latency statistic."""
    rows = []
    params = restitcher.params
    memory = params["hardware"]["memory"]
    counts = s.pressure.counts(params) or (None, None)  # None: no budget (memory_pressure false)
    for line in lines(s, params):
        for skew in s.zipf_skews:
            for seed in seeds(s, params):
                rows.append(_row(restitcher, s, line, skew, seed, counts, memory))
    return pd.DataFrame(rows).astype({"hbm_experts": "Int64", "ddr_experts": "Int64"})


def _row(restitcher: Restitcher, s: CacheSensitivity, line: Line, skew: float, seed: int, counts: tuple,
         memory: Mapping[str, Any]) -> dict[str, Any]:
    params = restitcher.params
    ov = {**overrides(s, params, skew, line), "seed": seed}
    summary = restitcher.stitch(ov).summary
    cache = summary["cache"]
    return {
        "point": restitcher.point, "series": line.label(params), "as_configured": line.as_configured,
        "cache_policy": line.policy, "prefetch": line.prefetch if line.policy != "static" else 0,
        "zipf_skew": skew, "seed": seed,
        "hbm_experts": None if line.as_configured else counts[0],
        "ddr_experts": None if line.as_configured else counts[1],
        "hbm_capacity_gib": ov.get("hardware.memory.hbm.capacity_gib", memory["hbm"]["capacity_gib"]),
        "ddr_capacity_gib": ov.get("hardware.memory.ddr.capacity_gib", memory["ddr"]["capacity_gib"]),
        "requests": summary["requests"], "accesses": cache["accesses"], "hbm_hits": cache["hbm_hits"],
        "ddr_hits": cache["ddr_hits"], "ssd_loads": cache["ssd_loads"],
        "prefetch_loads": cache["prefetch_loads"], "hit_rate": cache["hit_rate"],
        s.latency_column: summary[f"{s.latency_metric}_s"][s.latency_stat],
    }


def plot(frame: pd.DataFrame, stem, s: CacheSensitivity) -> dict:
    """Two panels sharing the skew axis: hit rate (top) and the latency statistic in ms (bottom), each line
    the mean over the request streams and its band their range."""
    fig, (top, bottom) = new_figure("single", height_in=4.2, nrows=2, sharex=True)
    for i, (label, rows) in enumerate(frame.groupby("series", sort=False)):
        style = {"color": "0.45", "marker": "", "linestyle": (0, (1, 1.5))} if rows["as_configured"].iloc[0] \
            else series_style(i)
        by_skew = rows.groupby("zipf_skew", sort=True)
        skews = by_skew.size().index.to_numpy()
        for ax, column, scale in ((top, "hit_rate", 1.0), (bottom, s.latency_column, 1e3)):
            values = by_skew[column]
            (drawn,) = ax.plot(skews, values.mean() * scale, label=label if ax is top else None, **style)
            if s.repeats > 1:
                ax.fill_between(skews, values.min() * scale, values.max() * scale, color=drawn.get_color(),
                                alpha=0.15, linewidth=0)
    top.set_ylabel("HBM hit rate")
    top.set_ylim(-0.03, 1.03)
    metric = {"e2e_latency": "e2e latency", "ttft": "TTFT"}[s.latency_metric]
    bottom.set_ylabel(f"{s.latency_stat} {metric} (ms)")
    streams = f"\n(mean of {s.repeats} request streams; band: their range)" if s.repeats > 1 else ""
    bottom.set_xlabel(f"Zipf skew of the request domains{streams}")
    fig.legend(*top.get_legend_handles_labels(), loc="outside upper center", ncol=2)
    return save_figure(fig, frame, stem)
