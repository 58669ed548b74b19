"""Run and point ids stay text when the harness reads its tables back.

An id is the first 12 hex digits of a sha256; about 1 in 125 consist of decimal digits with at most one ``e``,
which pandas reads as a number ("012345678901" -> 12345678901, "1e2345678901" -> inf). A garnet campaign met
run 372483538134: the run's rows were read as an integer id and no longer matched the run.
"""
from __future__ import annotations

import pandas as pd

from eoesim.jobs import collect_table, read_table
from eoesim.stitch.point_job import point_tables

IDS = ("372483538134", "012345678901", "1e2345678901", "0a1b2c3d4e5f")


def _result(path, run_id: str):
    path.parent.mkdir(parents=True)
    pd.DataFrame({"run_id": [run_id, run_id], "metric": ["cycles", "energy"], "value": [1.0, 2.0]}).to_csv(
        path, index=False)
    return path


def test_collected_table_keeps_every_run_id_as_written(tmp_path):
    results = [_result(tmp_path / "runs" / rid / "result.csv", rid) for rid in IDS]
    assert list(read_table(results[0])["run_id"]) == [IDS[0]] * 2
    table = collect_table(results, tmp_path / "table.csv")
    assert list(dict.fromkeys(table["run_id"])) == list(IDS)
    assert list(dict.fromkeys(read_table(tmp_path / "table.csv")["run_id"])) == list(IDS)


def test_a_point_finds_its_rows_whatever_its_run_id_looks_like(tmp_path):
    for rid in IDS:
        # a study whose table holds this one run: every id in the column looks like a number
        table = collect_table([_result(tmp_path / rid / "result.csv", rid)], tmp_path / rid / "table.csv")
        rows = point_tables({"scalesim": {"run_id": rid, "table": tmp_path / rid / "table.csv"}})["scalesim"]
        assert len(rows) == len(table) == 2
