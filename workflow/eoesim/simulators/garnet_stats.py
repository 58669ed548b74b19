"""Parser of a garnet_synth_traffic run: gem5's ``stats.txt`` plus ``config.json`` (clocks, testers).

stats.txt format (gem5 v24 text stats): one dump between ``Begin Simulation Statistics`` and
``End Simulation Statistics`` markers; scalar lines ``<name> <value> [# <desc>] (<unit>)``; "oneline"
vectors (Garnet's per-vnet stats) ``<name> | <v0> [pct cum] | <v1> ... (<unit>)`` followed, when the
vector has the total flag, by ``<name>::total <value>``. Values may be ``nan`` (e.g. the average latency
of a vnet that carried no packet). Stats with gem5's ``nozero`` flag (packets_*, flits_*, avg_vc_load)
are omitted entirely when they are all zero; in a complete dump their absence means 0.

A file without a complete dump (no Begin marker, no End marker = truncated), with more than one dump,
with a stat name twice, a non-numeric value, a per-vnet vector of the wrong length, per-vnet values
that do not add up to the ``::total`` line, or a network-wide average_packet_latency / average_hops that
is nan or inf (the headline metrics of the run) is a ParseError naming the file and line.

Rows. One row with ``vnet == "all"`` (network totals) and one per virtual network (``"0"``, ``"1"``, ...).
Every row repeats the run's identity read from config.json: topology, num_cpus (traffic testers),
num_dirs (tester num_dest), synthetic, injection_rate (the configured offered load, packets/node/tester
cycle), inj_vnet, num_vnets, vcs_per_vnet, routing_algorithm (gem5 id), flit_size_bytes (ni_flit_size),
num_routers, num_int_links, num_ext_links; and sim_ticks (simTicks), ticks_per_s (simFreq),
ruby_clock_ticks / sys_clock_ticks (network / tester clock periods in ticks, config.json
``system.ruby.clk_domain.clock`` / ``system.clk_domain.clock``).

Raw gem5 values (latencies in gem5 are TICKS):
  packets_injected, packets_received, flits_injected, flits_received - counts (vnet rows: that vnet;
      "all": the ``::total`` lines);
  average_{packet,flit}_{network,queueing}_latency_ticks - "all": gem5's average_*_network_latency /
      average_*_queueing_latency; vnet rows: average_*_vnet_latency / average_*_vqueue_latency;
  average_{packet,flit}_latency_ticks - "all": gem5's average_packet_latency / average_flit_latency;
  average_hops ("all" only); ext_in_link_flits, ext_out_link_flits, int_link_flits - gem5's
      ext_in/ext_out/int_link_utilization, which are flit traversals summed over links (counts);
  link_flits_per_cycle - gem5's avg_link_utilization = sum over all network links of flits per network
      cycle (not a per-link average); avg_vc_load - gem5's avg_vc_load::total (flits per cycle summed
      over all VCs of all links).
Derived (not gem5 stats):
  network_cycles = sim_ticks / ruby_clock_ticks; tester_cycles = sim_ticks / sys_clock_ticks;
  *_latency_cycles = *_latency_ticks / ruby_clock_ticks (network cycles);
  *_latency_ns = *_latency_ticks * 1e9 / ticks_per_s;
  vnet rows: average_{packet,flit}_latency_ticks = network + queueing latency of that vnet (gem5 gives
      the sum only for the whole network);
  offered_rate_pkts_per_node_per_cycle = packets_injected / num_cpus / tester_cycles;
  reception_rate_pkts_per_node_per_cycle = packets_received / num_cpus / tester_cycles;
  reception_rate_flits_per_node_per_cycle = flits_received / num_cpus / tester_cycles;
  int_link_utilization = int_link_flits / num_int_links / network_cycles (fraction of cycles an average
      router-to-router link carries a flit; "all" only);
  acceptance_ratio = reception_rate_pkts_per_node_per_cycle / injection_rate ("all" only);
  delivered_fraction = packets_received / packets_injected ("all" only; stays near 1 past saturation
      because gem5 counts a packet as injected only once it enters the network);
  saturated = acceptance_ratio < saturation_threshold ("all" only; the adapter re-derives it with the
      point's workload.garnet.saturation_threshold).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from eoesim.errors import ParseError

STATS_FILE = "stats.txt"
CONFIG_FILE = "config.json"
BEGIN_MARKER = "Begin Simulation Statistics"
END_MARKER = "End Simulation Statistics"
NET = "system.ruby.network."
DEFAULT_SATURATION_THRESHOLD = 0.9

#: per-vnet count vectors (nozero: absent when all zero) -> our column
COUNT_VECTORS = {
    "packets_injected": "packets_injected",
    "packets_received": "packets_received",
    "flits_injected": "flits_injected",
    "flits_received": "flits_received",
}
#: network-wide average latencies (ticks) -> our column stem
NETWORK_LATENCIES = {
    "average_packet_latency": "average_packet_latency",
    "average_packet_network_latency": "average_packet_network_latency",
    "average_packet_queueing_latency": "average_packet_queueing_latency",
    "average_flit_latency": "average_flit_latency",
    "average_flit_network_latency": "average_flit_network_latency",
    "average_flit_queueing_latency": "average_flit_queueing_latency",
}
#: per-vnet average latency vectors (ticks) -> our column stem
VNET_LATENCIES = {
    "average_packet_vnet_latency": "average_packet_network_latency",
    "average_packet_vqueue_latency": "average_packet_queueing_latency",
    "average_flit_vnet_latency": "average_flit_network_latency",
    "average_flit_vqueue_latency": "average_flit_queueing_latency",
}
#: network-wide scalars -> our column
NETWORK_SCALARS = {
    "average_hops": "average_hops",
    "ext_in_link_utilization": "ext_in_link_flits",
    "ext_out_link_utilization": "ext_out_link_flits",
    "int_link_utilization": "int_link_flits",
    "avg_link_utilization": "link_flits_per_cycle",
}
_UNIT_TAIL = re.compile(r"\s+\(.*\)\s*$")


@dataclass(frozen=True)
class Stat:
    """One stat line of the dump: its 1-based line number and its value field(s), unparsed."""

    line: int
    fields: tuple[str, ...]
    vector: bool


class StatsDump:
    """The stats of one dump by name; numbers are converted on access, errors name file and line."""

    def __init__(self, path: Path, stats: dict[str, Stat], end_line: int):
        self.path = path
        self.stats = stats
        self.end_line = end_line

    def __contains__(self, name: str) -> bool:
        return name in self.stats

    def _number(self, text: str, name: str, line: int) -> float:
        try:
            return float(text)
        except ValueError:
            raise ParseError(self.path, f"{name}: value {text!r} is not a number", line) from None

    def scalar(self, name: str, default: float | None = None) -> float:
        stat = self.stats.get(name)
        if stat is None:
            if default is not None:
                return default
            raise ParseError(self.path, f"stat {name} is missing from the dump", self.end_line)
        if stat.vector:
            raise ParseError(self.path, f"{name}: expected a scalar, found a per-vnet vector", stat.line)
        return self._number(stat.fields[0], name, stat.line)

    def vector(self, name: str, size: int, zero_if_absent: bool = False) -> list[float]:
        stat = self.stats.get(name)
        if stat is None:
            if zero_if_absent:
                return [0.0] * size
            raise ParseError(self.path, f"stat {name} is missing from the dump", self.end_line)
        if not stat.vector:
            raise ParseError(self.path, f"{name}: expected a per-vnet vector, found a scalar", stat.line)
        if len(stat.fields) != size:
            raise ParseError(
                self.path, f"{name}: {len(stat.fields)} per-vnet values, expected {size} (one per vnet)", stat.line
            )
        return [self._number(f, name, stat.line) for f in stat.fields]

    def line_of(self, name: str) -> int:
        stat = self.stats.get(name)
        return stat.line if stat is not None else self.end_line


def _split_stat(line: str, path: Path, lineno: int) -> tuple[str, Stat]:
    name, _, rest = line.strip().partition(" ")
    rest = rest.split(" #", 1)[0]
    rest = _UNIT_TAIL.sub("", rest).strip()
    if not rest:
        raise ParseError(path, f"stat line without a value: {line.strip()!r}", lineno)
    if rest.startswith("|"):
        groups = [g.split() for g in rest.split("|")[1:]]
        if any(not g for g in groups):
            raise ParseError(path, f"{name}: empty per-vnet column", lineno)
        return name, Stat(lineno, tuple(g[0] for g in groups), True)
    return name, Stat(lineno, (rest.split()[0],), False)


def read_stats(path: Path) -> StatsDump:
    """The single complete dump of ``path`` (a gem5 stats.txt)."""
    path = Path(path)
    if not path.is_file():
        raise ParseError(path, "stats file is missing")
    lines = path.read_text(errors="replace").splitlines()
    begins = [i for i, ln in enumerate(lines, start=1) if BEGIN_MARKER in ln]
    if not begins:
        raise ParseError(path, f"no '{BEGIN_MARKER}' marker: empty or not a gem5 stats file", max(len(lines), 1))
    if len(begins) > 1:
        raise ParseError(path, f"duplicate statistics dump: a second '{BEGIN_MARKER}' (one dump expected)", begins[1])
    ends = [i for i, ln in enumerate(lines, start=1) if END_MARKER in ln]
    if not ends:
        raise ParseError(path, f"truncated: no '{END_MARKER}' marker after the dump", len(lines))
    if len(ends) > 1 or ends[0] < begins[0]:
        raise ParseError(path, f"unexpected '{END_MARKER}' marker", ends[-1])
    stats: dict[str, Stat] = {}
    for lineno in range(begins[0] + 1, ends[0]):
        line = lines[lineno - 1]
        if not line.strip():
            continue
        name, stat = _split_stat(line, path, lineno)
        if name in stats:
            raise ParseError(path, f"duplicate stat {name} (first at line {stats[name].line})", lineno)
        stats[name] = stat
    return StatsDump(path, stats, ends[0])


@dataclass(frozen=True)
class RunConfig:
    """What gem5 actually ran, from config.json."""

    topology: str
    num_cpus: int
    num_dirs: int
    synthetic: str
    injection_rate: float
    inj_vnet: int
    sim_ticks_requested: int
    num_vnets: int
    vcs_per_vnet: int
    routing_algorithm: int
    flit_size_bytes: int
    num_routers: int
    num_int_links: int
    num_ext_links: int
    ruby_clock_ticks: int
    sys_clock_ticks: int

    def identity(self) -> dict[str, Any]:
        return {
            "topology": self.topology, "num_cpus": self.num_cpus, "num_dirs": self.num_dirs,
            "synthetic": self.synthetic, "injection_rate": self.injection_rate, "inj_vnet": self.inj_vnet,
            "num_vnets": self.num_vnets, "vcs_per_vnet": self.vcs_per_vnet,
            "routing_algorithm": self.routing_algorithm, "flit_size_bytes": self.flit_size_bytes,
            "num_routers": self.num_routers, "num_int_links": self.num_int_links,
            "num_ext_links": self.num_ext_links,
        }


def _clock(node: Any) -> int:
    clock = node["clock"]
    return int(clock[0] if isinstance(clock, list) else clock)


def read_config(path: Path) -> RunConfig:
    """Clocks, testers and network shape from gem5's config.json."""
    path = Path(path)
    if not path.is_file():
        raise ParseError(path, "config.json is missing (gem5 writes it at start-up)")
    try:
        doc = json.loads(path.read_text(errors="replace"))
    except json.JSONDecodeError as exc:
        raise ParseError(path, f"not valid JSON (truncated?): {exc.msg}", exc.lineno) from None
    try:
        system = doc["system"]
        testers = system["cpu"]
        if not isinstance(testers, list) or not testers:
            raise ParseError(path, "system.cpu holds no GarnetSyntheticTraffic testers")
        tester = testers[0]
        if tester.get("type") != "GarnetSyntheticTraffic":
            raise ParseError(path, f"system.cpu is {tester.get('type')!r}, not GarnetSyntheticTraffic")
        net = system["ruby"]["network"]
        if net.get("type") != "GarnetNetwork":
            raise ParseError(path, f"system.ruby.network is {net.get('type')!r}, not GarnetNetwork")
        return RunConfig(
            topology=str(net["topology"]),
            num_cpus=len(testers),
            num_dirs=int(tester["num_dest"]),
            synthetic=str(tester["traffic_type"]),
            injection_rate=float(tester["inj_rate"]),
            inj_vnet=int(tester["inj_vnet"]),
            sim_ticks_requested=int(tester["sim_cycles"]),
            num_vnets=int(net["number_of_virtual_networks"]),
            vcs_per_vnet=int(net["vcs_per_vnet"]),
            routing_algorithm=int(net["routing_algorithm"]),
            flit_size_bytes=int(net["ni_flit_size"]),
            num_routers=len(net["routers"]),
            num_int_links=len(net["int_links"]),
            num_ext_links=len(net["ext_links"]),
            ruby_clock_ticks=_clock(system["ruby"]["clk_domain"]),
            sys_clock_ticks=_clock(system["clk_domain"]),
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ParseError(path, f"unexpected config.json structure: missing or bad {exc}") from None


def _latency_columns(stem: str, ticks: float, ruby_clock_ticks: int, ticks_per_s: float) -> dict[str, float]:
    return {
        f"{stem}_ticks": ticks,
        f"{stem}_cycles": ticks / ruby_clock_ticks,
        f"{stem}_ns": ticks * 1e9 / ticks_per_s,
    }


def saturation_flag(acceptance_ratio: float, threshold: float) -> bool:
    """Saturated when the network delivers less than ``threshold`` of the offered load (NaN: saturated)."""
    return not (acceptance_ratio >= threshold)


def parse_run(stats_path: Path, config_path: Path,
              saturation_threshold: float = DEFAULT_SATURATION_THRESHOLD) -> pd.DataFrame:
    """Tidy rows of one run (see the module docstring for every column)."""
    cfg = read_config(config_path)
    dump = read_stats(stats_path)
    n = cfg.num_vnets
    sim_ticks = dump.scalar("simTicks")
    ticks_per_s = dump.scalar("simFreq")
    if sim_ticks < cfg.sim_ticks_requested:
        raise ParseError(
            stats_path, f"simTicks {sim_ticks:g} < the tester's sim_cycles {cfg.sim_ticks_requested} ticks: "
            "the run stopped early", dump.line_of("simTicks"),
        )
    network_cycles = sim_ticks / cfg.ruby_clock_ticks
    tester_cycles = sim_ticks / cfg.sys_clock_ticks
    common = {
        **cfg.identity(), "sim_ticks": sim_ticks, "ticks_per_s": ticks_per_s,
        "ruby_clock_ticks": cfg.ruby_clock_ticks, "sys_clock_ticks": cfg.sys_clock_ticks,
        "network_cycles": network_cycles, "tester_cycles": tester_cycles,
    }

    def rates(packets_injected: float, packets_received: float, flits_received: float) -> dict[str, float]:
        per = cfg.num_cpus * tester_cycles
        return {
            "offered_rate_pkts_per_node_per_cycle": packets_injected / per,
            "reception_rate_pkts_per_node_per_cycle": packets_received / per,
            "reception_rate_flits_per_node_per_cycle": flits_received / per,
        }

    counts: dict[str, list[float]] = {}
    totals: dict[str, float] = {}
    for stat, col in COUNT_VECTORS.items():
        counts[col] = dump.vector(NET + stat, n, zero_if_absent=True)
        totals[col] = dump.scalar(NET + stat + "::total", default=0.0)
        if not math.isclose(sum(counts[col]), totals[col], rel_tol=1e-9, abs_tol=0.5):
            raise ParseError(
                stats_path, f"{NET}{stat}: per-vnet values {counts[col]} do not add up to ::total "
                f"{totals[col]:g}", dump.line_of(NET + stat + "::total"),
            )

    total_row: dict[str, Any] = {"vnet": "all", **common, **totals}
    for stat, stem in NETWORK_LATENCIES.items():
        total_row.update(_latency_columns(stem, dump.scalar(NET + stat), cfg.ruby_clock_ticks, ticks_per_s))
    for stat, col in NETWORK_SCALARS.items():
        total_row[col] = dump.scalar(NET + stat)
    for stat, value in (("average_packet_latency", total_row["average_packet_latency_ticks"]),
                        ("average_hops", total_row["average_hops"])):
        if not math.isfinite(value):
            raise ParseError(
                stats_path, f"{NET}{stat} is {value} (network total; {totals['packets_received']:g} packets "
                "received): gem5 measured no packet, so the run has no latency to publish",
                dump.line_of(NET + stat))
    total_row["avg_vc_load"] = dump.scalar(NET + "avg_vc_load::total", default=0.0)
    total_row.update(rates(totals["packets_injected"], totals["packets_received"], totals["flits_received"]))
    total_row["int_link_utilization"] = (
        total_row["int_link_flits"] / cfg.num_int_links / network_cycles if cfg.num_int_links else math.nan
    )
    acceptance = total_row["reception_rate_pkts_per_node_per_cycle"] / cfg.injection_rate
    total_row["acceptance_ratio"] = acceptance
    total_row["delivered_fraction"] = (
        totals["packets_received"] / totals["packets_injected"] if totals["packets_injected"] else math.nan
    )
    total_row["saturated"] = saturation_flag(acceptance, saturation_threshold)

    vnet_latency = {stem_stat: dump.vector(NET + stem_stat, n) for stem_stat in VNET_LATENCIES}
    rows = [total_row]
    for v in range(n):
        row: dict[str, Any] = {"vnet": str(v), **common}
        for col in COUNT_VECTORS.values():
            row[col] = counts[col][v]
        for stat, stem in VNET_LATENCIES.items():
            row.update(_latency_columns(stem, vnet_latency[stat][v], cfg.ruby_clock_ticks, ticks_per_s))
        for kind in ("packet", "flit"):
            ticks = row[f"average_{kind}_network_latency_ticks"] + row[f"average_{kind}_queueing_latency_ticks"]
            row.update(_latency_columns(f"average_{kind}_latency", ticks, cfg.ruby_clock_ticks, ticks_per_s))
        row.update(rates(row["packets_injected"], row["packets_received"], row["flits_received"]))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(total_row))
    frame["saturated"] = frame["saturated"].astype("boolean")
    return frame
