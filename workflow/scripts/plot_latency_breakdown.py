"""Rule plot_latency_breakdown: stacked bars of the mean e2e latency by category, per design point."""
import pandas as pd
from _logging import to_log

from eoesim.figures.latency_breakdown import breakdown_frame, plot_latency_breakdown
from eoesim.figures.point_labels import point_labels

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
labels = point_labels(pd.read_csv(sm.input.points, dtype={"point_id": str}), sm.wildcards.study)
summary = pd.read_csv(sm.input.summary, dtype={"point": str})
plot_latency_breakdown(breakdown_frame(summary, labels), sm.output.pdf)
