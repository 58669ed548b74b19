"""Rule plot_parity: predicted vs simulated, for the shipped pack and for the study's own fit."""
from pathlib import Path

import pandas as pd
from _logging import to_log

from eoesim.analysis.packs import load_pack
from eoesim.analysis.parity import parity_plot
from eoesim.analysis.surrogate import load

sm = snakemake  # noqa: F821 (injected by Snakemake)
to_log(sm.log[0])
table = pd.read_csv(sm.input.table)
out = Path(sm.output[0])
parity_plot(load_pack(sm.wildcards.simulator), table, out / "shipped_pack")
parity_plot(load(Path(sm.input.fitted)), table, out / "study_fit")
