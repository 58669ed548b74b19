"""Rule collect_memory_coupling: the per-configuration coupling tables -> one table + dataflow winners."""
import logging

import pandas as pd
from _logging import to_log

from eoesim.jobs import read_table
from eoesim.stitch.coupling import dataflow_winners

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
logging.captureWarnings(True)
table = pd.concat([read_table(p) for p in sm.input], ignore_index=True)
table.to_csv(sm.output.table, index=False)
winners = dataflow_winners(table)
winners.to_csv(sm.output.winners, index=False)
for w in winners.itertuples(index=False):
    logging.info("%s: compute-only winner %s, memory-coupled winner %s%s", w.scope, w.winner_compute_only,
                 w.winner_memory_coupled, " (flipped)" if w.coupling_flips_winner else "")
