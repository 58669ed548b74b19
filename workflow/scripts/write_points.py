"""Rule write_points: results/<study>/points.csv (one row per design point)."""
import json

import pandas as pd
from _logging import to_log

from eoesim.jobs import write_csv_atomic

to_log(snakemake.log[0])  # noqa: F821 (injected by Snakemake)
write_csv_atomic(pd.DataFrame(json.loads(snakemake.params.points)), snakemake.output[0])  # noqa: F821
