"""Rule plot_memory_load: figure 4, Ramulator 2 bandwidth and latency vs offered load (real runs + surrogate)."""
import pandas as pd
from _logging import to_log

from eoesim.analysis.surrogate import load
from eoesim.figures import memory_load
from eoesim.jobs import read_table

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
table = read_table(sm.input.table) if sm.input.get("table") else None
points = memory_load.measured_points(table, pd.read_csv(sm.input.calibration))
curves = memory_load.surrogate_curves(load(sm.input.pack), points)
memory_load.plot(memory_load.figure_data(points, curves), sm.params.stem)
