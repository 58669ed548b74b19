"""Rule plot_parity: held-out (5-fold CV) surrogate prediction vs the real runs, per primary metric of a pack."""
from _logging import to_log

from eoesim.analysis.parity import heldout_predictions
from eoesim.analysis.surrogate import load
from eoesim.figures.parity_figures import plot_parity
from eoesim.jobs import read_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
pack = sm.wildcards.pack
data = heldout_predictions(pack, load(sm.input.model), read_table(sm.input.data), sm.params.data_source)
plot_parity(data, sm.params.stem)
