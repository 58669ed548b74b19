"""Rule calibrate_pack: a pack's calibration dataset from the study's real table, then the pack fitted on it."""
import json
from pathlib import Path

from _logging import to_log

from eoesim.analysis.calibrate import write_pack
from eoesim.analysis.study_calibration import write_dataset

to_log(snakemake.log[0])  # noqa: F821 (injected by Snakemake)
pack = snakemake.wildcards.pack  # noqa: F821
table = Path(snakemake.input.table)  # noqa: F821
dataset = write_dataset(pack, table, json.loads(snakemake.params.runs), Path(snakemake.output.dataset))  # noqa: F821
write_pack(pack, dataset, Path(snakemake.output.pack), notes=[  # noqa: F821
    f"Regenerated from the real runs of study {snakemake.wildcards.study!r} ({table}) by rule calibrate_pack; "  # noqa: F821
    "the dataset is the training CSV next to this pack."])
