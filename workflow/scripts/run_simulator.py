"""Rule run_simulator: one simulator run of one design point."""
import json
import logging

from _logging import to_log

from eoesim.jobs import run_simulation

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
site = {**json.loads(sm.params.site), "timeout_s": sm.resources.timeout_s}
rows = run_simulation(
    sm.wildcards.simulator, json.loads(sm.params.point), site,
    sm.wildcards.run_id, sm.params.run_dir, sm.params.logs_dir, sm.params.cache_dir or None,
)
logging.info("%s run %s: %d rows", sm.wildcards.simulator, sm.wildcards.run_id, len(rows))
