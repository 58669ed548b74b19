"""Rule plot_cache_sensitivity: hit rate and latency vs Zipf skew per cache policy, for one design point."""
import json
import logging
from pathlib import Path

from _logging import to_log

from eoesim.figures import cache_sensitivity
from eoesim.stitch.variants import Restitcher

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
logging.captureWarnings(True)
job = json.loads(sm.params.job)
settings = cache_sensitivity.CacheSensitivity.from_dict(job["settings"])
frame = cache_sensitivity.sweep(Restitcher(job["point"], base_dir=Path.cwd()), settings)
cache_sensitivity.plot(frame, Path(sm.output.pdf), settings)
logging.info("point %s: %d re-stitches", settings.point, len(frame))
