"""Rule write_pareto: results/<study>/dse/pareto.csv (each point at the sweep's and the refined fidelity)."""
import json
import logging
from pathlib import Path

from _logging import to_log

from eoesim.dse.objectives import point_areas
from eoesim.dse.refine import objective_frame, pareto_table
from eoesim.jobs import read_table, write_csv_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
selection = json.loads(Path(sm.input.selection).read_text())
point_runs = json.loads(sm.params.point_runs)
labels = json.loads(sm.params.labels)
rc_runs = {p: runs["rapidchiplet"] for p, runs in point_runs.items() if "rapidchiplet" in runs}


def areas_of(paths):
    return point_areas(read_table(paths[0]), rc_runs) if paths else {}


def read(paths):
    return {Path(p).parent.name: json.loads(Path(p).read_text()) for p in paths}


sweep = objective_frame(read(sm.input.summaries), areas_of(sm.input.area), labels)
refined = objective_frame(read(sm.input.refined), areas_of(sm.input.refined_area), labels)
table = pareto_table(sweep, refined, selection)
write_csv_atomic(table, Path(sm.output[0]))
logging.info("%d points, %d on the Pareto front, %d refined", len(table), int(table["pareto"].sum()),
             int(table["refined"].sum()))
