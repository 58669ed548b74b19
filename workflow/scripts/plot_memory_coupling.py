"""Rule plot_memory_coupling: compute-only vs memory-coupled cycles per chiplet configuration."""
import logging
from pathlib import Path

from _logging import to_log

from eoesim.figures import memory_coupling
from eoesim.jobs import read_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
logging.captureWarnings(True)
memory_coupling.plot(read_table(sm.input.table), Path(sm.output.pdf))
