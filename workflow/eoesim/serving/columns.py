"""The columns of ``e2e/summary.csv``: every column name written out once, with where it comes from.

Each entry is ``(column, path)``: the value at that path of ``summary.json`` (keys joined by ``/``), so
``grep ttft_p99_s`` finds both the definition and every reader. Provenance travels with the numbers:
``component_sources`` and ``fidelity_ops`` are JSON strings of the summary's lists.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from eoesim.serving.metrics import BREAKDOWN_CATEGORIES

COLUMNS: tuple[tuple[str, str], ...] = (
    ("requests", "requests"),
    ("unfinished_requests", "unfinished_requests"),
    ("output_tokens", "output_tokens"),
    ("ttft_mean_s", "ttft_s/mean"), ("ttft_p50_s", "ttft_s/p50"), ("ttft_p90_s", "ttft_s/p90"),
    ("ttft_p95_s", "ttft_s/p95"), ("ttft_p99_s", "ttft_s/p99"), ("ttft_max_s", "ttft_s/max"),
    ("tpot_mean_s", "tpot_s/mean"), ("tpot_p50_s", "tpot_s/p50"), ("tpot_p90_s", "tpot_s/p90"),
    ("tpot_p95_s", "tpot_s/p95"), ("tpot_p99_s", "tpot_s/p99"), ("tpot_max_s", "tpot_s/max"),
    ("e2e_latency_mean_s", "e2e_latency_s/mean"), ("e2e_latency_p50_s", "e2e_latency_s/p50"),
    ("e2e_latency_p90_s", "e2e_latency_s/p90"), ("e2e_latency_p95_s", "e2e_latency_s/p95"),
    ("e2e_latency_p99_s", "e2e_latency_s/p99"), ("e2e_latency_max_s", "e2e_latency_s/max"),
    ("itl_mean_s", "itl_s/mean"), ("itl_p99_s", "itl_s/p99"),
    ("queueing_mean_s", "queueing_s/mean"), ("queueing_p99_s", "queueing_s/p99"),
    ("throughput_requests_per_s", "throughput/requests_per_s"),
    ("throughput_tokens_per_s", "throughput/tokens_per_s"),
    ("goodput_fraction", "goodput/fraction"), ("goodput_requests_per_s", "goodput/requests_per_s"),
    ("batch_size_mean", "batch/size/mean"), ("batch_size_p99", "batch/size/p99"),
    ("preemptions", "preemptions/total"),
    ("chiplet_utilization_mean", "utilization/chiplets_mean"),
    ("chiplet_utilization_max", "utilization/chiplets_max"),
    ("chiplets_used", "utilization/chiplets_used"),
    ("hbm_utilization", "utilization/hbm"), ("ddr_utilization", "utilization/ddr"),
    ("ssd_utilization", "utilization/ssd"), ("network_utilization", "utilization/network"),
    ("cache_hit_rate", "cache/hit_rate"),
    ("energy_per_token_j", "energy/per_token_j"), ("energy_total_j", "energy/total_j"),
    ("energy_dynamic_j", "energy/dynamic_j"), ("energy_static_j", "energy/static_j"),
    ("energy_compute_j", "energy/by_component_j/compute"), ("energy_sram_j", "energy/by_component_j/sram"),
    ("energy_hbm_j", "energy/by_component_j/hbm"), ("energy_ddr_j", "energy/by_component_j/ddr"),
    ("energy_ssd_j", "energy/by_component_j/ssd"), ("energy_network_j", "energy/by_component_j/network"),
    ("energy_static_chiplets_j", "energy/by_component_j/static_chiplets"),
    ("energy_static_hbm_j", "energy/by_component_j/static_hbm"),
    ("energy_static_ddr_j", "energy/by_component_j/static_ddr"),
    ("energy_static_ssd_j", "energy/by_component_j/static_ssd"),
    ("carbon_g_per_1k_tokens", "carbon_g_per_1k_tokens"),
    ("carbon_operational_g_per_1k_tokens", "carbon/operational_g_per_1k_tokens"),
    ("carbon_embodied_g_per_1k_tokens", "carbon/embodied_g_per_1k_tokens"),
    ("e2e_latency_rel_error_mean", "latency_rel_error/e2e_mean"),
    ("breakdown_routing_s", "latency_breakdown_s/routing"),
    ("breakdown_expert_load_s", "latency_breakdown_s/expert_load"),
    ("breakdown_compute_s", "latency_breakdown_s/compute"),
    ("breakdown_memory_s", "latency_breakdown_s/memory"),
    ("breakdown_network_s", "latency_breakdown_s/network"),
    ("breakdown_composition_s", "latency_breakdown_s/composition"),
    ("breakdown_queueing_s", "latency_breakdown_s/queueing"),
)
JSON_COLUMNS = ("component_sources", "fidelity_ops")
BREAKDOWN_COLUMNS = {c: f"breakdown_{c}_s" for c in BREAKDOWN_CATEGORIES}


def lookup(summary: Mapping[str, Any], path: str) -> Any:
    node: Any = summary
    for key in path.split("/"):
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def summary_row(point_id: str, summary: Mapping[str, Any]) -> dict[str, Any]:
    """One row of ``e2e/summary.csv`` (units in the column names)."""
    row: dict[str, Any] = {"point": point_id}
    for column, path in COLUMNS:
        row[column] = lookup(summary, path)
    for column in JSON_COLUMNS:
        row[column] = json.dumps(summary.get(column), sort_keys=True)
    return row
