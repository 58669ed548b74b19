"""The MQSim slice of a design point: flash presets, cross-field checks, and the logical address space.

``resolve_point`` turns the schema-validated ``workload.mqsim`` section into the flat, JSON-serialisable
point the templates and the trace generator use: latencies resolved from the technology preset, every
flow's channel/chip/die/plane lists made explicit, seeds fixed, and every trace flow's LBA ranges laid out
and checked against the logical sectors MQSim gives that flow (``flow_logical_sectors``, a transcription
of ``Logical_Address_Partitioning_Unit::Allocate_logical_address_for_flows``). MQSim itself would accept
most mistakes silently - an out-of-range LBA wraps around modulo the flow's range, an ID list entry beyond
the device aborts with a bare ``ERROR:`` - so they are ConfigErrors here, naming key path, value and what
is allowed.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Mapping

from eoesim.errors import ConfigError
from eoesim.simulators.mqsim_trace import SECTOR_BYTES, description_from_params

#: Flash latency presets (ns). SLC and TLC: the values of the shared MQSim calibration dataset
#: (calibration/mqsim/PROVENANCE.md: "representative datasheet-class numbers"; MQSim ships none).
#: MLC: MQSim's compiled-in defaults (src/exec/Flash_Parameter_Set.cpp) and its shipped ssdconfig.xml at
#: commit 7ec40e3 - the same values as simulators/samples/mqsim/ssdconfig.xml.
FLASH_PRESETS: dict[str, dict[str, Any]] = {
    "SLC": {"read_latency_ns": [25000, 25000, 25000], "program_latency_ns": [200000, 200000, 200000],
            "erase_latency_ns": 1500000, "pe_cycles_limit": 100000},
    "MLC": {"read_latency_ns": [75000, 75000, 75000], "program_latency_ns": [750000, 750000, 750000],
            "erase_latency_ns": 3800000, "pe_cycles_limit": 10000},
    "TLC": {"read_latency_ns": [60000, 80000, 100000], "program_latency_ns": [800000, 1600000, 3000000],
            "erase_latency_ns": 5000000, "pe_cycles_limit": 3000},
}
MAX_FLOWS = 8
ID_KEYS = (("channel_ids", "channels"), ("chip_ids", "chips_per_channel"),
           ("die_ids", "dies_per_chip"), ("plane_ids", "planes_per_die"))


def trace_file_name(flow_index: int) -> str:
    """Name of flow ``flow_index``'s trace in the run directory (relative: MQSim resolves it from its CWD)."""
    return f"flow{flow_index}.trace"


def _resource_counts(ssd: Mapping[str, Any]) -> dict[str, int]:
    f = ssd["flash"]
    return {"channels": ssd["channels"], "chips_per_channel": ssd["chips_per_channel"],
            "dies_per_chip": f["dies_per_chip"], "planes_per_die": f["planes_per_die"]}


def resolve_flash(flash: Mapping[str, Any]) -> dict[str, Any]:
    """Flash parameters with the technology preset filled in where no explicit value is given."""
    out = dict(flash)
    for key, value in FLASH_PRESETS[flash["technology"]].items():
        if out.get(key) is None:
            out[key] = copy.deepcopy(value)
    return out


def flow_logical_sectors(ssd: Mapping[str, Any], flows: list[Mapping[str, Any]]) -> list[int]:
    """Logical 512-B sectors MQSim gives each flow (its LBA range is 0..n-1 as seen in a trace).

    Every plane a flow may use contributes ``blocks*pages*sectors_per_page*(1-OP) / flows_sharing_it``
    (truncated per plane, as MQSim does). ``flows`` must carry explicit ID lists (see resolve_point).
    """
    f = ssd["flash"]
    per_plane = f["blocks_per_plane"] * f["pages_per_block"] * (f["page_size_bytes"] // SECTOR_BYTES)
    per_plane *= 1.0 - ssd["overprovisioning_ratio"]
    sharing: dict[tuple[int, int, int, int], int] = {}
    planes_of = []
    for flow in flows:
        planes = [(c, w, d, p) for c in flow["channel_ids"] for w in flow["chip_ids"]
                  for d in flow["die_ids"] for p in flow["plane_ids"]]
        planes_of.append(planes)
        for key in planes:
            sharing[key] = sharing.get(key, 0) + 1
    return [sum(int(per_plane / sharing[key]) for key in planes) for planes in planes_of]


def _check_ssd(ssd: Mapping[str, Any], where: str) -> None:
    if ssd["gc_hard_threshold"] > ssd["gc_exec_threshold"]:
        raise ConfigError(
            f"{where}.gc_hard_threshold: {ssd['gc_hard_threshold']} exceeds gc_exec_threshold="
            f"{ssd['gc_exec_threshold']}; allowed: a value <= gc_exec_threshold"
        )


def _resolve_ids(flow: dict, ssd: Mapping[str, Any], where: str) -> None:
    counts = _resource_counts(ssd)
    for key, count_key in ID_KEYS:
        ids = flow.get(key)
        if ids is None:
            flow[key] = list(range(counts[count_key]))
            continue
        if ssd["host_interface"] == "SATA":
            raise ConfigError(
                f"{where}.{key}: {ids} given with ssd.host_interface=SATA, where MQSim gives every flow all "
                "resources and ignores the list; allowed: null (or host_interface NVME)"
            )
        bad = [i for i in ids if i >= counts[count_key]]
        if bad:
            raise ConfigError(
                f"{where}.{key}: {bad} out of range for {count_key}={counts[count_key]}; "
                f"allowed: integers 0..{counts[count_key] - 1}"
            )


def _check_synthetic(syn: Mapping[str, Any], where: str) -> None:
    if syn["generator"] == "BANDWIDTH":
        need = SECTOR_BYTES * syn["request_size_sectors"]
        if syn["bandwidth_bytes_per_s"] < need:
            raise ConfigError(
                f"{where}.bandwidth_bytes_per_s: {syn['bandwidth_bytes_per_s']} is below 512 x "
                f"request_size_sectors = {need} (MQSim would divide by zero); allowed: >= {need}"
            )
    if syn["stop_time_ns"] == 0 and syn["total_requests"] == 0:
        raise ConfigError(f"{where}.total_requests: 0 with stop_time_ns 0 never ends; allowed: total_requests "
                          ">= 1 or stop_time_ns > 0")
    if syn["request_size_distribution"] == "NORMAL" and 6 * syn["request_size_variance"] > syn["request_size_sectors"]:
        raise ConfigError(
            f"{where}.request_size_variance: {syn['request_size_variance']} with request_size_sectors="
            f"{syn['request_size_sectors']} lets MQSim draw negative sizes, which it wraps to ~4e9 sectors; "
            f"allowed: <= {syn['request_size_sectors'] // 6} (request_size_sectors / 6)"
        )
    if syn["address_distribution"] == "RANDOM_HOTCOLD" and syn["hot_region_pct"] == 0:
        raise ConfigError(f"{where}.hot_region_pct: 0 with address_distribution RANDOM_HOTCOLD; "
                          "allowed: 1..100")


def resolve_point(section: Mapping[str, Any], study_seed: int, where: str = "workload.mqsim") -> dict:
    """The resolved MQSim point (see module docstring); ConfigError on any inconsistency."""
    ssd = copy.deepcopy(dict(section["ssd"]))
    ssd["flash"] = resolve_flash(ssd["flash"])
    _check_ssd(ssd, f"{where}.ssd")
    flows = []
    for i, raw in enumerate(section["flows"]):
        fwhere = f"{where}.flows[{i}]"
        flow = copy.deepcopy(dict(raw))
        _resolve_ids(flow, ssd, fwhere)
        if flow["kind"] == "trace":
            flow.pop("synthetic", None)
            flow["trace_file"] = trace_file_name(i)
            flow["trace_seed"] = int(study_seed) * MAX_FLOWS + i
        else:
            flow.pop("io", None)
            syn = flow["synthetic"]
            _check_synthetic(syn, f"{fwhere}.synthetic")
            if syn.get("seed") is None:
                syn["seed"] = (int(study_seed) * MAX_FLOWS + i) % 2147483647
        flows.append(flow)
    if ssd["enabled_preconditioning"] and any(f["kind"] == "trace" for f in flows):
        raise ConfigError(
            f"{where}.ssd.enabled_preconditioning: true with trace flow(s); MQSim 7ec40e3 preconditions a trace "
            "flow with an address-distribution value it sets only afterwards (src/ssd/FTL.cpp) and aborts with "
            "'Unhandled address distribution type'; allowed: false, or only synthetic flows"
        )
    capacity = flow_logical_sectors(ssd, flows)
    for i, flow in enumerate(flows):
        flow["logical_sectors"] = capacity[i]
        if flow["kind"] != "trace":
            continue
        desc = description_from_params(flow["io"], flow["trace_seed"], f"{where}.flows[{i}].io")
        for t in desc.transfers:
            if t.end_lba > capacity[i]:
                raise ConfigError(
                    f"{where}.flows[{i}].io: transfer {t.name!r} needs sectors {t.start_lba}..{t.end_lba - 1} but "
                    f"the flow has {capacity[i]} logical sectors ({capacity[i] * SECTOR_BYTES} B); allowed: ranges "
                    "inside the flow's capacity (a smaller transfer, or a bigger SSD / fewer flows sharing it)"
                )
        # the resolved LBA layout, so the point (and the run id) records where each transfer lives
        flow["io"]["layout"] = [{"name": t.name, "op": "read" if t.op else "write", "start_lba": t.start_lba,
                                 "sectors": t.sectors, "count": t.count} for t in desc.transfers]
        flow["io"]["total_requests"] = desc.total_requests()
    _check_mapping_cache(ssd, flows, where)
    return {"ssd": ssd, "flows": flows, "seed": int(study_seed)}


def cmt_entry_bytes(ssd: Mapping[str, Any]) -> int:
    """Bytes of one cached mapping table entry as MQSim 7ec40e3 sizes it
    (src/ssd/Address_Mapping_Unit_Page_Level.cpp): ceil((2 log2(physical pages) + sectors per page) / 8)."""
    f = ssd["flash"]
    pages = (ssd["channels"] * ssd["chips_per_channel"] * f["dies_per_chip"] * f["planes_per_die"]
             * f["blocks_per_plane"] * f["pages_per_block"])
    return math.ceil((2 * math.log2(pages) + f["page_size_bytes"] // SECTOR_BYTES) / 8)


def trace_pages(flow: Mapping[str, Any], page_size_bytes: int) -> int:
    """Distinct flash pages (mapping entries) a trace flow's transfers touch (their ranges never overlap)."""
    spp = page_size_bytes // SECTOR_BYTES
    return sum(-(-(t["start_lba"] + t["sectors"]) // spp) - t["start_lba"] // spp for t in flow["io"]["layout"])


def _check_mapping_cache(ssd: Mapping[str, Any], flows: list[Mapping[str, Any]], where: str) -> None:
    """The trace flows' pages must fit in MQSim's cached mapping table (CMT), unless the table is ideal.

    MQSim 7ec40e3 strands a read when the CMT has to evict: reproduced with a burst of 2000 x 2-MiB reads of
    distinct addresses on a TLC 8x4 SSD (512,000 pages, CMT 2 MiB = 233,016 entries): 1999 of 2000 requests
    were serviced and the run ended when MQSim's event queue ran dry, with one read still waiting for its
    mapping entry. The same run with 600 requests (153,600 pages) or an 8-MiB CMT serviced every request.
    """
    traces = [f for f in flows if f["kind"] == "trace"]
    if ssd["ideal_mapping_table"] or not traces:
        return
    entry_bytes = cmt_entry_bytes(ssd)
    entries = ssd["cmt_capacity_bytes"] // entry_bytes
    per_flow = [trace_pages(f, ssd["flash"]["page_size_bytes"]) for f in traces]
    shared = ssd["cmt_sharing_mode"] == "SHARED"
    needed, available = (sum(per_flow), entries) if shared else (max(per_flow), entries // len(flows))
    if needed <= available:
        return
    minimum = needed * entry_bytes * (1 if shared else len(flows))
    raise ConfigError(
        f"{where}.ssd.cmt_capacity_bytes: {ssd['cmt_capacity_bytes']} holds {available} mapping entries"
        f"{'' if shared else ' per flow'} but the trace flows touch {needed} distinct flash pages; MQSim 7ec40e3 "
        "then evicts mapping entries and can leave a read unserviced (a 2000 x 2-MiB burst ended with 1999 "
        f"serviced); allowed: cmt_capacity_bytes >= {minimum}, or ssd.ideal_mapping_table: true, or transfers "
        "that touch fewer pages"
    )
