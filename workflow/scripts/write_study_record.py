"""Rule write_study_record: the study config with every default filled in, and each simulator's fidelity."""
import json

import pandas as pd
import yaml
from _logging import to_log

from eoesim.jobs import write_csv_atomic, write_text_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
write_text_atomic(sm.output.config, yaml.safe_dump(json.loads(sm.params.config), sort_keys=False))
choices = pd.DataFrame(json.loads(sm.params.fidelity))[["simulator", "requested", "chosen", "reason"]]
write_csv_atomic(choices.sort_values("simulator"), sm.output.fidelity)
