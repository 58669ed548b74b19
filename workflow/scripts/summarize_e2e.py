"""Rule summarize_e2e: results/<study>/e2e/summary.csv, one row per design point."""
import json
from pathlib import Path

import pandas as pd
from _logging import to_log

from eoesim.jobs import write_csv_atomic
from eoesim.serving.columns import summary_row

to_log(snakemake.log[0])  # noqa: F821 (injected by Snakemake)
rows = [summary_row(Path(path).parent.name, json.loads(Path(path).read_text()))
        for path in snakemake.input]  # noqa: F821
write_csv_atomic(pd.DataFrame(rows), snakemake.output[0])  # noqa: F821
