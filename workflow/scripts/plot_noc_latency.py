"""Rule plot_noc_latency: figure 3, gem5 Garnet latency vs injection rate (real runs + surrogate)."""
import pandas as pd
from _logging import to_log

from eoesim.analysis.surrogate import load
from eoesim.figures import noc_latency
from eoesim.jobs import read_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
table = read_table(sm.input.table) if sm.input.get("table") else None
points = noc_latency.measured_points(table, pd.read_csv(sm.input.calibration))
curves = noc_latency.surrogate_curves(load(sm.input.pack), points)
noc_latency.plot(noc_latency.figure_data(points, curves), sm.params.stem)
