"""Input functions of the DSE rules (workflow/rules/dse.smk), kept here so the rules file holds rules only.

The refined runs are known only once checkpoint select_refine has written ``dse/refine.json``; the
methods that need it take Snakemake's ``checkpoints`` object.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from eoesim.dse.refine import refined_runs


class DseInputs:
    """Paths and input functions of one study's DSE stage."""

    def __init__(self, plan, paths, choices: Mapping[str, Mapping[str, Any]]):
        self.plan = plan
        self.paths = paths
        self.choices = choices
        #: the area objective's source table, when the study has one
        self.area_tables = [str(paths.table("rapidchiplet"))] if "rapidchiplet" in plan.runs else []

    def targets(self) -> list[Path]:
        """The Pareto table and figure, when the study has at least two points to compare."""
        if len(self.plan.study.points) < 2:
            return []
        return [self.paths.dse_dir / "pareto.csv"] + self.paths.figure_files("pareto")

    def refined_table(self, sim: str) -> Path:
        return self.paths.refined.table(sim)

    @staticmethod
    def selection(wildcards, checkpoints) -> dict:
        with open(checkpoints.select_refine.get(study=wildcards.study).output[0]) as handle:
            return json.load(handle)

    def refined_result_csvs(self, wildcards, checkpoints) -> list[str]:
        run_ids = self.selection(wildcards, checkpoints)["simulators"][wildcards.simulator]["run_ids"]
        return [str(self.paths.run_dir(wildcards.simulator, rid) / "result.csv") for rid in run_ids]

    def point_runs(self, point: str) -> dict[str, dict[str, Any]]:
        runs = refined_runs(self.plan.point_runs[point], self.choices, self.paths.table, self.refined_table)
        for sim, info in runs.items():
            info["point"] = self.plan.runs[sim][info["run_id"]]
        return runs

    def refined_tables(self, wildcards) -> list[str]:
        return sorted({info["table"] for info in self.point_runs(wildcards.point).values()})

    def refined_runs_json(self, wildcards) -> str:
        return json.dumps(self.point_runs(wildcards.point), sort_keys=True)

    def refined_summaries(self, wildcards, checkpoints) -> list[str]:
        return [str(self.paths.refined.e2e_dir(pid) / "summary.json")
                for pid in self.selection(wildcards, checkpoints)["points"]]

    def refined_area_tables(self, wildcards, checkpoints) -> list[str]:
        if self.choices.get("rapidchiplet", {}).get("rerun") and self.selection(wildcards, checkpoints)["points"]:
            return [str(self.refined_table("rapidchiplet"))]
        return self.area_tables
