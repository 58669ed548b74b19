"""A pack's validated (held-out) errors per metric, read from its stored ``validation`` section.

Shared by ``benchmarks/surrogate_accuracy.py`` (printed table) and the surrogate-errors figure (tidy
table): the 5-fold cross-validated MAPE / max error and the leave-one-group-out ones, inside the
pack's domain of validity - or over all rows where a metric has no row inside it (e.g. a saturation
throughput, measured only on rows beyond the load domain).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from eoesim.analysis.surrogate import Surrogate

#: the issue's accuracy target for primary metrics (CV and group-held-out MAPE, inside the domain)
TARGET_PCT = 3.0


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


@dataclass(frozen=True)
class Errors:
    """MAPE and max absolute percentage error (percent) over ``n`` held-out rows."""

    mape_pct: float
    max_ape_pct: float
    n: int

    @classmethod
    def from_dict(cls, data: dict) -> "Errors":
        return cls(_num(data.get("mape_pct")), _num(data.get("max_ape_pct")), int(data.get("n") or 0))


@dataclass(frozen=True)
class MetricErrors:
    """The validated errors of one metric of one pack."""

    pack: str
    metric: str
    primary: bool
    scope: str  # "in_domain" or "all_rows"
    n_train: int | None
    cv: Errors
    #: leave-one-value-out of a numeric column (interior values: interpolation inside the domain)
    held_out: dict[str, Errors] = field(default_factory=dict)
    #: leave-one-level-out of a categorical column: a regime the model has never seen (outside the domain
    #: of a pack fitted without it, so it does not enter the stated error or the target)
    unseen: dict[str, Errors] = field(default_factory=dict)
    #: the pack's stated error (CV MAPE and the largest held-out error inside the domain), if stored
    stated_max_pct: float = math.nan

    @property
    def max_err_pct(self) -> float:
        """The worst single error over CV and every group hold-out."""
        values = [e.max_ape_pct for e in (self.cv, *self.held_out.values()) if math.isfinite(e.max_ape_pct)]
        return max(values) if values else math.nan

    @property
    def worst_held_out(self) -> tuple[str, Errors] | None:
        """The held-out column whose leave-one-value-out MAPE is highest."""
        finite = [(col, e) for col, e in self.held_out.items() if math.isfinite(e.mape_pct)]
        return max(finite, key=lambda item: item[1].mape_pct) if finite else None

    @property
    def meets_target(self) -> bool:
        return self.cv.mape_pct <= TARGET_PCT and all(
            e.mape_pct <= TARGET_PCT for e in self.held_out.values() if math.isfinite(e.mape_pct))


def metric_errors(model: Surrogate, label: str | None = None) -> list[MetricErrors]:
    """One :class:`MetricErrors` per output of ``model`` (``label`` overrides the pack name)."""
    v = model.validation
    out = []
    for metric in model.outputs:
        scope = "in_domain"
        if not v.get("cv", {}).get(scope, {}).get(metric, {}).get("n"):
            scope = "all_rows"
        cv = Errors.from_dict(v.get("cv", {}).get(scope, {}).get(metric, {}))
        groups = {col: Errors.from_dict(g.get(scope, {}).get(metric, {}))
                  for col, g in v.get("group_holdout", {}).items()}
        held = {c: e for c, e in groups.items() if c not in model.categorical_inputs}
        unseen = {c: e for c, e in groups.items() if c in model.categorical_inputs}
        stated = _num(v.get("stated", {}).get(metric, {}).get("max_ape_pct"))
        out.append(MetricErrors(label or model.pack or model.simulator, metric, metric in model.primary, scope,
                                model.training.get("n_train", {}).get(metric), cv, held, unseen, stated))
    return out


def error_table(models: dict[str, Surrogate]) -> pd.DataFrame:
    """Tidy table, one row per (pack, metric): CV errors and the worst leave-one-group-out errors.

    ``models`` maps a display label (e.g. ``"scalesim (study fit)"``) to a fitted, validated surrogate.
    """
    rows = []
    for label, model in models.items():
        for e in metric_errors(model, label):
            worst = e.worst_held_out
            rows.append({
                "pack": e.pack, "metric": e.metric, "primary": e.primary, "scope": e.scope, "n_cv": e.cv.n,
                "cv_mape_pct": e.cv.mape_pct, "cv_max_ape_pct": e.cv.max_ape_pct,
                "held_out_by": worst[0] if worst else "",
                "held_out_mape_pct": worst[1].mape_pct if worst else math.nan,
                "held_out_max_ape_pct": worst[1].max_ape_pct if worst else math.nan,
                "max_err_pct": e.max_err_pct,
            })
    return pd.DataFrame(rows)
