"""One call per design point: serve its requests on the modelled package and summarize; writing
``summary.json`` / ``timeline.json``.

``stitch_point(params, model)`` takes the design point's parameters (the validated study minus
``study``/``sweep``: ``seed``, ``eoe``, ``hardware``, ``mapping``, ``serving``, ``power``, optional
``failures``) and a ComponentModel (default: ``TableComponentModel.nominal`` of the hardware config -
datasheet numbers, fidelity ``nominal``) and runs the serving engine (eoesim.serving.engine). The grid
intensity is ``mapping.grid_intensity_gco2_per_kwh``, else the default row of energy_constants.csv.
``check_point`` runs the same cross-field checks without serving.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from eoesim.serving.background import BackgroundLoad
from eoesim.serving.engine import Engine
from eoesim.serving.failures import attach_failures, failure_summary
from eoesim.serving.metrics import summarize
from eoesim.serving.trace import DEFAULT_MAX_EVENTS, write_chrome_trace
from eoesim.stitch.components import ComponentModel
from eoesim.stitch.energy import EnergyModel


@dataclass
class E2EResult:
    summary: dict[str, Any]
    engine: Engine


def grid_intensity(params: Mapping[str, Any], energy: EnergyModel) -> float:
    value = (params.get("mapping") or {}).get("grid_intensity_gco2_per_kwh")
    return float(energy.default_grid_intensity if value is None else value)


def stitch_point(params: Mapping[str, Any], model: ComponentModel | None = None, seed: int | None = None,
                 base_dir: str | Path | None = None, energy: EnergyModel | None = None,
                 background: BackgroundLoad | None = None) -> E2EResult:
    if energy is None:  # the model's: a study's CACTI SRAM energy also in re-stitches, load curves, lowering
        energy = model.energy_model() if model is not None else EnergyModel()
    engine = Engine(params, model, seed, base_dir, energy, background)
    attach_failures(engine, params.get("failures"))
    engine.run()
    summary = summarize(engine, grid_intensity(params, energy))
    if engine.failures is not None:  # recovery is measured against the same requests served without failures
        base = stitch_point({k: v for k, v in params.items() if k != "failures"}, model, seed, base_dir, energy,
                            background)
        summary.update(failure_summary(engine, base.engine))
    return E2EResult(summary, engine)


def check_point(params: Mapping[str, Any], base_dir: str | Path | None = None) -> Engine:
    """Raise ConfigError (key path, value, what is allowed) for cross-field problems of a design point -
    unknown experts in the morphology, a hot set larger than HBM, more experts than chiplets for
    one_to_one, an unreadable trace, serving settings, failures - without serving it (for DAG-build time).
    Returns the engine it built, not run (its mapping is the point's expert placement)."""
    engine = Engine(params, None, int(params.get("seed", 1)), base_dir, None)
    attach_failures(engine, params.get("failures"))
    return engine


def _clean(x: Any) -> Any:
    """JSON-safe: NaN/inf -> None, tuples -> lists."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def write_summary(path: str | Path, summary: Mapping[str, Any]) -> Path:
    path = Path(path)
    path.write_text(json.dumps(_clean(dict(summary)), indent=1, sort_keys=True, allow_nan=False) + "\n")
    return path


def write_point(result: E2EResult, outdir: str | Path, max_events: int | None = DEFAULT_MAX_EVENTS) -> list[Path]:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    return [write_summary(outdir / "summary.json", result.summary),
            write_chrome_trace(outdir / "timeline.json", result.engine, max_events)]
