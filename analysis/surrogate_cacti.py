"""CACTI surrogate: energy per access, leakage, area and timing of an on-chip SRAM, power laws in its size.

Form, per family (technology node, cell type, SRAM kind, ways, block bytes, banks) and output y: between two
calibrated sizes S_i < S < S_i+1 of the family, y follows the power law through their real CACTI values::

    ln y(S) = ln y_i + (ln y_i+1 - ln y_i) * (ln S - ln S_i) / (ln S_i+1 - ln S_i)

(piecewise linear in log-log; exact at the calibrated sizes). Reasoning: an SRAM of S bytes is a grid of
~sqrt(S) x sqrt(S) cells, so its area and leakage grow ~S and the energy of one access ~sqrt(S) (bitlines,
wordlines and the H-tree span the array) - a power law, whose local exponent the two neighbouring runs
give. CACTI picks a discrete subarray organisation (Ndwl, Ndbl, Nspd) per size, so its outputs jump
between sizes: no smooth global curve fits them to a few percent (a cubic in log size errs ~10 %), and
the held-out error (a size interpolated from its neighbours) is what this form states. A node between two
fitted nodes is interpolated linearly in the node (as CACTI interpolates its technology tables), outside
the validated domain.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from eoesim.analysis.study_tables import Runs, StudyTable, nothing_unmet
from eoesim.analysis.surrogate import FitError, Surrogate, register_surrogate

FAMILY = ("technology_nm", "cell_type", "kind", "associativity", "block_bytes", "banks")
OUTPUTS = ("read_energy_nJ", "write_energy_nJ", "leakage_mW", "area_mm2", "access_time_ns", "cycle_time_ns")
SEP = "|"


def _family(node, cell, kind, ways, block, banks) -> tuple:
    return (int(node), str(cell), str(kind), int(ways), int(block), int(banks))


def _key(family: tuple, output: str, size: int) -> str:
    return SEP.join([*map(str, family), output, str(int(size))])


@register_surrogate
class CactiSurrogate(Surrogate):
    """Power laws in SRAM size between calibrated CACTI runs, per node and organisation (see the module docstring)."""

    simulator = "cacti"
    form = "loglog_piecewise_size_per_node_v1"
    inputs = ("size_bytes", "block_bytes", "banks", "associativity", "technology_nm", "temperature_k", "rw_ports",
              "read_ports", "write_ports")
    categorical_inputs = ("cell_type", "peripheral_type", "kind")
    outputs = OUTPUTS
    primary = ("read_energy_nJ", "leakage_mW", "area_mm2")
    holdout_groups = ("size_bytes", "technology_nm")

    def _fit(self, frame: pd.DataFrame) -> None:
        params = {}
        for key, rows in frame.groupby(list(FAMILY), sort=True):
            sizes = rows["size_bytes"].astype(int)
            if sizes.nunique() < 2:
                raise FitError(f"cacti surrogate: family {key} has {sizes.nunique()} size(s); at least 2 needed")
            means = np.log(rows[list(OUTPUTS)].astype(float)).groupby(rows["size_bytes"]).mean()
            for size, logs in means.iterrows():
                for out in OUTPUTS:
                    params[_key(_family(*key), out, size)] = round(float(logs[out]), 9)
        self.params = params
        self.uncertainty = {}

    # ---- prediction
    def _tables(self) -> dict[tuple, dict[str, tuple[np.ndarray, np.ndarray]]]:
        """family -> output -> (ln sizes ascending, ln values), from the stored parameters."""
        points: dict[tuple, dict[str, list]] = {}
        for name, value in self.params.items():
            *fam, out, size = name.split(SEP)
            points.setdefault(_family(*fam), {}).setdefault(out, []).append((np.log(float(size)), value))
        return {fam: {out: tuple(np.array(v) for v in zip(*sorted(pts))) for out, pts in outs.items()}
                for fam, outs in points.items()}

    @staticmethod
    def _nodes(tables, fam_rest: tuple, node: float) -> tuple[int, int] | None:
        nodes = sorted(f[0] for f in tables if f[1:] == fam_rest)
        lo = max((n for n in nodes if n <= node), default=None)
        hi = min((n for n in nodes if n >= node), default=None)
        return None if lo is None or hi is None else (lo, hi)

    def _predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        tables = self._tables()
        logs = {out: np.full(len(frame), np.nan) for out in OUTPUTS}
        for i, row in enumerate(frame[["technology_nm", "cell_type", "kind", "associativity", "block_bytes",
                                       "banks", "size_bytes"]].itertuples(index=False)):
            node, rest = float(row[0]), _family(0, *row[1:6])[1:]
            bracket = self._nodes(tables, rest, node)
            if bracket is None:
                continue
            lo, hi = bracket
            x = np.log(float(row[6]))
            w = 0.0 if hi == lo else (node - lo) / (hi - lo)
            for out in OUTPUTS:
                xs_lo, ys_lo = tables[(lo, *rest)][out]
                xs_hi, ys_hi = tables[(hi, *rest)][out]
                if not (max(xs_lo[0], xs_hi[0]) <= x <= min(xs_lo[-1], xs_hi[-1])):
                    continue
                logs[out][i] = (1 - w) * np.interp(x, xs_lo, ys_lo) + w * np.interp(x, xs_hi, ys_hi)
        return {out: np.exp(v) for out, v in logs.items()}

    def constraint_violations(self, frame: pd.DataFrame, values=None) -> list[tuple[np.ndarray, str]]:
        tables = self._tables()
        fitted = {f[1:] for f in tables}
        no_family, unfitted_node, outside = (np.zeros(len(frame), dtype=bool) for _ in range(3))
        for i, row in enumerate(frame[["technology_nm", "cell_type", "kind", "associativity", "block_bytes",
                                       "banks", "size_bytes"]].itertuples(index=False)):
            node, rest = float(row[0]), _family(0, *row[1:6])[1:]
            if rest not in fitted:
                no_family[i] = True
            elif (int(node), *rest) not in tables or node != int(node):
                unfitted_node[i] = True
            else:
                xs = tables[(int(node), *rest)]["area_mm2"][0]
                outside[i] = not xs[0] <= np.log(float(row[6])) <= xs[-1]
        out = []
        if no_family.any():
            out.append((no_family, "no fitted (cell_type, kind, associativity, block_bytes, banks) organisation "
                                   f"({int(no_family.sum())} row(s))"))
        if unfitted_node.any():
            out.append((unfitted_node, "technology_nm between fitted nodes: interpolated, not validated "
                                       f"({int(unfitted_node.sum())} row(s))"))
        if outside.any():
            out.append((outside,
                        f"size_bytes outside its organisation's calibrated sizes ({int(outside.sum())} row(s))"))
        return out

    def constraint_descriptions(self) -> list[str]:
        return ["organisations (technology_nm, cell_type, kind, associativity, block_bytes, banks) as calibrated; a "
                "node between calibrated nodes is interpolated (not validated)",
                "size_bytes within the calibrated sizes of its organisation (no extrapolation)"]


def training_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """Successful CACTI rows (a calibration dataset's ``status == ok``, or a study's real table)."""
    rows = raw[raw["status"] == "ok"] if "status" in raw else raw
    cols = [*CactiSurrogate.inputs, *CactiSurrogate.categorical_inputs, *OUTPUTS]
    return rows[cols].reset_index(drop=True)


# ------------------------------------------------------------------------------------ study tables
# how a real study table becomes this pack's calibration dataset (eoesim.analysis.study_calibration)
CACTI_MIN_SIZES = 3


def cacti_dataset(table: pd.DataFrame, runs: Runs) -> pd.DataFrame:
    """One row per SRAM (the table has the dataset's columns); CACTI is deterministic, so the same SRAM in several
    runs (ifmap and filter of one size, or another design point) is one observation, kept once. Every setting is an
    input of the pack (those a study holds fixed bound its domain), but each family (node, cell type, kind, ways)
    needs SRAMs of at least ``CACTI_MIN_SIZES`` sizes to fit its curve in size."""
    key = [*CactiSurrogate.inputs, *CactiSurrogate.categorical_inputs]
    out = table.drop_duplicates(subset=key).reset_index(drop=True).copy()
    out["status"] = "ok"
    return out


def cacti_unidentified(runs: Runs) -> list[str]:
    """A family's curve in size needs SRAMs of CACTI_MIN_SIZES sizes or more (the design points' SRAMs pooled)."""
    sizes: dict[tuple, set] = {}
    for point in runs.values():
        for s in point["srams"]:
            family = (point["technology_nm"], point["cell_type"], s["kind"], s["associativity"])
            sizes.setdefault(family, set()).add(s["size_bytes"])
    few = {k: sorted(v) for k, v in sizes.items() if len(v) < CACTI_MIN_SIZES}
    if not few:
        return []
    family, got = next(iter(few.items()))
    return [f"the CACTI runs give family (node, cell type, kind, ways) {family} SRAMs of {len(got)} size(s) {got}; "
            f"allowed: at least {CACTI_MIN_SIZES} sizes per family (sweep hardware.chiplet.sram_kib)"]


CactiSurrogate.study_table = StudyTable(nothing_unmet, cacti_dataset, cacti_unidentified)
