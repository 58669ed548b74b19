"""Rule plot_timeline: an excerpt of one design point's schedule, one lane per resource."""
import json
import logging

import pandas as pd
from _logging import to_log

from eoesim.figures.point_labels import point_labels
from eoesim.figures.timeline_excerpt import (
                                             busiest_window,
                                             excerpt,
                                             lanes,
                                             load_trace,
                                             plot_timeline,
                                             trace_events,
                                             trace_lanes,
)

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
cfg = json.loads(sm.params.timeline)
labels = point_labels(pd.read_csv(sm.input.points, dtype={"point_id": str}), sm.wildcards.study)
trace = load_trace(sm.input.trace)
events = trace_events(trace)
window = cfg["window_s"] or busiest_window(events, cfg["max_ops"])
logging.info("point %s: window %s s", cfg["point"], window)
rows = excerpt(events, window)
plot_timeline(rows, lanes(trace_lanes(trace), rows), window, sm.output.pdf, labels[cfg["point"]])
