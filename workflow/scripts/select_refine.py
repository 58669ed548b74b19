"""Checkpoint select_refine: results/<study>/dse/refine.json (the points and runs of the refine step)."""
import json
import logging
from pathlib import Path

from _logging import to_log

from eoesim.dse.objectives import point_areas
from eoesim.dse.refine import objective_frame, select_refine
from eoesim.jobs import read_table, write_text_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
point_runs = json.loads(sm.params.point_runs)
summaries = {Path(p).parent.name: json.loads(Path(p).read_text()) for p in sm.input.summaries}
area_table = read_table(sm.input.area[0]) if sm.input.area else None
areas = point_areas(area_table, {p: runs["rapidchiplet"] for p, runs in point_runs.items() if "rapidchiplet" in runs})
frame = objective_frame(summaries, areas, json.loads(sm.params.labels))
selection = select_refine(frame, list(sm.params.objectives), int(sm.params.top_k), json.loads(sm.params.choices),
                          point_runs, areas)
write_text_atomic(Path(sm.output[0]), json.dumps(selection, indent=1, sort_keys=True) + "\n")
logging.info("objectives %s%s; refining %d point(s): %s", selection["objectives"],
             f" ({selection['note']})" if selection["note"] else "", len(selection["points"]), selection["points"])
