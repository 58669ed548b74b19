"""CACTI checks: every SRAM's echoed input parameters, and area/leakage/energy that grow with the SRAM.

CACTI prints the input parameters it parsed before it solves ("Print input parameters"): a key it did not
recognise keeps its built-in value silently, which the echo shows. And an SRAM that holds more bytes,
organised alike, has more cells: its area and leakage cannot shrink, nor (bitlines and wordlines get
longer) the energy of one access - except where CACTI's optimiser picks a new subarray organisation, which
is why that part is a warning.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from eoesim.simulators.cacti import CONFIG_DIR, RUN_META
from eoesim.simulators.cacti_output import echoed_inputs
from eoesim.trust.checks import Finding, TableContext, check, simulated_only

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


@check("sram_not_monotone", "warning", ("cacti",),
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


def echo_mismatches(rundir: Path, parameters: dict) -> list[str]:
    """Rendered SRAM parameters that CACTI's echo of its input does not repeat."""
    meta = rundir / RUN_META
    if not meta.is_file() or "technology_nm" not in parameters:
        return [f"{RUN_META} or run.json's parameters are missing"]
    out = []
    for sram in json.loads(meta.read_text())["srams"]:
        echoed = echoed_inputs(rundir / CONFIG_DIR / f"{sram['name']}.stdout")
        expected = {k: sram[k] for k in ("size_bytes", "block_bytes", "associativity", "rw_ports", "read_ports",
                                         "write_ports", "banks")}
        expected["technology_um"] = parameters["technology_nm"] / 1000
        expected["temperature_k"] = parameters["temperature_k"]
        for key, value in expected.items():
            if key not in echoed:
                out.append(f"{sram['name']}: CACTI did not echo {key}")
            elif abs(echoed[key] - float(value)) > 1e-9 * max(1.0, abs(float(value))):
                out.append(f"{sram['name']}: {key} {value} rendered, CACTI ran {echoed[key]:g}")
    return out


@check("cacti_config_echo", "error", ("cacti",),
       hint="CACTI kept a built-in value for a key of the rendered .cfg (misspelt or moved key): compare "
            "templates/cacti/sram.cfg.j2 with CACTI's own cache.cfg")
@simulated_only
def cacti_config_echo(ctx: TableContext) -> list[Finding]:
    """CACTI echoes the parameters it parsed; each must equal what the harness rendered for that SRAM."""
    out = []
    for run_id, rundir in ctx.simulated_run_dirs():
        record = ctx.run_record(run_id) or {}
        problems = echo_mismatches(rundir, record.get("parameters") or {})
        if problems:
            out.append(Finding(ctx.rows_of_run(run_id), f"run {run_id}: " + "; ".join(problems[:5])))
    return out
