"""Rule summarize_training: results/<study>/training/summary.csv, one row per (design point, expert)."""
from pathlib import Path

import pandas as pd
from _logging import to_log

from eoesim.jobs import write_csv_atomic
from eoesim.training.collect import training_summary

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
frame = training_summary([Path(p).parent for p in sm.input.summaries], pd.read_csv(sm.input.points))
write_csv_atomic(frame, sm.output[0])
