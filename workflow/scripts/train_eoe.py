"""Rule train_eoe: results/<study>/training/<point>/ (summary.json, experts.csv, gemms.csv, timeline.json,
checkpoint_trace.txt)."""
import json
import logging
from pathlib import Path

from _logging import to_log

from eoesim.training.point_job import train_design_point

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
logging.captureWarnings(True)
run = train_design_point(json.loads(sm.params.point), json.loads(sm.params.runs), Path(sm.output.summary).parent)
logging.info("point %s: %d experts trained in %.6g s", sm.wildcards.point, len(run.experts), run.time_s)
