"""Rule predict_surrogate: results/<study>/tables/<simulator>.csv from the calibrated surrogate."""
import json
import logging

from _logging import to_log

from eoesim.jobs import write_csv_atomic
from eoesim.simulators.base import get_simulator
from eoesim.surrogates import predict_runs

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
logging.captureWarnings(True)
table = predict_runs(get_simulator(sm.wildcards.simulator), json.loads(sm.params.runs), strict=sm.params.strict)
write_csv_atomic(table, sm.output[0])
logging.info("%s: %d surrogate rows, %d outside the validated domain", sm.wildcards.simulator, len(table),
             int((~table["in_domain"].astype(bool)).sum()))
