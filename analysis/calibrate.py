"""Fit every surrogate on its real-run calibration dataset, validate it, and write its pack.

``python -m eoesim.analysis.calibrate [--only garnet ramulator ...] [--out-dir analysis/packs]``

For each pack: read the dataset (analysis/calibration/<dir>/, measured with the real simulator, see
its PROVENANCE.md), turn it into a training frame, fit, then validate with

* k-fold cross-validation (random folds, k = 5, seed 0), and
* leave-one-group-out over each of the surrogate's ``holdout_groups`` columns: every *interior*
  value of a numeric column (not its min or max - held-out data lie between calibration values,
  and dropping an end would measure extrapolation) and every level of a categorical one is held
  out in turn and predicted by a model fitted without it.

Errors are reported over all valid rows and over the rows inside the surrogate's domain of
validity (ranges, levels, regimes, and constraints such as "load <= 0.7 x fitted saturation", judged
by the model fitted on all rows). The pack stores parameters, uncertainties, the dataset's sha256, the
domain and these errors, and per output its *stated* error (``validation.stated``): the CV MAPE inside
the domain and the largest single held-out error inside it (CV or a numeric group hold-out) - what a
query inside the domain is promised. A held-out categorical level (a pattern, a technology) is reported
as an unseen-regime error: a pack fitted without it refuses that regime.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from eoesim.analysis.surrogate import (
    FitError,
    OutOfDomainWarning,
    Surrogate,
    error_summary,
    fold_predictions,
    import_surrogate_modules,
)
from eoesim.errors import ConfigError
from eoesim.paths import package_dir
from eoesim.provenance import sha256_file
from eoesim.simulators.base import registry as simulators

log = logging.getLogger(__name__)

ANALYSIS_DIR = package_dir("eoesim.analysis")
CALIBRATION_DIR = ANALYSIS_DIR / "calibration"
PACKS_DIR = ANALYSIS_DIR / "packs"
CV_FOLDS = 5
CV_SEED = 0


@dataclass(frozen=True)
class Dataset:
    """A pack's training data: the CSV (relative to analysis/calibration/) and how to read it."""

    path: str
    training_frame: Callable[[pd.DataFrame], pd.DataFrame]
    surrogate: type[Surrogate]
    #: a categorical column whose levels get their own error breakdown in the pack
    breakdown: str | None = None
    #: known limits, stored in the pack's ``notes``
    notes: tuple[str, ...] = ()


def datasets() -> dict[str, Dataset]:
    """Every pack the registered simulators declare (their adapters' ``surrogates``) and its dataset."""
    forms = import_surrogate_modules()
    return {spec.pack: Dataset(spec.dataset, getattr(importlib.import_module(spec.module), spec.training_frame),
                               forms[spec.pack], spec.breakdown, spec.notes)
            for adapter in simulators().values() for spec in adapter.surrogates}


DATASETS = datasets()


def dataset_path(name: str, calibration_dir: Path | None = None) -> Path:
    if name not in DATASETS:
        raise ConfigError(f"calibrate: {name!r} is not a known pack; allowed: {sorted(DATASETS)}")
    return Path(calibration_dir or CALIBRATION_DIR) / DATASETS[name].path


def _holdout_values(frame: pd.DataFrame, col: str) -> list:
    values = pd.unique(frame[col])
    if pd.api.types.is_numeric_dtype(frame[col]):
        values = np.sort(values[~pd.isna(values)])
        return list(values[1:-1])
    return list(values)


def _summaries(frame: pd.DataFrame, pred: pd.DataFrame, outputs, inside: np.ndarray) -> dict:
    return {"all_rows": error_summary(frame, pred, outputs),
            "in_domain": error_summary(frame[inside], pred[inside], outputs)}


def cv_predictions(make: Callable[[], Surrogate], frame: pd.DataFrame) -> pd.DataFrame:
    """Out-of-fold predictions of every output (the k-fold CV the packs' errors are computed from).

    ``frame`` must have a 0..n-1 index (``reset_index(drop=True)``): the folds are positions.
    """
    order = np.random.default_rng(CV_SEED).permutation(len(frame))
    folds = [np.sort(f) for f in np.array_split(order, CV_FOLDS)]
    return fold_predictions(make, frame, folds)


def validate(model: Surrogate, frame: pd.DataFrame, breakdown: str | None = None) -> dict:
    """In-sample, k-fold CV and leave-one-group-out errors of ``model``'s class on ``frame``."""
    make = type(model)
    frame = frame.reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        inside = model.check_domain(frame)
        fitted = model.predict(frame, check=False)
    out: dict = {"in_sample": _summaries(frame, fitted, model.outputs, inside),
                 "n_rows": int(len(frame)), "n_in_domain": int(inside.sum())}
    cv_pred = cv_predictions(make, frame)
    out["cv"] = {"k": CV_FOLDS, "seed": CV_SEED, **_summaries(frame, cv_pred, model.outputs, inside)}
    if breakdown:
        out["cv_by_" + breakdown] = {
            str(level): error_summary(frame[idx_mask], cv_pred[idx_mask], model.primary)
            for level in pd.unique(frame[breakdown])
            for idx_mask in [((frame[breakdown] == level).to_numpy() & inside)]
        }
    groups = {}
    for col in model.holdout_groups:
        values = _holdout_values(frame, col)
        pred = pd.DataFrame(np.nan, index=frame.index, columns=list(model.outputs))
        per_value, skipped = {}, []
        for value in values:
            test = np.flatnonzero((frame[col] == value).to_numpy())
            try:
                part = fold_predictions(make, frame, [test])
            except (FitError, ValueError, RuntimeError, np.linalg.LinAlgError) as exc:  # reported, not fatal
                skipped.append(f"{value}: {exc}")
                continue
            pred.iloc[test] = part.iloc[test].to_numpy()
            sel = np.zeros(len(frame), dtype=bool)
            sel[test] = True
            per_value[str(value)] = error_summary(frame[sel & inside], part[sel & inside], model.primary)
        held = pred.notna().any(axis=1).to_numpy()
        groups[col] = {"held_out_values": [str(v) for v in values],
                       **_summaries(frame[held], pred[held], model.outputs, inside[held]),
                       "per_value_in_domain": per_value, "skipped": skipped}
    out["group_holdout"] = groups
    out["stated"] = stated_errors(out, model.outputs, model.categorical_inputs)
    return out


def stated_errors(validation: dict, outputs, categorical=()) -> dict:
    """Per output: CV MAPE and the worst held-out error inside the domain (CV or any hold-out of a numeric
    column's interior value; a held-out categorical level is a regime the domain would refuse)."""
    stated = {}
    for m in outputs:
        cv = validation["cv"]["in_domain"].get(m, {})
        worst = [cv.get("max_ape_pct", np.nan)] + [g["in_domain"].get(m, {}).get("max_ape_pct", np.nan)
                                                   for col, g in validation["group_holdout"].items()
                                                   if col not in categorical]
        worst = [w for w in worst if w is not None and np.isfinite(w)]
        stated[m] = {"mape_pct": cv.get("mape_pct", np.nan), "max_ape_pct": round(max(worst), 4) if worst else np.nan}
    return stated


def fit_pack(name: str, raw: pd.DataFrame, source: Path | None = None, validate_model: bool = True) -> Surrogate:
    """Fit pack ``name`` on a raw calibration table (the dataset CSV's columns) and validate it."""
    ds = DATASETS[name]
    frame = ds.training_frame(raw)
    t0 = time.monotonic()
    model = ds.surrogate().fit(frame)
    model.training.update({
        "dataset": str(source.relative_to(ANALYSIS_DIR)) if source and source.is_relative_to(ANALYSIS_DIR)
        else (str(source) if source else None),
        "sha256": sha256_file(source) if source else None,
        "n_rows": int(len(frame)),
    })
    # the fit time goes to the log, not the pack: a pack must be byte-identical when refitted on the same data
    log.info("%s: fitted %d rows in %.3f s", name, len(frame), time.monotonic() - t0)
    model.notes = list(DATASETS[name].notes)
    if validate_model:
        model.validation = validate(model, frame, ds.breakdown)
    return model


def write_pack(name: str, dataset: Path, out: Path, notes: list[str] | None = None) -> Path:
    """Fit and validate pack ``name`` on the dataset CSV ``dataset`` (its hash goes into the pack); write ``out``.

    Used for the shipped datasets (``calibrate``) and for datasets made from a study's real runs (rule
    calibrate_pack, eoesim.analysis.study_calibration); ``notes`` are added to the pack's notes.
    """
    model = fit_pack(name, pd.read_csv(dataset), Path(dataset))
    model.notes = [*model.notes, *(notes or [])]
    return model.save(Path(out))


def calibrate(name: str, calibration_dir: Path | None = None, out_dir: Path | None = None) -> Path:
    """Fit, validate and write ``<out_dir>/<name>.json`` from the shipped calibration dataset."""
    return write_pack(name, dataset_path(name, calibration_dir), Path(out_dir or PACKS_DIR) / f"{name}.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(DATASETS), help="packs to regenerate (default: all)")
    parser.add_argument("--out-dir", type=Path, default=PACKS_DIR)
    parser.add_argument("--calibration-dir", type=Path, default=CALIBRATION_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name in args.only or DATASETS:
        t0 = time.monotonic()
        path = calibrate(name, args.calibration_dir, args.out_dir)
        log.info("%s: wrote %s (%.1f s)", name, path, time.monotonic() - t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
