"""Loading the JSON Schemas (YAML files under workflow/schemas/) and validating against them.

Schemas may ``$ref`` other schema files relative to their own directory (per-simulator sections live in
``workflow/schemas/simulators/<name>.schema.yaml``), exactly as Snakemake's ``validate`` resolves them.
``load_schema`` returns a fully dereferenced dict so the library can walk it. Validation fills in
``default`` values and reports every violation as ``key.path: value is not allowed; allowed: ...``.
"""
from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml
from jsonschema import validators

from eoesim.errors import ConfigError
from eoesim.paths import schemas_dir


def _pointer(doc: Any, fragment: str) -> Any:
    node = doc
    for part in [p for p in fragment.lstrip("/").split("/") if p]:
        node = node[part]
    return node


def _deref(node: Any, doc: dict, base: Path) -> Any:
    if isinstance(node, list):
        return [_deref(n, doc, base) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        file_part, _, fragment = ref.partition("#")
        if file_part:
            target_path = (base / file_part).resolve()
            target_doc = yaml.safe_load(target_path.read_text())
            target = _deref(_pointer(target_doc, fragment), target_doc, target_path.parent)
        else:
            target = _deref(_pointer(doc, fragment), doc, base)
        siblings = {k: _deref(v, doc, base) for k, v in node.items() if k != "$ref"}
        return {**target, **siblings}
    return {k: _deref(v, doc, base) for k, v in node.items() if k != "$defs"}


@functools.lru_cache(maxsize=None)
def _schema_text(name: str) -> str:
    path = schemas_dir() / name
    doc = yaml.safe_load(path.read_text())
    return json.dumps(_deref(doc, doc, path.parent))


def load_schema(name: str = "config.schema.yaml") -> dict:
    """A schema file under workflow/schemas/ with every $ref resolved, as a fresh dict."""
    return json.loads(_schema_text(name))


def _with_defaults(validator_class):
    """A validator class that fills in ``default`` values while it validates (nested ones too)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


DefaultFillingValidator = _with_defaults(jsonschema.Draft202012Validator)


def dotted(path) -> str:
    """``['a', 'b', 0]`` -> ``a.b[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _allowed(error: jsonschema.ValidationError) -> str:
    v, val = error.validator, error.validator_value
    if v == "enum":
        return f"one of {val}"
    if v == "type":
        return f"a value of type {val}"
    bounds = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
    if v in bounds:
        return f"a number {bounds[v]} {val}"
    if v == "pattern":
        return f"a string matching {val}"
    if v in ("minItems", "maxItems"):
        return f"a list with {'at least' if v == 'minItems' else 'at most'} {val} items"
    if v in ("minLength", "maxLength"):
        return f"a string with {'at least' if v == 'minLength' else 'at most'} {val} characters"
    return f"{v}: {val}"


def format_error(error: jsonschema.ValidationError, prefix=()) -> str:
    path = list(prefix) + list(error.absolute_path)
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(known))
        where = dotted(path + [extra[0]]) if len(extra) == 1 else dotted(path)
        return f"{where}: unknown key(s) {extra}; allowed keys: {known}"
    if error.validator == "required":
        return f"{dotted(path)}: missing required key; {error.message}"
    return f"{dotted(path)}: {error.instance!r} is not allowed; allowed: {_allowed(error)}"


def validate_against(data: Mapping[str, Any], schema: dict, source: str, what: str) -> dict:
    """A validated copy of ``data`` with defaults filled in; ConfigError lists every violation."""
    filled = copy.deepcopy(dict(data))
    errors = sorted(
        DefaultFillingValidator(schema).iter_errors(filled), key=lambda e: list(map(str, e.absolute_path))
    )
    if errors:
        raise ConfigError(f"{source}: invalid {what}:\n  " + "\n  ".join(format_error(e) for e in errors))
    return filled


def iter_value_errors(value: Any, schema: dict, prefix) -> list[str]:
    """Formatted violations of one value against a sub-schema (no defaults filled)."""
    return [format_error(e, prefix) for e in jsonschema.Draft202012Validator(schema).iter_errors(value)]
