"""Rule plot_failure_throughput: results/<study>/figures/failure_throughput.{pdf,png,csv}."""
import json
import logging
from pathlib import Path

from _logging import to_log

from eoesim.figures.failure_throughput import failure_throughput_frame, plot_failure_throughput
from eoesim.jobs import read_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
summaries = {Path(p).parent.name: json.loads(Path(p).read_text()) for p in sm.input.summaries}
frame = failure_throughput_frame(summaries, read_table(sm.input.points))
plot_failure_throughput(frame, Path(sm.output.pdf).with_suffix(""))
logging.info("failure_throughput: %d points, %d rows", frame["point"].nunique(), len(frame))
