"""Parser of RapidChiplet's results JSON (``./results/<design name>.json``) into tidy rows.

One DataFrame, the kind of observation in column ``record``:

``package`` — one row per design (analytical model; only the requested metrics are filled):
  chip_width_mm, chip_height_mm               bounding box of the placed chiplets
  total_chiplet_area_mm2, total_interposer_area_mm2
  total_power_W, total_chiplet_power_W, total_interposer_power_W
                                              RapidChiplet's power summary. NOTE: link power is NOT in its
                                              total_power; the adapter adds link_power_W (annotate).
  link_count                                  links (sum of the link-length histogram; parallel links
                                              between the same two chiplets count once, as in RapidChiplet)
  link_length_{min,avg,max}_mm                min/max from the histogram (rounded to 1 um by RapidChiplet)
  link_bw_{min,avg,max}_bits_per_cycle        per direction (RapidChiplet halves the PHY bandwidth)
  total_cost_usd                              (chiplets + interposer) / packaging yield, wafer-cost units
  interposer_cost_usd, interposer_yield, interposer_dies_per_wafer, interposer_known_good_dies
  latency_{min,avg,max}_cycles                analytical zero-load latency, traffic-weighted average
  aggregate_throughput_bits_per_cycle         analytical saturation throughput of all traffic together
  booksim_n_nodes                             BookSim nodes (= units of all chiplets), BookSim runs only
  booksim_saturation_load_flits_per_node_per_cycle
                                              highest load RapidChiplet stored = its saturation estimate
                                              (resolution = the configured precision)
  rc_total_time_taken_s                       RapidChiplet's own compute time (host seconds)
``chiplet_type`` — one row per chiplet type in the cost model: chiplet_type, chiplet_dies_per_wafer,
  chiplet_yield, chiplet_known_good_dies, chiplet_cost_usd (per good die).
``link_length`` — one row per distinct link length: link_length_mm, links_of_length (RapidChiplet's
  histogram; the adapter computes link power from it).
``booksim_load`` — one row per stable BookSim load point (BookSim's final statistics, per node averages):
  injection_rate_flits_per_node_per_cycle     the load key, rounded to the configured precision (RapidChiplet
                                              writes float sums such as "0.21000000000000005")
  packet_latency_{avg,min,max}_cycles, network_latency_{avg,min,max}_cycles, flit_latency_{avg,min,max}_cycles
  fragmentation_avg_flits                     (BookSim's fragmentation statistic)
  injected_packet_rate_avg_packets_per_node_per_cycle, accepted_packet_rate_{avg,min,max}_packets_per_node_per_cycle
  injected_flit_rate_avg_flits_per_node_per_cycle, accepted_flit_rate_{avg,min,max}_flits_per_node_per_cycle
  packet_size_avg_flits                       accepted packet size
  hops_avg                                    mean hops between routers (+ injection/ejection)
  booksim_host_run_time_s                     BookSim's "Total run time" for that load
  zero_load_packet_latency_cycles             packet latency at the lowest load of the sweep
  beyond_saturation_criterion                 packet latency > saturation_factor x zero-load latency (RapidChiplet
                                              still stores such a point before it refines the step)
  is_max_stable_load                          the point is the highest stored load

Loads missing from the file are loads at which BookSim reported "unstable" (RapidChiplet drops them). A load
entry without ``packet_latency`` means that BookSim run failed (RapidChiplet prints "Failed run with load"
and stores the incomplete entry — the origin of the ``KeyError: 'packet_latency'`` its users hit): it is a
ParseError here, as are missing requested metrics and malformed JSON.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from eoesim.errors import ParseError
from eoesim.simulators import rapidchiplet_json

ANALYTIC_METRICS = ("area_summary", "power_summary", "link_summary", "cost", "latency", "throughput")
BOOKSIM_METRIC = "booksim_simulation"
BOOKSIM_META_KEYS = ("n_nodes", "time_taken")
#: BookSim statistics with min/avg/max -> our column stem and unit
BOOKSIM_TRIPLETS = {
    "packet_latency": ("packet_latency", "cycles"),
    "network_latency": ("network_latency", "cycles"),
    "flit_latency": ("flit_latency", "cycles"),
    "accepted_packet_rate": ("accepted_packet_rate", "packets_per_node_per_cycle"),
    "accepted_flit_rate": ("accepted_flit_rate", "flits_per_node_per_cycle"),
}
#: BookSim statistics of which only the average is kept
BOOKSIM_AVERAGES = {
    "fragmentation": "fragmentation_avg_flits",
    "injected_packet_rate": "injected_packet_rate_avg_packets_per_node_per_cycle",
    "injected_flit_rate": "injected_flit_rate_avg_flits_per_node_per_cycle",
    "accepted_packet_size": "packet_size_avg_flits",
    "hops": "hops_avg",
}


def load_decimals(precision: float) -> int:
    """Decimal places of a load step: 0.001 -> 3."""
    return max(0, round(-math.log10(precision)))


def _get(doc: Mapping[str, Any], path: Iterable[str], file: Path) -> Any:
    node: Any = doc
    walked = []
    for key in path:
        walked.append(key)
        if not isinstance(node, Mapping) or key not in node:
            raise ParseError(file, f"missing {'.'.join(walked)!r} in the results")
        node = node[key]
    return node


def _num(doc: Mapping[str, Any], path: Iterable[str], file: Path) -> float:
    path = list(path)
    value = _get(doc, path, file)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParseError(file, f"{'.'.join(path)!r} is {value!r}, not a number")
    return float(value)


def read_results(path: Path) -> dict[str, Any]:
    """The decoded results document; ParseError (with line) on unreadable or truncated JSON."""
    path = Path(path)
    if not path.is_file():
        raise ParseError(path, "results file is missing")
    text = path.read_text(errors="replace")
    if not text.strip():
        raise ParseError(path, "results file is empty", line=1)
    try:
        doc = rapidchiplet_json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(path, f"not valid JSON ({exc.msg}; truncated?)", line=exc.lineno) from None
    if not isinstance(doc, dict):
        raise ParseError(path, f"the results must be a JSON object, got {type(doc).__name__}")
    return doc


def _package_row(doc: Mapping[str, Any], file: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"record": "package"}
    if "area_summary" in doc:
        for key, col in (("chip_width", "chip_width_mm"), ("chip_height", "chip_height_mm"),
                         ("total_chiplet_area", "total_chiplet_area_mm2"),
                         ("total_interposer_area", "total_interposer_area_mm2")):
            row[col] = _num(doc, ["area_summary", key], file)
    if "power_summary" in doc:
        for key in ("total_power", "total_chiplet_power", "total_interposer_power"):
            row[f"{key}_W"] = _num(doc, ["power_summary", key], file)
    if "link_summary" in doc:
        hist = _get(doc, ["link_summary", "lengths", "histogram"], file)
        row["link_count"] = int(sum(hist.values()))
        for stat in ("min", "avg", "max"):
            row[f"link_length_{stat}_mm"] = _num(doc, ["link_summary", "lengths", stat], file)
        for stat in ("min", "avg", "max"):
            row[f"link_bw_{stat}_bits_per_cycle"] = _num(doc, ["link_summary", "bandwidths", stat], file)
    if "cost" in doc:
        row["total_cost_usd"] = _num(doc, ["cost", "total_cost"], file)
        interposer = _get(doc, ["cost", "interposer"], file)
        row["interposer_cost_usd"] = _num(doc, ["cost", "interposer", "cost"], file)
        if "dies_per_wafer" in interposer:  # absent without an interposer
            row["interposer_dies_per_wafer"] = int(_num(doc, ["cost", "interposer", "dies_per_wafer"], file))
            row["interposer_yield"] = _num(doc, ["cost", "interposer", "manufacturing_yield"], file)
            row["interposer_known_good_dies"] = _num(doc, ["cost", "interposer", "known_good_dies"], file)
    if "latency" in doc:
        for stat in ("min", "avg", "max"):
            row[f"latency_{stat}_cycles"] = _num(doc, ["latency", stat], file)
    if "throughput" in doc:
        row["aggregate_throughput_bits_per_cycle"] = _num(doc, ["throughput", "aggregate_throughput"], file)
    if "total_time_taken" in doc:
        row["rc_total_time_taken_s"] = _num(doc, ["total_time_taken"], file)
    return row


def _chiplet_rows(doc: Mapping[str, Any], file: Path) -> list[dict[str, Any]]:
    if "cost" not in doc:
        return []
    rows = []
    for name in _get(doc, ["cost", "chiplets"], file):
        base = ["cost", "chiplets", name]
        rows.append({
            "record": "chiplet_type",
            "chiplet_type": name,
            "chiplet_dies_per_wafer": int(_num(doc, base + ["dies_per_wafer"], file)),
            "chiplet_yield": _num(doc, base + ["manufacturing_yield"], file),
            "chiplet_known_good_dies": _num(doc, base + ["known_good_dies"], file),
            "chiplet_cost_usd": _num(doc, base + ["cost"], file),
        })
    return rows


def _link_rows(doc: Mapping[str, Any], file: Path) -> list[dict[str, Any]]:
    if "link_summary" not in doc:
        return []
    rows = []
    for length, count in _get(doc, ["link_summary", "lengths", "histogram"], file).items():
        try:
            value = float(length)
        except ValueError:
            raise ParseError(file, f"link_summary.lengths.histogram key {length!r} is not a length") from None
        rows.append({"record": "link_length", "link_length_mm": value, "links_of_length": int(count)})
    return rows


def _booksim_rows(doc: Mapping[str, Any], file: Path, precision: float,
                  saturation_factor: float) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    sweep = _get(doc, [BOOKSIM_METRIC], file)
    if not isinstance(sweep, Mapping):
        raise ParseError(file, f"{BOOKSIM_METRIC!r} is not an object")
    if "packet_latency" in sweep:
        raise ParseError(file, f"{BOOKSIM_METRIC!r} holds a trace-mode result; only traffic-mode sweeps are supported")
    decimals = load_decimals(precision)
    rows: dict[float, dict[str, Any]] = {}
    for key, entry in sweep.items():
        if key in BOOKSIM_META_KEYS:
            continue
        try:
            load = round(float(key), decimals)
        except ValueError:
            raise ParseError(file, f"{BOOKSIM_METRIC}: key {key!r} is neither a load nor one of "
                             f"{BOOKSIM_META_KEYS}") from None
        where = [BOOKSIM_METRIC, key]
        if not isinstance(entry, Mapping) or "packet_latency" not in entry:
            raise ParseError(file, f"{BOOKSIM_METRIC} load {key}: no 'packet_latency' — the BookSim run at this "
                             "load failed (RapidChiplet printed 'Failed run with load'; users see "
                             "KeyError: 'packet_latency')")
        if load in rows:
            raise ParseError(file, f"{BOOKSIM_METRIC}: loads {key!r} and another key both round to {load}")
        row: dict[str, Any] = {"record": "booksim_load", "injection_rate_flits_per_node_per_cycle": load}
        for stat, (stem, unit) in BOOKSIM_TRIPLETS.items():
            for part in ("avg", "min", "max"):
                row[f"{stem}_{part}_{unit}"] = _num(doc, where + [stat, part], file)
        for stat, col in BOOKSIM_AVERAGES.items():
            row[col] = _num(doc, where + [stat, "avg"], file)
        row["booksim_host_run_time_s"] = _num(doc, where + ["total_run_time"], file)
        rows[load] = row
    if not rows:
        raise ParseError(file, f"{BOOKSIM_METRIC} has no stable load point (BookSim failed or was unstable at the "
                         "lowest load)")
    loads = sorted(rows)
    zero_load = rows[loads[0]]["packet_latency_avg_cycles"]
    for load in loads:
        row = rows[load]
        row["zero_load_packet_latency_cycles"] = zero_load
        row["beyond_saturation_criterion"] = row["packet_latency_avg_cycles"] > saturation_factor * zero_load
        row["is_max_stable_load"] = load == loads[-1]
    summary = {"booksim_saturation_load_flits_per_node_per_cycle": loads[-1]}
    if "n_nodes" in sweep:
        summary["booksim_n_nodes"] = int(_num(doc, [BOOKSIM_METRIC, "n_nodes"], file))
    return [rows[load] for load in loads], summary


def parse_results(path: Path, metrics: Iterable[str] = ANALYTIC_METRICS, precision: float = 0.001,
                  saturation_factor: float = 5.0) -> pd.DataFrame:
    """Tidy rows of one results file; every metric in ``metrics`` must be present (else ParseError)."""
    path = Path(path)
    doc = read_results(path)
    missing = [m for m in metrics if m not in doc]
    if missing:
        raise ParseError(path, f"requested metric(s) {missing} missing from the results (present: {sorted(doc)})")
    package = _package_row(doc, path)
    booksim: list[dict[str, Any]] = []
    if BOOKSIM_METRIC in doc:
        booksim, summary = _booksim_rows(doc, path, precision, saturation_factor)
        package.update(summary)
    rows = [package] + _chiplet_rows(doc, path) + _link_rows(doc, path) + booksim
    frame = pd.DataFrame(rows)
    for col in ("link_count", "links_of_length", "interposer_dies_per_wafer", "chiplet_dies_per_wafer",
                "booksim_n_nodes"):
        if col in frame:
            frame[col] = frame[col].astype("Int64")
    for col in ("beyond_saturation_criterion", "is_max_stable_load"):
        if col in frame:
            frame[col] = frame[col].astype("boolean")
    return frame
