"""Rule plot_training_colocation: results/<study>/figures/training_colocation.{pdf,png,csv}."""
import logging
from pathlib import Path

from _logging import to_log

from eoesim.figures.training_colocation import colocation_frame, plot_training_colocation
from eoesim.jobs import read_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
frame = colocation_frame(read_table(sm.input[0]))
plot_training_colocation(frame, Path(sm.output.pdf).with_suffix(""))
logging.info("training_colocation: %d points", len(frame))
