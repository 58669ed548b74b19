"""Rule load_curve: results/<study>/e2e/<point>/load_curve.csv (the point re-stitched at other request rates)."""
import json
import logging
from pathlib import Path

from _logging import to_log

from eoesim.jobs import write_csv_atomic
from eoesim.stitch.load_curve import load_curve

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
logging.captureWarnings(True)
curve = load_curve(sm.wildcards.point, json.loads(sm.params.point), json.loads(sm.params.runs),
                   json.loads(Path(sm.input.summary).read_text()), json.loads(sm.params.load_curve),
                   base_dir=Path.cwd())
write_csv_atomic(curve, sm.output[0])
logging.info("point %s: %d rates, %s requests each", sm.wildcards.point, len(curve), curve["requests"].iloc[0])
