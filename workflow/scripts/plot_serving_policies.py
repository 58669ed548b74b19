"""Rule plot_serving_policies: one design point served per scheduling policy over a range of request rates."""
import json
import logging
from pathlib import Path

from _logging import to_log

from eoesim.figures.serving_policies import plot_serving_policies, policy_curves

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
logging.captureWarnings(True)
frame = policy_curves(json.loads(sm.params.inputs), json.loads(Path(sm.input.summary).read_text()),
                      json.loads(sm.params.settings), base_dir=Path.cwd())
plot_serving_policies(frame, Path(sm.output.pdf).with_suffix(""))
logging.info("serving_policies: %d rows", len(frame))
