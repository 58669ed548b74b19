"""Rule lower_point: results/<study>/workloads/<point>/ - the design point's workload for every simulator."""
import json
import logging
from pathlib import Path

from _logging import to_log

from eoesim.stitch.workload_files import lower_design_point

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
logging.captureWarnings(True)
manifest = lower_design_point(json.loads(sm.params.point), json.loads(sm.params.runs),
                              Path(sm.output.manifest).parent, base_dir=Path.cwd())
logging.info("point %s: %d GEMMs, %d Ramulator lines (1 in %d), %d MQSim requests", sm.wildcards.point,
             manifest["scalesim_topology"]["gemms"], manifest["ramulator_trace"]["lines"],
             manifest["ramulator_trace"]["sample_every"], manifest["mqsim_trace"]["requests"])
