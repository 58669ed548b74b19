"""A study's real-run table -> the calibration-dataset frame a pack is fitted on (per simulator).

The packs in analysis/packs/ are fitted by ``eoesim.analysis.calibrate`` on the datasets in
analysis/calibration/<dir>/calibration.csv; each pack's ``training_frame`` reads that CSV's columns.
``dataset_frame(pack, table, runs)`` turns a study table (``results/<study>/tables/<sim>.csv``, the
adapter's ``parse()`` + ``annotate()`` columns) into the same columns, so a pack is regenerated from the
study's own runs by the same fitting and validation code (rule ``calibrate_pack``).

Only real runs: every row of the table must have ``fidelity == "simulate"``; a table with surrogate rows
is refused with an error naming the simulator and how to provide it. A run whose fixed settings differ
from the ones the dataset held constant (the pack's form has no input for them) is refused too:
``unmet(pack, point)`` lists them, and the workflow asks for a pack only when no planned run has any.

Each pack's surrogate class declares its ``study_table`` (eoesim.analysis.study_tables.StudyTable; None: the
pack is fitted only on its shipped dataset): which settings its dataset held fixed, how the table's rows become
the dataset's columns (quantities the table lacks are derived from the run's parameters, ``runs``: run id ->
the simulator's point, as in ``PLAN.runs``) and why a set of runs cannot identify its parameters.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pandas as pd

from eoesim.analysis.study_tables import Runs, StudyTable, run_params
from eoesim.analysis.surrogate import import_surrogate_modules
from eoesim.errors import ConfigError, SimulatorUnavailableError
from eoesim.simulators.base import registry as simulators

SIMULATED = "simulate"


def require_real(simulator: str, table: pd.DataFrame, where: str = "table") -> None:
    """Refuse a table that is not entirely real simulator runs (a pack is never fitted on a surrogate)."""
    if "fidelity" not in table.columns:
        raise ConfigError(f"calibrate {simulator}: {where} has no 'fidelity' column; allowed: a study table "
                          "of real runs (results/<study>/tables/<simulator>.csv)")
    fidelity = table["fidelity"].astype(str)
    not_real = fidelity[fidelity != SIMULATED]
    if len(table) == 0 or len(not_real):
        what = (f"{len(not_real)} of {len(table)} rows have fidelity {sorted(set(not_real))}" if len(table)
                else "it has no rows")
        raise SimulatorUnavailableError(not_real_message(simulator, f"{where} is not made of real runs ({what})"))


def not_real_message(simulator: str, what: str) -> str:
    """Why a pack of ``simulator`` cannot be regenerated, and how to provide the real simulator."""
    return (f"calibrate {simulator}: {what}; a pack is regenerated only from real {simulator} runs: "
            f"{simulators()[simulator].how_to_provide}, and set fidelity.{simulator}: simulate in the calibrate study")


@dataclass(frozen=True)
class TableMapping:
    """A pack's simulator and how its study table becomes the pack's dataset."""

    simulator: str
    table: StudyTable


def mappings() -> dict[str, TableMapping]:
    """pack -> its simulator and study table, for every declared pack whose surrogate has a ``study_table``."""
    forms = import_surrogate_modules()
    return {spec.pack: TableMapping(name, forms[spec.pack].study_table)
            for name, adapter in simulators().items() for spec in adapter.surrogates
            if forms[spec.pack].study_table is not None}


MAPPINGS = mappings()


def mapping_of(pack: str) -> TableMapping:
    if pack not in MAPPINGS:
        raise ConfigError(f"calibrate: {pack!r} is not a known pack; allowed: {sorted(MAPPINGS)}")
    return MAPPINGS[pack]


def packs_of(simulator: str) -> list[str]:
    """The packs a real table of ``simulator`` can regenerate."""
    return [pack for pack, m in MAPPINGS.items() if m.simulator == simulator]


def unmet(pack: str, runs: Runs) -> list[str]:
    """Why the planned runs of ``pack``'s simulator cannot regenerate it ("run <id>: ..."); empty if they can."""
    mapping = mapping_of(pack)
    if not runs:
        return [f"the study plans no {mapping.simulator} run"]
    return [f"run {rid}: {reason}" for rid, point in runs.items() for reason in mapping.table.unmet(point)]


def unidentified(pack: str, runs: Runs) -> list[str]:
    """Why the planned runs together cannot pin down ``pack``'s parameters; empty if they can."""
    return mapping_of(pack).table.unidentified(runs)


def regenerable_packs(simulated_runs: Mapping[str, Runs]) -> list[str]:
    """Packs whose simulator runs for real (simulator -> its planned runs) with runs that all map."""
    return [pack for sim, runs in simulated_runs.items() for pack in packs_of(sim)
            if not unmet(pack, runs) and not unidentified(pack, runs)]


def dataset_frame(pack: str, table: pd.DataFrame, runs: Runs, where: str = "table") -> pd.DataFrame:
    """The calibration-dataset frame of ``pack`` from a real study table (see the module docstring)."""
    mapping = mapping_of(pack)
    require_real(mapping.simulator, table, where)
    reasons = unmet(pack, {rid: run_params(runs, rid, mapping.simulator) for rid in pd.unique(table["run_id"])})
    if reasons:
        raise ConfigError(f"calibrate {pack}: {reasons[0]} - the {pack} pack's dataset held this fixed, so its "
                          f"form has no input for it ({len(reasons)} such setting(s) in {where})")
    frame = mapping.table.to_dataset(table, runs)
    if frame.empty:
        raise ConfigError(f"calibrate {pack}: {where} has no rows the {pack} pack is fitted on; allowed: a "
                          f"{mapping.simulator} table with such rows (see eoesim.analysis.study_calibration)")
    return frame


def write_dataset(pack: str, table_path: Path, runs: Runs, out: Path) -> Path:
    """Write ``pack``'s calibration-dataset CSV from the real study table at ``table_path``."""
    frame = dataset_frame(pack, pd.read_csv(table_path, dtype={"run_id": str}), runs, where=str(table_path))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    return out
