"""Held-out (cross-validated) surrogate predictions next to the real simulator results they predict.

Parity figures must not show in-sample fits: every prediction here comes from a model fitted without
the row it predicts - the same 5-fold split (``calibrate.cv_predictions``) that the pack's stored CV
errors were computed from, so the MAPE of these rows equals the pack's ``validation.cv`` numbers.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from eoesim.analysis import calibrate
from eoesim.analysis.surrogate import OutOfDomainWarning, Surrogate, abs_pct_errors


def heldout_predictions(pack: str, model: Surrogate, raw: pd.DataFrame, data_source: str,
                        metrics=None) -> pd.DataFrame:
    """One row per (real run row, metric): measured value, held-out prediction, in-domain flag, error.

    ``raw`` is the pack's dataset in its native columns (a calibration CSV or, for a study refit, the
    study table); ``model`` is the pack fitted on all of it (it judges the domain, as in the pack's
    validation). ``metrics`` defaults to the pack's primary metrics. Rows without a measured value
    (e.g. a saturated, non-steady-state latency) or with a zero one (no relative error) are left out.
    """
    frame = calibrate.DATASETS[pack].training_frame(raw).reset_index(drop=True)
    pred = calibrate.cv_predictions(type(model), frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        inside = model.check_domain(frame)
    parts = []
    for metric in metrics or model.primary:
        measured, predicted = frame[metric].to_numpy(float), pred[metric].to_numpy(float)
        ok = ~np.isnan(measured) & ~np.isnan(predicted) & (measured != 0)
        parts.append(pd.DataFrame({
            "pack": pack, "metric": metric, "data_source": data_source, "dataset_row": np.flatnonzero(ok),
            "measured": measured[ok], "predicted_heldout": predicted[ok], "in_domain": inside[ok],
            "abs_pct_error": abs_pct_errors(measured[ok], predicted[ok]),
        }))
    return pd.concat(parts, ignore_index=True)
