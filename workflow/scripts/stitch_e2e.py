"""Rule stitch_e2e: results/<study>/e2e/<point>/summary.json and timeline.json."""
import json
import logging
from pathlib import Path

from _logging import to_log

from eoesim.stitch.point_job import stitch_design_point

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
logging.captureWarnings(True)
result = stitch_design_point(json.loads(sm.params.point), json.loads(sm.params.runs),
                             Path(sm.output.summary).parent, base_dir=Path.cwd())
logging.info("point %s: %d requests stitched", sm.wildcards.point, result.summary["requests"])
