"""What every registered simulator adapter must provide, as reusable checks (tests/unit/test_simulator_contract.py
runs them over the registry, tests/unit/test_toy_simulator.py over a toy simulator outside the package).

Each simulator's example run is described by ``contract.yaml`` in its golden folder: the study whose first design
point is rendered (``study``), the adapter's site settings (``site``), which real native outputs of that folder go
where in the rendered run directory (``outputs``; a ``.gz`` is unpacked) so that the adapter's ``check`` and
``parse`` read them, and, where the example point is outside what the surrogate covers, the study of the point
its surrogate is queried with (``surrogate_study``).
"""
from __future__ import annotations

import gzip
import importlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from eoesim.analysis.packs import pack_path
from eoesim.analysis.surrogate import SURROGATES, load
from eoesim.config import build_study
from eoesim.simulators.base import Simulator, SurrogatePack, SweptAxis, missing_facts
from eoesim.trust.suite import registry as sanity_checks
from eoesim.trust.suite import run_checks

CONTRACT_FILE = "contract.yaml"


@dataclass
class ExampleRun:
    """An adapter's example point rendered into ``rundir`` with its golden outputs, and the parsed table."""

    sim: Simulator
    point: dict
    rendered: list[Path]
    rundir: Path
    table: pd.DataFrame
    #: the point the surrogate is queried with
    surrogate_point: dict


def contract_spec(golden_dir: Path) -> dict:
    path = Path(golden_dir) / CONTRACT_FILE
    assert path.is_file(), f"{path} is missing: say which golden outputs make the example run"
    return yaml.safe_load(path.read_text()) or {}


def example_run(cls: type[Simulator], golden_dir: Path, rundir: Path) -> ExampleRun:
    """Render the example point into ``rundir``, place the golden outputs, check, parse and annotate them."""
    spec = contract_spec(golden_dir)
    sim = cls(spec.get("site") or {})
    point = first_point(sim, spec.get("study"))
    rundir.mkdir(parents=True, exist_ok=True)
    rendered = sim.render(point, rundir)
    for source, dest in (spec.get("outputs") or {}).items():
        target = rundir / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.endswith(".gz"):
            with gzip.open(Path(golden_dir) / source, "rb") as fin, open(target, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        else:
            shutil.copy(Path(golden_dir) / source, target)
    sim.check(rundir, 0)
    table = sim.annotate(sim.parse(rundir), point)
    surrogate_point = first_point(sim, spec["surrogate_study"]) if "surrogate_study" in spec else point
    return ExampleRun(sim, point, rendered, rundir, table, surrogate_point)


def first_point(sim: Simulator, study: dict | None) -> dict:
    return sim.point_params(build_study({"study": "contract", **(study or {})}).points[0].params)


def assert_declares_every_fact(cls: type[Simulator]) -> None:
    missing = missing_facts(cls)
    assert not missing, f"{cls.name}: the adapter does not declare {missing} (see eoesim.simulators.base.FACTS)"
    assert cls.schema_path().is_file(), f"{cls.name}: schema file {cls.schema_path()} does not exist"
    defs = yaml.safe_load(cls.schema_path().read_text()).get("$defs", {})
    assert {"workload", "site"} <= set(defs), f"{cls.name}: {cls.schema_path()} lacks $defs workload and site"
    assert cls.how_to_provide.strip(), f"{cls.name}: how_to_provide is empty"


def assert_renders(run: ExampleRun) -> None:
    name = run.sim.name
    assert run.sim.templates().is_dir() and any(run.sim.templates().iterdir()), \
        f"{name}: template folder {run.sim.templates()} is missing or empty"
    assert run.rendered, f"{name}: render() wrote no input file"
    for path in run.rendered:
        assert Path(path).is_file() and Path(path).resolve().is_relative_to(run.rundir.resolve()), \
            f"{name}: rendered {path} is not a file inside the run directory"


def assert_parses(run: ExampleRun) -> None:
    name, table, cls = run.sim.name, run.table, type(run.sim)
    assert len(table), f"{name}: parse() of the golden outputs gave no row"
    missing_keys = [k for k in cls.row_keys if k not in table]
    assert cls.row_keys and not missing_keys, f"{name}: row_keys {list(cls.row_keys)} not all in the table"
    missing = [m for m in cls.required_metrics if m not in table]
    assert cls.required_metrics and not missing, f"{name}: required_metrics {missing} are not in the parsed table"
    rows = table
    if cls.required_rows:
        column, value = cls.required_rows
        rows = table[table[column].astype(str) == value]
    values = rows[list(cls.required_metrics)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    assert len(rows) and np.isfinite(values).all(), f"{name}: required metrics are not finite numbers in the golden run"


def assert_sanity_checks(run: ExampleRun) -> None:
    cls, checks = type(run.sim), sanity_checks()
    unknown = [c for c in cls.check_names() if c not in checks]
    assert not unknown, f"{cls.name}: declares sanity check(s) {unknown} that are not registered in eoesim.trust"
    for axis in cls.swept_axes:
        assert isinstance(axis, SweptAxis) and axis.axis and axis.metrics, f"{cls.name}: bad swept axis {axis}"
        absent = [m for m in axis.metrics if m not in run.table]
        assert not absent, f"{cls.name}: swept-axis metrics {absent} are not columns of the parsed table"
    results = run_checks({cls.name: run.table.assign(run_id="r", fidelity="simulate")})
    ran = set(results["check"])
    expected = {c.name for c in checks.values() if c.applies_to(cls)}
    assert ran == expected and {"negative_value", "non_finite_value", "rendered_input_overwritten"} <= ran, \
        f"{cls.name}: sanity checks that ran {sorted(ran)}"
    failed = results[results["status"] == "fail"]
    assert failed.empty, f"{cls.name}: the golden run fails {failed[['check', 'message']].values.tolist()}"


def assert_surrogate(run: ExampleRun, packs_dir: Path | None = None) -> None:
    """Each declared pack: its module registers the pack's form, its pack file loads, and the adapter's
    surrogate_query of the example point has the form's inputs and maps every predicted table column."""
    cls = type(run.sim)
    if not cls.surrogates:
        assert cls.no_surrogate_reason.strip(), f"{cls.name}: no surrogate and no reason why"
        return
    for spec in cls.surrogates:
        assert isinstance(spec, SurrogatePack), f"{cls.name}: surrogates holds {spec!r}"
        module = importlib.import_module(spec.module)
        assert callable(getattr(module, spec.training_frame, None)), \
            f"{cls.name}: {spec.module} has no training-frame function {spec.training_frame}"
        assert spec.pack in SURROGATES, f"{cls.name}: {spec.module} registers no surrogate for pack {spec.pack!r}"
        assert SURROGATES[spec.pack].simulator == cls.name
        model = load(pack_path(spec.pack, packs_dir))
        assert model.pack == spec.pack
    query = run.sim.surrogate_query(run.surrogate_point)
    form = SURROGATES[cls.surrogates[0].pack]
    absent = [c for c in form.inputs if c not in query]
    assert not absent, f"{cls.name}: surrogate_query lacks the default pack's inputs {absent}"
    unmapped = [c for c in cls.surrogate_columns.values() if c not in run.table]
    assert not unmapped, f"{cls.name}: surrogate_columns map to {unmapped}, which the simulated table lacks"
