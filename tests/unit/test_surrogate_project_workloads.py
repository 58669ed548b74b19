"""Real runs of the project's own studies (tests/golden/surrogates/, see its PROVENANCE.md) against the packs.

Each fixture row is one run a shipped study plans (study file + run id) with the real simulator's values.
The point is rebuilt from the study, mapped by the adapter's ``surrogate_query`` and predicted by the shipped
pack: inside the pack's domain the error must be within the pack's stated error (its largest held-out error
in the domain); outside it the row must say so. At least one run per pack must be inside the domain.
"""
from __future__ import annotations

import warnings
from functools import lru_cache

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
    "ramulator": ("ramulator", "system_avg_read_latency_ns", "avg_read_latency_ns", ()),
    "rapidchiplet": ("rapidchiplet", "latency_avg_cycles", "latency_avg_cycles", ()),
    "rapidchiplet_booksim": ("rapidchiplet", "packet_latency_avg_cycles", "packet_latency_avg_cycles",
                             ("injection_rate_flits_per_node_per_cycle",)),
}


@lru_cache(maxsize=None)
def _runs(simulator: str, study: str) -> dict:
    return study_runs(simulator, project_root() / study)


@lru_cache(maxsize=None)
def _predicted(pack: str) -> pd.DataFrame:
    """The fixture rows of ``pack`` with the pack's prediction (``predicted``) and ``in_domain``."""
    simulator, column, output, keys = CASES[pack]
    rows = pd.read_csv(FIXTURES / f"{pack}_project_workloads.csv")
    queries = []
    for _, row in rows.iterrows():
        query = get_simulator(simulator).surrogate_query(_runs(simulator, row["study"])[row["run_id"]])
        for key in keys:
            query = query[query[key] == row[key]] if key in query else query.assign(**{key: row[key]})
        assert len(query) == 1, (pack, row["run_id"])
        queries.append(query)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        pred = load_pack(pack).predict(pd.concat(queries, ignore_index=True))
    return rows.assign(predicted=pred[output].to_numpy(), in_domain=pred["in_domain"].to_numpy(),
                       error_pct=100 * (pred[output].to_numpy() / rows[column].to_numpy() - 1))


@pytest.mark.parametrize("pack", list(CASES))
def test_project_workloads_are_predicted_within_the_stated_error_or_out_of_domain(pack):
    rows = _predicted(pack)
    inside = rows[rows["in_domain"]]
    assert len(inside), f"{pack}: none of the project's {len(rows)} runs is inside the domain"
    stated = load_pack(pack).validation["stated"][CASES[pack][2]]
    worst = inside.loc[inside["error_pct"].abs().idxmax()]
    assert abs(worst["error_pct"]) <= stated["max_ape_pct"], worst.to_dict()
    # and on average within the pack's cross-validated error (with room for a handful of runs)
    assert inside["error_pct"].abs().mean() <= 2 * stated["mape_pct"] + 0.5, inside[["run_id", "error_pct"]]
