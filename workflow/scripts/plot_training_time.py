"""Rule plot_training_time: results/<study>/figures/training_time.{pdf,png,csv}."""
import logging
from pathlib import Path

from _logging import to_log

from eoesim.figures.training_time import plot_training_time, training_time_frame
from eoesim.jobs import read_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
frame = training_time_frame(read_table(sm.input[0]))
plot_training_time(frame, Path(sm.output.pdf).with_suffix(""))
logging.info("training_time: %d rows", len(frame))
