"""Rule plot_latency_vs_rate: TTFT, TPOT and p99 e2e latency vs request rate, one line per design point."""
import pandas as pd
from _logging import to_log

from eoesim.figures.latency_vs_rate import curve_frame, plot_latency_vs_rate
from eoesim.figures.point_labels import point_labels, point_styles
from eoesim.figures.style import PALETTE

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
points = pd.read_csv(sm.input.points, dtype={"point_id": str})
labels = point_labels(points, sm.wildcards.study)
curves = [pd.read_csv(path, dtype={"point": str}) for path in sm.input.curves]
plot_latency_vs_rate(curve_frame(curves, labels), point_styles(points, len(PALETTE)), sm.output.pdf)
