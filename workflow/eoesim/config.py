"""Load and validate a study config, and expand its sweep into design points.

Validation uses the same JSON Schema (workflow/schemas/config.schema.yaml) that Snakemake checks at
DAG-build time, fills in its defaults, and turns every violation into one line that names the key path,
the bad value and what is allowed. Design point ids are the first 12 hex digits of the sha256 of the
canonical JSON of the point's resolved parameters.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from eoesim.dse.objectives import check_dse
from eoesim.dse.sampling import check_ranges, sample_rows
from eoesim.eoe.expert import Expert, resolve_expert, resolve_experts
from eoesim.errors import ConfigError
from eoesim.provenance import canonical_json
from eoesim.schema import iter_value_errors, load_schema, validate_against
from eoesim.yamlfile import read_yaml

POINT_ID_LEN = 12
#: keys of the study that are not parameters of a design point
NON_PARAMETER_KEYS = ("study", "sweep", "figures", "dse", "sanity")


def validate(config: Mapping[str, Any], source: str = "config") -> dict:
    """A validated copy of a study config with defaults filled in."""
    return validate_against(config, load_schema(), source, "study config")


def schema_at(key: str) -> dict | None:
    """The sub-schema of a dotted key path (``hardware.chiplet.array``), or None if there is none."""
    node = load_schema()
    for part in key.split("."):
        node = node.get("properties", {}).get(part)
        if node is None:
            return None
    return node


def sweepable_keys() -> list[str]:
    """Every dotted path a sweep may name."""
    def walk(node: dict, prefix: str) -> Iterator[str]:
        for name, sub in node.get("properties", {}).items():
            if name in NON_PARAMETER_KEYS:
                continue
            path = f"{prefix}.{name}" if prefix else name
            yield path
            yield from walk(sub, path)

    return sorted(walk(load_schema(), ""))


def set_path(config: dict, key: str, value: Any) -> None:
    node = config
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = copy.deepcopy(value)


def get_path(config: Mapping[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = node[part]
    return node


def _unknown_key(where: str, key: str) -> str:
    near = [k for k in sweepable_keys() if k.split(".")[0] == key.split(".")[0]] or sweepable_keys()
    return f"{where}: unknown key path {key!r}; allowed: dotted paths such as {near[:12]}"


def _is_known(key: str) -> bool:
    return schema_at(key) is not None and key.split(".")[0] not in NON_PARAMETER_KEYS


def _check_sweep(sweep: Mapping[str, Any], source: str) -> None:
    problems = []
    for kind in ("grid", "zip"):
        for key, values in sweep.get(kind, {}).items():
            where = f"sweep.{kind}.{key}"
            if not _is_known(key):
                problems.append(_unknown_key(where, key))
                continue
            for i, value in enumerate(values):
                problems += iter_value_errors(value, schema_at(key), ["sweep", kind, key, i])
    ranges = (sweep.get("sample") or {}).get("ranges", {})
    unknown = [key for key in ranges if not _is_known(key)]
    problems += [_unknown_key(f"sweep.sample.ranges.{key}", key) for key in unknown]
    problems += check_ranges({k: v for k, v in ranges.items() if k not in unknown}, schema_at)
    lengths = {k: len(v) for k, v in sweep.get("zip", {}).items()}
    if len(set(lengths.values())) > 1:
        problems.append(f"sweep.zip: lists of unequal length {lengths}; allowed: lists of one common length")
    kinds = {"grid": set(sweep.get("grid", {})), "zip": set(sweep.get("zip", {})), "sample": set(ranges)}
    for (a, keys_a), (b, keys_b) in itertools.combinations(kinds.items(), 2):
        if keys_a & keys_b:
            problems.append(f"sweep: keys {sorted(keys_a & keys_b)} are in both {a} and {b}; "
                            "allowed: each key in one of grid, zip and sample")
    if problems:
        raise ConfigError(f"{source}: invalid sweep:\n  " + "\n  ".join(problems))


def point_factors(sweep: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(what, how many) whose product is the number of design points the sweep asks for, from list lengths
    alone (nothing is expanded): each grid key, the zip's rows, ``sample.n`` (an upper bound: coinciding
    samples merge)."""
    factors = [(f"grid {key}", len(values)) for key, values in sweep.get("grid", {}).items()]
    zipped = [len(v) for v in sweep.get("zip", {}).values()]
    if zipped:
        factors.append(("zip rows", min(zipped)))
    if sweep.get("sample"):
        factors.append(("sample n", int(sweep["sample"]["n"])))
    return factors


def check_point_count(sweep: Mapping[str, Any], source: str) -> None:
    """Reject a sweep of more than ``sweep.max_points`` points before any of them is built."""
    factors = point_factors(sweep)
    count, limit = math.prod(n for _, n in factors), int(sweep["max_points"])
    if count > limit:
        product = " x ".join(f"{n:,} ({what})" for what, n in factors)
        raise ConfigError(
            f"{source}: sweep: {count:,} design points ({product}) is not allowed; allowed: at most "
            f"sweep.max_points = {limit:,} (fewer values, or raise sweep.max_points knowingly: each point costs "
            "planning time and jobs)")


def expand_sweep(sweep: Mapping[str, Any], seed: int = 1) -> list[dict[str, Any]]:
    """The overrides of each design point: the grid's cartesian product times the zip's rows times the
    sampled points (``sweep.sample``, seeded by its own seed or else ``seed``), in order."""
    grid = sweep.get("grid", {})
    zipped = sweep.get("zip", {})
    sample = sweep.get("sample")
    grid_rows = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]
    zip_rows = [dict(zip(zipped, row)) for row in zip(*zipped.values())] if zipped else [{}]
    sample_seed = seed if not sample or sample.get("seed") is None else sample["seed"]
    sample_rows_ = sample_rows(sample, sample_seed, schema_at) if sample else [{}]
    return [{**g, **z, **s} for g in grid_rows for z in zip_rows for s in sample_rows_]


def overrides_label(overrides: Mapping[str, Any]) -> str:
    """``key=value, ...`` of a design point's swept values, for messages."""
    return ", ".join(f"{k}={v!r}" for k, v in overrides.items())


def point_id(params: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(params).encode()).hexdigest()[:POINT_ID_LEN]


@dataclass(frozen=True)
class DesignPoint:
    """One resolved design point: the full parameter set (config minus study/sweep) and its swept values."""

    id: str
    overrides: Mapping[str, Any]
    params: Mapping[str, Any]

    @property
    def experts(self) -> list[Expert]:
        return [resolve_expert(e, f"eoe.experts[{i}]") for i, e in enumerate(self.params["eoe"]["experts"])]


@dataclass(frozen=True)
class Study:
    name: str
    seed: int
    config: Mapping[str, Any]
    points: tuple[DesignPoint, ...]
    source: str

    @property
    def sweep_keys(self) -> list[str]:
        sweep = self.config["sweep"]
        return list(sweep["grid"]) + list(sweep["zip"]) + list((sweep.get("sample") or {}).get("ranges", {}))

    @functools.cached_property
    def _by_id(self) -> dict[str, DesignPoint]:
        return {p.id: p for p in self.points}

    def point(self, pid: str) -> DesignPoint:
        if pid in self._by_id:
            return self._by_id[pid]
        raise ConfigError(f"design point {pid!r} is not a point of study {self.name!r}")


def _check_semantics(params: Mapping[str, Any], where: str) -> None:
    resolve_experts(params["eoe"]["experts"], f"{where}eoe.experts")


def _point_params(validated: Mapping[str, Any]) -> dict:
    """A design point's parameters: the validated point minus the non-parameter sections (the validator
    fills them with their defaults), so editing figures, dse, sanity or the sweep never changes point ids."""
    return {k: v for k, v in validated.items() if k not in NON_PARAMETER_KEYS}


def build_study(config: Mapping[str, Any], source: str = "config") -> Study:
    """Validate a config mapping and expand it into a Study with its design points."""
    data = validate(config, source)
    check_point_count(data["sweep"], source)
    _check_sweep(data["sweep"], source)
    check_dse(data["dse"], source)
    base = {k: v for k, v in data.items() if k not in NON_PARAMETER_KEYS}
    points, seen = [], set()
    for overrides in expand_sweep(data["sweep"], data["seed"]):
        params = copy.deepcopy(base)
        for key, value in overrides.items():
            set_path(params, key, value)
        label = overrides_label(overrides)
        params = _point_params(validate(params, f"{source} (design point {label})" if label else source))
        _check_semantics(params, f"{source}: " + (f"design point {label}: " if label else ""))
        pid = point_id(params)
        if pid in seen:
            raise ConfigError(f"{source}: sweep: the design point {label} appears twice; allowed: distinct points")
        seen.add(pid)
        points.append(DesignPoint(id=pid, overrides=overrides, params=params))
    return Study(name=data["study"], seed=data["seed"], config=data, points=tuple(points), source=source)


def read_study_file(path: str | Path) -> dict:
    """The mapping of a study YAML file, read strictly (eoesim.yamlfile: UTF-8, valid YAML, no key twice)."""
    raw = read_yaml(path, "study config")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a study config must be a mapping of keys, got {type(raw).__name__}; allowed: "
                          "a YAML mapping such as 'study: my_study'")
    return raw


def load_study(path: str | Path) -> Study:
    """Read a study YAML file (see read_study_file) and build it."""
    return build_study(read_study_file(path), str(path))
