"""The refine step: which simulators re-run the top-k points at simulate fidelity, which points, and the
table comparing each point's sweep-fidelity objectives with its refined ones (``dse/pareto.csv``).

The sweep is evaluated at the study's fidelities (typically surrogates for a large sweep). The refine
step re-runs the top-k points (:func:`eoesim.dse.pareto.top_k`) with the real simulator of every
simulator whose study fidelity is ``surrogate`` but whose binary is available here, keeps the runs of
simulators already simulated, and leaves the others at their surrogate (recorded per simulator in
``refine.json``), then re-stitches those points. A refined run has the same run id as the sweep's
(the run id is the simulator's slice of the design point, whatever the fidelity).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from eoesim.dse.objectives import AREA_OBJECTIVE, summary_objectives, usable_objectives
from eoesim.dse.pareto import pareto_mask, pareto_rank, top_k


def refine_choices(plan) -> dict[str, dict[str, Any]]:
    """Per simulator of the plan: its study fidelity, its refined fidelity, whether it re-runs, and why."""
    out = {}
    for sim in sorted(plan.runs):
        study = plan.fidelity[sim].chosen
        if study == "simulate":
            out[sim] = {"study_fidelity": study, "refined_fidelity": "simulate", "rerun": False,
                        "reason": "already simulated at the study's fidelity"}
            continue
        avail = plan.simulator(sim).availability()
        if avail.available:
            out[sim] = {"study_fidelity": study, "refined_fidelity": "simulate", "rerun": True,
                        "reason": f"{sim} {avail.version} available ({avail.mode}): re-run"}
        else:
            out[sim] = {"study_fidelity": study, "refined_fidelity": study, "rerun": False,
                        "reason": f"{sim} not available here ({avail.detail or avail.version}): stays {study}"}
    return out


def objective_frame(summaries: Mapping[str, Mapping[str, Any]], areas: Mapping[str, float],
                    labels: Mapping[str, str]) -> pd.DataFrame:
    """One row per point (in the given order): point_id, label, every e2e objective, area if known."""
    rows = []
    for pid, summary in summaries.items():
        row = {"point_id": pid, "label": labels.get(pid, pid), **summary_objectives(summary)}
        if pid in areas:
            row[AREA_OBJECTIVE] = areas[pid]
        rows.append(row)
    return pd.DataFrame(rows)


def select_refine(frame: pd.DataFrame, objectives: list[str], k: int, choices: Mapping[str, Mapping[str, Any]],
                  point_runs: Mapping[str, Mapping[str, str]], areas: Mapping[str, float]) -> dict[str, Any]:
    """The content of ``refine.json``: objectives used, the chosen points, and per simulator the run ids
    to re-run (empty when it does not re-run)."""
    used, note = usable_objectives(objectives, areas, list(frame["point_id"]))
    chosen = list(top_k(frame, used, k)["point_id"]) if k > 0 else []
    sims = {}
    for sim, choice in choices.items():
        run_ids = sorted({point_runs[p][sim] for p in chosen if sim in point_runs[p]})
        sims[sim] = {**choice, "run_ids": run_ids if choice["rerun"] else []}
    return {"objectives": used, "note": note, "top_k": k, "points": chosen, "simulators": sims}


def refined_runs(point_runs: Mapping[str, str], choices: Mapping[str, Mapping[str, Any]],
                 study_table, refined_table) -> dict[str, dict[str, Any]]:
    """sim -> {run_id, table} of one point's refined stitch: re-run simulators read their refined table,
    the others the study's table (``study_table(sim)`` / ``refined_table(sim)`` give the paths)."""
    return {sim: {"run_id": rid, "table": str(refined_table(sim) if choices[sim]["rerun"] else study_table(sim))}
            for sim, rid in point_runs.items()}


def pareto_table(sweep: pd.DataFrame, refined: pd.DataFrame, selection: Mapping[str, Any]) -> pd.DataFrame:
    """``dse/pareto.csv``: per point its objectives at the sweep's fidelity, refined (empty if not
    refined) and their relative difference (refined - sweep) / sweep; Pareto membership and rank at the
    sweep's fidelity, and the front of the final values (refined where refined, else the sweep's)."""
    objectives = list(selection["objectives"])
    out = sweep[["point_id", "label", *objectives]].copy()
    ref = refined.set_index("point_id") if not refined.empty else pd.DataFrame(columns=objectives)
    out["refined"] = out["point_id"].isin(ref.index)
    for o in objectives:
        values = out["point_id"].map(ref[o]) if o in ref.columns else pd.Series(np.nan, index=out.index)
        out[f"{o}_refined"] = values.astype(float)
        out[f"{o}_rel_diff"] = (out[f"{o}_refined"] - out[o]) / out[o]
    out["pareto"] = pareto_mask(out, objectives).to_numpy()
    out["pareto_rank"] = pareto_rank(out, objectives).to_numpy()
    final = out[objectives].copy()
    for o in objectives:
        final[o] = out[f"{o}_refined"].where(out["refined"], out[o])
    out["pareto_final"] = pareto_mask(final, objectives).to_numpy()
    rerun = sorted(s for s, c in selection["simulators"].items() if c["rerun"])
    kept = sorted(s for s, c in selection["simulators"].items() if not c["rerun"]
                  and c["refined_fidelity"] != "simulate")
    out["refined_simulators"] = np.where(out["refined"], "+".join(rerun), "")
    out["surrogate_simulators"] = np.where(out["refined"], "+".join(kept), "")
    return out
