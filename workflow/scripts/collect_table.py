"""Rule collect_table: results/<study>/tables/<simulator>.csv from every run's result.csv."""
from _logging import to_log

from eoesim.jobs import collect_table

to_log(snakemake.log[0])  # noqa: F821 (injected by Snakemake)
collect_table(snakemake.input, snakemake.output[0])  # noqa: F821
