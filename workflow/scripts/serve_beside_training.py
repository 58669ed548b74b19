"""Rule serve_beside_training: results/<study>/training/<point>/serving.json."""
import json
import logging
from pathlib import Path

from _logging import to_log

from eoesim.training.serving_side import serve_design_point

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
logging.captureWarnings(True)
record = serve_design_point(json.loads(sm.params.point), json.loads(sm.params.runs), Path(sm.input.training),
                            Path(sm.output[0]))
logging.info("point %s: %d requests served beside training", sm.wildcards.point, record["requests"])
