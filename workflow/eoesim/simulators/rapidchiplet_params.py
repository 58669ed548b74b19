"""Cross-field checks of ``workload.rapidchiplet`` (what the JSON Schema cannot say) and derived values.

Every problem is a ConfigError naming the key path, the value and what is allowed, raised when the design
point is resolved (DAG-build time), not inside the job.
"""
from __future__ import annotations

import copy
import hashlib
from typing import Any, Mapping

from eoesim.errors import ConfigError
from eoesim.provenance import canonical_json
from eoesim.simulators.rapidchiplet_package import DESIGN_TOPOLOGIES, column_kinds

KEY = "workload.rapidchiplet"
HEX_TOPOLOGIES = ("hexamesh", "hexatorus", "folded_hexatorus")
TORUS_LIKE = ("torus", "folded_torus")
RANDOM_PATTERNS = ("permutation", "hotspot")


def _fail(key: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{KEY}.{key}: {value!r} is not allowed here; allowed: {allowed}")


def n_chiplets(wl: Mapping[str, Any]) -> int:
    if wl["route"] == "experiment" and wl["hex_radius"] is not None:
        r = wl["hex_radius"]
        return 3 * r * (r + 1) + 1
    return wl["grid"][0] * len(column_kinds(wl))


def design_name(point: Mapping[str, Any]) -> str:
    """A name unique to the point: RapidChiplet names its result and BookSim files after it."""
    return "eoe_" + hashlib.sha256(canonical_json(dict(point)).encode()).hexdigest()[:12]


def _check_design_route(wl: Mapping[str, Any]) -> None:
    topo, (rows, _) = wl["topology"], wl["grid"]
    cols = len(column_kinds(wl))
    if topo not in DESIGN_TOPOLOGIES:
        _fail("topology", topo, f"one of {list(DESIGN_TOPOLOGIES)} with route design, or route experiment")
    if wl["hex_radius"] is not None:
        _fail("hex_radius", wl["hex_radius"], "null with route design (hexagonal placements need route experiment)")
    if rows * cols < 2:
        _fail("grid", wl["grid"], "at least 2 chiplets in the package")
    if topo in TORUS_LIKE and (rows == 2 or cols == 2):
        _fail("grid", wl["grid"], f"every dimension 1 or >= 3 for {topo} (with 2 the wrap-around link would "
              f"duplicate the mesh link; package columns incl. edge columns: {cols})")
    traffic = wl["traffic"]
    kinds = set(column_kinds(wl))
    n = n_chiplets(wl)
    pattern = traffic["pattern"]
    if pattern == "random_uniform":
        for role in ("senders", "receivers"):
            absent = [k for k in traffic[role] if k not in kinds]
            if absent:
                _fail(f"traffic.{role}", traffic[role], f"chiplet types present in the package {sorted(kinds)}")
        kind_list = column_kinds(wl)
        senders = [(r, c) for r in range(rows) for c, k in enumerate(kind_list) if k in traffic["senders"]]
        receivers = [(r, c) for r in range(rows) for c, k in enumerate(kind_list) if k in traffic["receivers"]]
        if not any(s != d for s in senders for d in receivers):
            _fail("traffic", traffic, "senders and receivers that give at least one pair of chiplets")
    if pattern == "transpose" and wl["grid"][0] != wl["grid"][1]:
        _fail("traffic.pattern", pattern, "transpose only with a square compute grid (rows == cols)")
    if pattern == "hotspot":
        if traffic["hotspots"] is not None:
            bad = [h for h in traffic["hotspots"] if h >= n]
            if bad or not traffic["hotspots"]:
                _fail("traffic.hotspots", traffic["hotspots"], f"a non-empty list of chiplet ids 0..{n - 1}")
        elif traffic["hotspot_count"] > n:
            _fail("traffic.hotspot_count", traffic["hotspot_count"], f"at most the {n} chiplets of the package")
    matrix = traffic["matrix"]
    if pattern == "matrix":
        if matrix is None or len(matrix) != n or any(len(r) != n for r in matrix):
            shape = None if matrix is None else [len(matrix), sorted({len(r) for r in matrix})]
            _fail("traffic.matrix", shape, f"a {n} x {n} matrix (all chiplets, in id order)")
        if any(matrix[i][i] != 0 for i in range(n)):
            _fail("traffic.matrix", "non-zero diagonal",
                  "zero diagonal (traffic within a chiplet does not use the package)")
        if not any(v > 0 for r in matrix for v in r):
            _fail("traffic.matrix", "all zero", "at least one positive weight")
    elif matrix is not None:
        _fail("traffic.matrix", "a matrix", "null unless traffic.pattern is matrix")


def _check_experiment_route(wl: Mapping[str, Any]) -> None:
    topo = wl["topology"]
    if any(v != "none" for v in wl["edge_columns"].values()):
        _fail("edge_columns", dict(wl["edge_columns"]),
              "none on both sides with route experiment (compute chiplets only)")
    if wl["routing"] != "shortest_path":
        _fail("routing", wl["routing"], "shortest_path with route experiment (choose routing_algorithm instead)")
    if topo in HEX_TOPOLOGIES and wl["hex_radius"] is None:
        _fail("hex_radius", None, f"an integer >= 1 for {topo} (hexagonal placement)")
    if topo not in HEX_TOPOLOGIES and wl["hex_radius"] is not None:
        _fail("hex_radius", wl["hex_radius"], f"null for {topo} (grid placement, set grid)")
    traffic, n = wl["traffic"], n_chiplets(wl)
    if traffic["pattern"] == "matrix" or traffic["matrix"] is not None:
        _fail("traffic.pattern", traffic["pattern"],
              "random_uniform, transpose, permutation or hotspot with route experiment")
    if traffic["hotspots"] is not None:
        _fail("traffic.hotspots", traffic["hotspots"],
              "null with route experiment (RapidChiplet draws hotspot_count hotspots)")
    if traffic["senders"] != ["compute"] or traffic["receivers"] != ["compute"]:
        _fail("traffic.senders/receivers", [traffic["senders"], traffic["receivers"]],
              "[compute] with route experiment")
    if traffic["pattern"] == "transpose" and (wl["hex_radius"] is not None or wl["grid"][0] != wl["grid"][1]):
        _fail("traffic.pattern", "transpose",
              "transpose only on a square grid (RapidChiplet exits with an error otherwise)")
    if traffic["pattern"] == "hotspot" and traffic["hotspot_count"] > n:
        _fail("traffic.hotspot_count", traffic["hotspot_count"], f"at most the {n} chiplets of the package")
    if wl["booksim"]["sample_period"] is not None:
        _fail("booksim.sample_period", wl["booksim"]["sample_period"],
              "null with route experiment (run_experiment.py sets 500 + 300 x chiplets itself)")
    if wl["booksim"]["enabled"] and topo in ("torus", "folded_torus") and 2 in wl["grid"]:
        _fail("grid", wl["grid"], f"no dimension of 2 for {topo} with booksim.enabled (RapidChiplet exports the "
              "parallel wrap-around link and BookSim aborts in IQRouter::_VCAllocEvaluate)")


def _check_technologies(wl: Mapping[str, Any]) -> None:
    techs = wl["technologies"]
    used = ["compute"] if wl["route"] == "experiment" else list(dict.fromkeys(column_kinds(wl)))
    for kind in used:
        tech = wl["chiplets"][kind]["technology"]
        if tech not in techs:
            _fail(f"chiplets.{kind}.technology", tech, f"one of the technologies {sorted(techs)}")
    pkg = wl["packaging"]
    if pkg["has_interposer"] and pkg["interposer_technology"] not in techs:
        _fail("packaging.interposer_technology", pkg["interposer_technology"],
              f"one of the technologies {sorted(techs)}")


def resolve(wl: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """The point parameters of a validated section: checked, with the seed only where it matters."""
    wl = copy.deepcopy(dict(wl))
    if wl["route"] == "design":
        _check_design_route(wl)
    else:
        _check_experiment_route(wl)
    _check_technologies(wl)
    traffic = wl["traffic"]
    random_traffic = traffic["pattern"] == "permutation" or (
        traffic["pattern"] == "hotspot" and traffic["hotspots"] is None)
    wl["seed"] = seed if random_traffic else None
    return wl
