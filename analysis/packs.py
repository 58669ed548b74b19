"""The shipped calibration packs and the call the workflow makes for ``fidelity: surrogate``.

``predict_table(simulator, points)`` returns the points with the surrogate's metric columns added,
plus ``fidelity`` ("surrogate"), ``source`` (pack, form, dataset hash, validated error), ``in_domain``
and ``<metric>_rel_err_pct`` (the pack's k-fold CV MAPE inside its domain: the expected relative
error of that column, for error propagation into end-to-end results). A query outside the domain
warns with ``OutOfDomainWarning`` or, with ``strict=True``, raises ``OutOfDomainError``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from eoesim.analysis.surrogate import Surrogate, import_surrogate_modules, load
from eoesim.errors import ConfigError
from eoesim.simulators.base import registry as simulators

PACKS_DIR = Path(__file__).resolve().parent / "packs"


def simulator_packs() -> dict[str, tuple[str, ...]]:
    """Packs per simulator, as its adapter declares them (``surrogates``); the first one is its default."""
    return {name: tuple(spec.pack for spec in adapter.surrogates)
            for name, adapter in simulators().items() if adapter.surrogates}


def __getattr__(name: str):
    """``SIMULATOR_PACKS`` is ``simulator_packs()``, computed on use: the adapter modules import this module,
    so it cannot read the registry while it is being imported."""
    if name == "SIMULATOR_PACKS":
        return simulator_packs()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def pack_path(pack: str, packs_dir: Path | None = None) -> Path:
    return Path(packs_dir or PACKS_DIR) / f"{pack}.json"


def available_packs(packs_dir: Path | None = None) -> list[str]:
    """Names of the packs present in ``packs_dir`` (default: the shipped analysis/packs/)."""
    return sorted(p.stem for p in Path(packs_dir or PACKS_DIR).glob("*.json"))


@lru_cache(maxsize=32)
def _load_cached(path: str, mtime: float) -> Surrogate:
    return load(Path(path))


def load_pack(pack: str, packs_dir: Path | None = None) -> Surrogate:
    """The fitted surrogate of ``pack`` (cached per file and modification time)."""
    import_surrogate_modules()
    path = pack_path(pack, packs_dir)
    if not path.is_file():
        raise ConfigError(f"surrogate pack {pack!r}: {path} does not exist; regenerate it with "
                          f"`python -m eoesim.analysis.calibrate --only {pack}` "
                          f"(available: {available_packs(packs_dir)})")
    return _load_cached(str(path), path.stat().st_mtime)


def resolve_pack(simulator: str, pack: str | None = None) -> str:
    packs = simulator_packs()
    if simulator not in packs:
        raise ConfigError(f"surrogate: simulator {simulator!r} has no calibration pack; allowed: {sorted(packs)}")
    if pack is None:
        return packs[simulator][0]
    if pack not in packs[simulator]:
        raise ConfigError(f"surrogate: pack {pack!r} does not belong to {simulator}; allowed: {list(packs[simulator])}")
    return pack


def expected_errors(model: Surrogate) -> dict[str, float]:
    """Per output: the k-fold CV MAPE (percent) inside the domain, NaN when not validated."""
    cv = model.validation.get("cv", {}).get("in_domain", {})
    return {m: float(cv.get(m, {}).get("mape_pct", np.nan)) for m in model.outputs}


def source_label(model: Surrogate) -> str:
    sha = (model.training.get("sha256") or "")[:12]
    errs = expected_errors(model)
    primary = ", ".join(f"{m} CV MAPE {errs[m]:.2g}%" for m in model.primary if np.isfinite(errs[m]))
    return f"surrogate {model.pack or model.simulator}/{model.form} (data sha256 {sha}; {primary})"


def predict_table(simulator: str, points: pd.DataFrame, strict: bool = False, pack: str | None = None,
                  packs_dir: Path | None = None) -> pd.DataFrame:
    """``points`` (one row per design point, the pack's input columns) with predicted metric columns.

    Added columns: every surrogate output (units in the names), ``in_domain``,
    ``<metric>_rel_err_pct`` for the validated outputs, ``fidelity`` = "surrogate" and ``source``.
    """
    model = load_pack(resolve_pack(simulator, pack), packs_dir)
    pred = model.predict(points, strict=strict)
    out = points.copy()
    for col in pred.columns:
        out[col] = pred[col].to_numpy()
    for metric, err in expected_errors(model).items():
        out[f"{metric}_rel_err_pct"] = err
    out["fidelity"] = "surrogate"
    out["source"] = source_label(model)
    return out
