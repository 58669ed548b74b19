"""Rule plot_pareto: results/<study>/figures/pareto.{pdf,png,csv} from dse/pareto.csv."""
from pathlib import Path

from _logging import to_log

from eoesim.dse.plot import pareto_figure
from eoesim.jobs import read_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
pareto_figure(read_table(sm.input[0]), Path(sm.output.pdf).with_suffix(""))
