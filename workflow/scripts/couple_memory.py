"""Rule couple_memory: one chiplet configuration's SCALE-Sim DRAM traces -> Ramulator traces -> stall cycles."""
import json
import logging
from pathlib import Path

from _logging import to_log

from eoesim.stitch.coupling_run import couple_config

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
logging.captureWarnings(True)
site = json.loads(sm.params.site)
table = couple_config(json.loads(sm.params.point), json.loads(sm.params.memory), float(sm.params.bytes_per_word),
                      Path(sm.output.table).parent, site["scalesim"], site["ramulator"],
                      bool(sm.params.simulate_memory))
logging.info("%d GEMMs coupled; %d stall cycles in total", len(table), int(table["stall_cycles"].sum()))
