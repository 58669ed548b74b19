"""Print the held-out accuracy of every shipped surrogate pack as a table.

``python benchmarks/surrogate_accuracy.py [--refit] [--packs-dir analysis/packs]``

Columns: pack, metric, n_train (rows with a valid target), CV MAPE (5-fold, rows inside the
validity domain), leave-one-regime-out MAPE per held-out column (every interior value of a numeric
column - a request size, a mesh size, a load - held out in turn and predicted by a model fitted without
it; inside the domain), the same for every level of a categorical column - a pattern, a technology - (an
unseen regime: a pack fitted without it refuses such queries, so it is shown, not targeted), the largest
single error over CV and the numeric hold-outs, the max error the pack states for queries inside its
domain, and the domain (rows inside / all, first constraint).
By default the numbers stored in the packs are printed; ``--refit`` recomputes them from the
calibration datasets (what ``python -m eoesim.analysis.calibrate`` does, without writing packs).
Primary metrics (the issue's <= 3 % target) are marked with '*'.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

from eoesim.analysis import calibrate
from eoesim.analysis.accuracy import TARGET_PCT, Errors, metric_errors
from eoesim.analysis.packs import PACKS_DIR, available_packs, load_pack


def rows_for(model) -> list[dict]:
    """The printed rows of one pack (errors from eoesim.analysis.accuracy, the figure's source too)."""
    v = model.validation
    out = []
    for e in metric_errors(model):
        g_txt = "; ".join(f"{col}: {g.mape_pct:.2f}" for col, g in e.held_out.items() if math.isfinite(g.mape_pct))
        u_txt = "; ".join(f"{col}: {g.mape_pct:.1f}" for col, g in e.unseen.items() if math.isfinite(g.mape_pct))
        out.append({
            "pack": e.pack,
            "metric": e.metric + (" *" if e.primary else "") + (" (all rows)" if e.scope == "all_rows" else ""),
            "n_train": "" if e.n_train is None else e.n_train,
            "cv_mape_pct": round(e.cv.mape_pct, 2),
            "leave_one_regime_out_mape_pct": g_txt or "-",
            "unseen_regime_mape_pct": u_txt or "-",
            "max_err_pct": round(e.max_err_pct, 1),
            "stated_max_pct": round(e.stated_max_pct, 1),
            "target": ("ok" if e.meets_target else f"MISSES {TARGET_PCT:g}%") if e.primary else "",
            "domain": f"{v.get('n_in_domain', '?')}/{v.get('n_rows', '?')} rows; "
                      + " | ".join(model.domain.constraints[:1]),
        })
        by = [k for k in v if k.startswith("cv_by_")]
        if e.primary and by:
            for level, stats in v[by[0]].items():
                s = Errors.from_dict(stats.get(e.metric, {}))
                if s.n:
                    out.append({"pack": "", "metric": f"  {by[0][6:]}={level}", "n_train": s.n,
                                "cv_mape_pct": round(s.mape_pct, 2), "leave_one_regime_out_mape_pct": "",
                                "unseen_regime_mape_pct": "", "max_err_pct": round(s.max_ape_pct, 1),
                                "stated_max_pct": "", "target": "",
                                "domain": ""})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refit", action="store_true", help="refit and revalidate from the calibration data")
    parser.add_argument("--packs-dir", type=Path, default=PACKS_DIR)
    parser.add_argument("--breakdown", action="store_true", help="also print the CV error per category level")
    args = parser.parse_args(argv)
    rows = []
    for name in calibrate.DATASETS:
        if args.refit:
            src = calibrate.dataset_path(name)
            model = calibrate.fit_pack(name, pd.read_csv(src), src)
        else:
            if name not in available_packs(args.packs_dir):
                print(f"{name}: no pack in {args.packs_dir} (run python -m eoesim.analysis.calibrate)")
                continue
            model = load_pack(name, args.packs_dir)
        rows += [r for r in rows_for(model) if args.breakdown or r["pack"] != "" or "traffic_pattern" in r["metric"]]
    table = pd.DataFrame(rows)
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250,
                           "display.max_colwidth", 70):
        print(table.to_string(index=False))
    print("\n* primary metric (target: CV and leave-one-regime-out MAPE <= 3 % inside the domain)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
