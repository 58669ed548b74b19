"""Rule fit_surrogate: fit the simulator's surrogate form on this study's real runs (with CV errors)."""
from pathlib import Path

from _logging import to_log

from eoesim.analysis.calibrate import fit_pack
from eoesim.jobs import read_table

to_log(snakemake.log[0])  # noqa: F821 (injected by Snakemake)
table = Path(snakemake.input[0])  # noqa: F821
fit_pack(snakemake.wildcards.simulator, read_table(table), table).save(Path(snakemake.output[0]))  # noqa: F821
