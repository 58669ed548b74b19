"""Real runs of the project's own studies (tests/golden/surrogates/, see its PROVENANCE.md) against the packs.

Each fixture row is one run a shipped study plans (study file + run id) with the real simulator's values.
The point is rebuilt from the study, mapped by the adapter's ``surrogate_query`` and predicted by the shipped
pack: inside the pack's domain the error must be within the pack's stated error (its largest held-out error
in the domain); outside it the row must say so. At least one run per pack must be inside the domain.
"""
from __future__ import annotations

import warnings

import pandas as pd
import pytest

from eoesim.analysis.packs import load_pack
from eoesim.analysis.project_workloads import study_runs
from eoesim.analysis.surrogate import OutOfDomainWarning
from eoesim.paths import project_root
from eoesim.simulators.base import get_simulator

FIXTURES = project_root() / "tests" / "golden" / "surrogates"

#: pack -> (simulator, fixture column, pack output, the fixture columns that pick the query row (or are added to it))
CASES = {
    "mqsim": ("mqsim", "device_response_time_mean_us", "response_time_us", ("flow_index",)),
    "rapidchiplet": ("rapidchiplet", "latency_avg_cycles", "latency_avg_cycles", ()),
    "rapidchiplet_booksim": ("rapidchiplet", "packet_latency_avg_cycles", "packet_latency_avg_cycles",
                             ("injection_rate_flits_per_node_per_cycle",)),
}


def _rows(pack: str) -> list[tuple[str, pd.Series]]:
    return [(pack, row) for _, row in pd.read_csv(FIXTURES / f"{pack}_project_workloads.csv").iterrows()]


def _predict(pack: str, row: pd.Series) -> pd.Series:
    simulator, _, _, keys = CASES[pack]
    point = study_runs(simulator, project_root() / row["study"])[row["run_id"]]
    query = get_simulator(simulator).surrogate_query(point)
    for key in keys:
        query = query[query[key] == row[key]] if key in query else query.assign(**{key: row[key]})
    assert len(query) == 1, (pack, row["run_id"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        return load_pack(pack).predict(query).iloc[0]


@pytest.mark.parametrize("pack, row", [case for pack in CASES for case in _rows(pack)],
                         ids=lambda v: v if isinstance(v, str) else f"{v['study']}:{v['run_id']}")
def test_project_workload_is_predicted_within_the_stated_error_or_out_of_domain(pack, row):
    _, column, output, _ = CASES[pack]
    predicted = _predict(pack, row)
    if not predicted["in_domain"]:
        return
    stated = load_pack(pack).validation["stated"][output]["max_ape_pct"]
    error = 100 * abs(predicted[output] / row[column] - 1)
    assert error <= stated, (row["study"], row["run_id"], predicted[output], row[column], stated)


@pytest.mark.parametrize("pack", list(CASES))
def test_some_project_workloads_are_inside_the_domain(pack):
    assert any(_predict(pack, row)["in_domain"] for _, row in _rows(pack))
