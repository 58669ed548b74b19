"""results/<study>/training/summary.csv: one row per (design point, trained expert), with the EoE's totals.

Columns: ``point_id``, the point's swept values (points.csv), the expert's row of ``experts.csv``, the
EoE's ``eoe_*`` totals from ``summary.json`` (time to train, tokens/s, energy, carbon, the training share,
chiplets for training and for serving, the package grid and chiplet array) and, for a point whose package also
serves, the ``serving_*`` columns of its ``serving.json`` (latency percentiles, throughput, SLO attainment).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import pandas as pd


def eoe_columns(summary: dict) -> dict:
    colo = summary["colocation"]
    rows, cols = summary["package_grid"]
    ar, ac = summary["chiplet_array"]
    return {
        "eoe_time_to_train_s": summary["time_to_train_s"], "eoe_routers_time_s": summary["routers_time_s"],
        "eoe_tokens_per_s": summary["tokens_per_s"], "eoe_energy_j": summary["energy_j"],
        "eoe_static_energy_j": summary["static_energy_j"], "eoe_carbon_g": summary["carbon_g"],
        "schedule": summary["schedule"], "share": colo["share"],
        "training_chiplets": len(colo["training_chiplets"]), "serving_chiplets": len(colo["serving_chiplets"]),
        "package": f"{rows}x{cols} of {ar}x{ac} arrays", "package_chiplets": summary["package_chiplets"],
    }


def serving_columns(record: dict) -> dict:
    slo = record["goodput"]["slo"]
    return {
        "serving_ttft_p50_s": record["ttft_s"]["p50"], "serving_ttft_p99_s": record["ttft_s"]["p99"],
        "serving_tpot_p99_s": record["tpot_s"]["p99"], "serving_e2e_latency_p99_s": record["e2e_latency_s"]["p99"],
        "serving_tokens_per_s": record["throughput"]["tokens_per_s"],
        "serving_slo_ttft_s": slo["ttft_s"], "serving_slo_tpot_s": slo["tpot_s"],
        "serving_slo_attainment": record["goodput"]["fraction"],
    }


def training_summary(point_dirs: Iterable[Path], points: pd.DataFrame) -> pd.DataFrame:
    """The rows of every point directory (``training/<point>/`` with summary.json, experts.csv and, where
    the package also serves, serving.json)."""
    swept = points[[c for c in points.columns if not c.endswith("_run_id")]].astype({"point_id": str})
    frames = []
    for d in point_dirs:
        d = Path(d)
        experts = pd.read_csv(d / "experts.csv")
        columns = eoe_columns(json.loads((d / "summary.json").read_text()))
        if (d / "serving.json").exists():
            columns.update(serving_columns(json.loads((d / "serving.json").read_text())))
        for key, value in columns.items():
            experts[key] = value
        experts.insert(0, "point_id", d.name)
        frames.append(experts)
    return swept.merge(pd.concat(frames, ignore_index=True), on="point_id", how="right", validate="one_to_many")
