"""CACTI check: area, leakage and energy per access that grow with the SRAM (its echo check is in echo.py).

An SRAM that holds more bytes, organised alike, has more cells: its area and leakage cannot shrink, nor
(bitlines and wordlines get longer) the energy of one access - except where CACTI's optimiser picks a new
subarray organisation, which is why the check is a warning.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from eoesim.trust.checks import Finding, TableContext, check

#: what makes two SRAMs "organised alike" (everything but their size and name)
ALIKE = ("technology_nm", "cell_type", "peripheral_type", "temperature_k", "kind", "block_bytes", "associativity",
         "banks", "rw_ports", "read_ports", "write_ports", "fidelity")
GROWING = ("area_mm2", "leakage_mW", "read_energy_nJ")
#: relative fall below which a "decrease" is rounding in CACTI's printed digits
TOLERANCE = 1e-6


def _falls(rows: pd.DataFrame, metric: str) -> list[Finding]:
    by_size = rows.groupby("size_bytes")[metric].mean().sort_index()
    sizes, values = by_size.index.to_numpy(), by_size.to_numpy(dtype=float)
    out = []
    if (values <= 0).any():
        bad = rows.index[rows[metric] <= 0]
        out.append(Finding(tuple(bad), f"{metric} is not positive ({rows.loc[bad[0], metric]:g} at "
                                       f"{rows.loc[bad[0], 'size_bytes']} B)"))
    drops = np.flatnonzero(values[1:] < values[:-1] * (1 - TOLERANCE))
    for i in drops:
        small, large = sizes[i], sizes[i + 1]
        labels = tuple(rows.index[rows["size_bytes"].isin((small, large))])
        out.append(Finding(labels, f"{metric} falls from {values[i]:g} at {small} B to {values[i + 1]:g} at "
                                   f"{large} B ({rows.iloc[0]['kind']}, {rows.iloc[0]['technology_nm']} nm, "
                                   f"{rows.iloc[0]['block_bytes']} B blocks, {rows.iloc[0]['banks']} bank(s))"))
    return out


@check("sram_not_monotone", "warning",
       hint="a larger SRAM organised alike must not be smaller or leak less: compare the two runs' CACTI "
            "outputs (cacti/<sram>.stdout, 'Best Ndwl/Ndbl'); a falling read energy can be CACTI's optimiser "
            "moving to another organisation")
def sram_not_monotone(ctx: TableContext) -> list[Finding]:
    """Area, leakage and read energy per access of CACTI SRAMs are positive and do not fall as the SRAM
    grows with everything else equal (along a swept size)."""
    table = ctx.table
    keys = [c for c in ALIKE if c in table]
    if table.empty or "size_bytes" not in table:
        return []
    out = []
    for _, rows in table.groupby([table[k].astype(str) for k in keys], dropna=False):
        for metric in GROWING:
            if metric in rows:
                out += _falls(rows, metric)
    return out
