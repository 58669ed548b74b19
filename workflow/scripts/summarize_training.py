"""Rule summarize_training: results/<study>/training/summary.csv, one row per (design point, expert)."""
from pathlib import Path

from _logging import to_log

from eoesim.jobs import read_table, write_csv_atomic
from eoesim.training.collect import training_summary

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
frame = training_summary([Path(p).parent for p in sm.input.summaries], read_table(sm.input.points))
write_csv_atomic(frame, sm.output[0])
