"""Rule plot_expert_load_cdf: the latency CDF of expert loads from the SSD, per SSD configuration."""
import json
import logging
from pathlib import Path

from _logging import to_log

from eoesim.figures import expert_load_cdf
from eoesim.stitch.variants import Restitcher

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
logging.captureWarnings(True)
job = json.loads(sm.params.job)
settings = expert_load_cdf.ExpertLoad(**job["settings"])
restitchers = {pid: Restitcher(inputs, base_dir=Path.cwd()) for pid, inputs in job["points"].items()}
frame = expert_load_cdf.collect(job["configurations"], restitchers, settings)
expert_load_cdf.plot(frame, Path(sm.output.pdf))
logging.info("%d SSD loads of %d points", len(frame), len(restitchers))
