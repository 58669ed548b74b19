"""Rule plot_surrogate_errors: table of every pack's cross-validated and group-held-out errors per metric."""
from _logging import to_log

from eoesim.analysis.accuracy import error_table
from eoesim.analysis.surrogate import load
from eoesim.figures.parity_figures import plot_error_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
models = {label: load(path) for label, path in zip(sm.params.labels, sm.input.models)}
plot_error_table(error_table(models), sm.params.stem)
