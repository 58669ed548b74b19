"""Parsers of SCALE-Sim's report CSVs (v2 source tree and v3 = PyPI ``scalesim`` 3.0.0).

The reports use ", " separators and end every line with a comma. Each parser checks the header against
the known variants, the field count of every row, and that every value is a number; anything else is a
ParseError naming the file and line.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from eoesim.errors import ParseError

COMPUTE_REPORT = "COMPUTE_REPORT.csv"
BANDWIDTH_REPORT = "BANDWIDTH_REPORT.csv"
DETAILED_ACCESS_REPORT = "DETAILED_ACCESS_REPORT.csv"
REPORTS = (COMPUTE_REPORT, BANDWIDTH_REPORT, DETAILED_ACCESS_REPORT)

#: native header -> our column name, per known header variant
COMPUTE_COLUMNS = {
    "v3": {
        "LayerID": "layer_id",
        "Total Cycles (incl. prefetch)": "total_cycles_incl_prefetch",
        "Total Cycles": "total_cycles",
        "Stall Cycles": "stall_cycles",
        "Overall Util %": "overall_util_pct",
        "Mapping Efficiency %": "mapping_efficiency_pct",
        "Compute Util %": "compute_util_pct",
    },
    "v2": {
        "LayerID": "layer_id",
        "Total Cycles": "total_cycles",
        "Stall Cycles": "stall_cycles",
        "Overall Util %": "overall_util_pct",
        "Mapping Efficiency %": "mapping_efficiency_pct",
        "Compute Util %": "compute_util_pct",
    },
}
BANDWIDTH_COLUMNS = {
    "all": {
        "LayerID": "layer_id",
        "Avg IFMAP SRAM BW": "ifmap_sram_bw_words_per_cycle",
        "Avg FILTER SRAM BW": "filter_sram_bw_words_per_cycle",
        "Avg OFMAP SRAM BW": "ofmap_sram_bw_words_per_cycle",
        "Avg IFMAP DRAM BW": "ifmap_dram_bw_words_per_cycle",
        "Avg FILTER DRAM BW": "filter_dram_bw_words_per_cycle",
        "Avg OFMAP DRAM BW": "ofmap_dram_bw_words_per_cycle",
    }
}


def _access_columns() -> dict[str, str]:
    cols = {"LayerID": "layer_id"}
    for mem in ("SRAM", "DRAM"):
        for operand, native, verb in (("ifmap", "IFMAP", "Reads"), ("filter", "Filter", "Reads"),
                                      ("ofmap", "OFMAP", "Writes")):
            low = mem.lower()
            cols[f"{mem} {native} Start Cycle"] = f"{low}_{operand}_start_cycle"
            cols[f"{mem} {native} Stop Cycle"] = f"{low}_{operand}_stop_cycle"
            cols[f"{mem} {native} {verb}"] = f"{low}_{operand}_{verb.lower()}_words"
    return cols


ACCESS_COLUMNS = {"all": _access_columns()}


def _fields(line: str) -> list[str]:
    parts = [p.strip() for p in line.rstrip("\n").split(",")]
    if parts and parts[-1] == "":
        parts = parts[:-1]
    return parts


def read_report(path: Path, variants: dict[str, dict[str, str]]) -> tuple[str, pd.DataFrame]:
    """Read one report; return (variant name, DataFrame with our column names, one row per layer)."""
    path = Path(path)
    if not path.exists():
        raise ParseError(path, "report file is missing")
    lines = path.read_text(errors="replace").splitlines()
    if not lines or not lines[0].strip():
        raise ParseError(path, "report is empty (no header)", line=1)
    header = _fields(lines[0])
    variant = next((name for name, cols in variants.items() if list(cols) == header), None)
    if variant is None:
        expected = " | ".join(", ".join(cols) for cols in variants.values())
        raise ParseError(path, f"unexpected header {header}; expected one of: {expected}", line=1)
    columns = list(variants[variant].values())
    rows = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = _fields(line)
        if len(fields) != len(columns):
            raise ParseError(path, f"expected {len(columns)} fields, found {len(fields)} (truncated?)", line=lineno)
        try:
            values = [float(f) for f in fields]
        except ValueError:
            raise ParseError(path, f"non-numeric field in {fields}", line=lineno) from None
        if any(math.isnan(v) for v in values):
            raise ParseError(path, f"NaN field in {fields}", line=lineno)
        rows.append(values)
    if not rows:
        raise ParseError(path, "report has a header but no layer rows", line=len(lines))
    if not lines[-1].rstrip().endswith(","):
        raise ParseError(path, "last line does not end with ',' (file truncated?)", line=len(lines))
    frame = pd.DataFrame(rows, columns=columns)
    frame["layer_id"] = frame["layer_id"].astype(int)
    if frame["layer_id"].duplicated().any():
        raise ParseError(path, "duplicate LayerID rows")
    return variant, frame


def read_reports(report_dir: Path) -> pd.DataFrame:
    """The three reports of one run joined on layer_id; the reports must cover the same layers."""
    variant, compute = read_report(report_dir / COMPUTE_REPORT, COMPUTE_COLUMNS)
    _, bandwidth = read_report(report_dir / BANDWIDTH_REPORT, BANDWIDTH_COLUMNS)
    _, access = read_report(report_dir / DETAILED_ACCESS_REPORT, ACCESS_COLUMNS)
    layers = set(compute["layer_id"])
    for name, frame in ((BANDWIDTH_REPORT, bandwidth), (DETAILED_ACCESS_REPORT, access)):
        if set(frame["layer_id"]) != layers:
            raise ParseError(report_dir / name, f"layers {sorted(frame['layer_id'])} differ from "
                             f"{COMPUTE_REPORT}'s {sorted(layers)}")
    merged = compute.merge(bandwidth, on="layer_id").merge(access, on="layer_id")
    if "total_cycles_incl_prefetch" not in merged:
        merged["total_cycles_incl_prefetch"] = float("nan")
    for col in merged.columns:
        if col.endswith(("_cycles", "_words", "_prefetch")) and col.startswith(("total", "stall", "sram", "dram")):
            merged[col] = merged[col].astype("Int64") if merged[col].notna().all() else merged[col]
    merged["scalesim_report_version"] = variant
    return merged
