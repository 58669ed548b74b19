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


def _integral(sub: Any, value: Any) -> Any:
    """``value`` as an int where the schema wants an integer and YAML gave a whole float (``seed: 1.0``,
    ``count: 1.0e+4``): JSON Schema accepts it as an integer, but ``range`` and numpy's seeding do not."""
    kind = sub.get("type") if isinstance(sub, dict) else None
    wants_int = kind == "integer" or (isinstance(kind, list) and "integer" in kind and "number" not in kind)
    if wants_int and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _with_defaults(validator_class):
    """A validator class that fills in ``default`` values while it validates (nested ones too) and turns
    whole floats given for integer keys into ints."""
    validate_properties = validator_class.VALIDATORS["properties"]
    validate_items = validator_class.VALIDATORS["items"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
                elif prop in instance:
                    instance[prop] = _integral(sub, instance[prop])
        yield from validate_properties(validator, properties, instance, schema)

    def integral_items(validator, items, instance, schema):
        if isinstance(instance, list):
            instance[:] = [_integral(items, v) for v in instance]
        yield from validate_items(validator, items, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults, "items": integral_items})


DefaultFillingValidator = _with_defaults(jsonschema.Draft202012Validator)


def dotted(path) -> str:
    """``['a', 'b', 0]`` -> ``a.b[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
              "array": "a list", "object": "a mapping", "null": "null"}
BOUND_WORDS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


def _describe_type(kind: str, schema: dict) -> str:
    """One JSON type of a sub-schema in words, with the constraints that apply to that type."""
    text = TYPE_WORDS.get(kind, kind)
    if kind in ("integer", "number"):
        bounds = [f"{BOUND_WORDS[k]} {schema[k]}" for k in BOUND_WORDS if k in schema]
        text += f" {' and '.join(bounds)}" if bounds else ""
        if "multipleOf" in schema:
            text += f", a multiple of {schema['multipleOf']}"
    elif kind == "string" and "pattern" in schema:
        text += f" matching {schema['pattern']}"
    elif kind == "array":
        lo, hi = schema.get("minItems"), schema.get("maxItems")
        if lo is not None and lo == hi:
            text += f" of {lo} item(s)"
        elif lo is not None or hi is not None:
            text += " of " + " and ".join(f"{word} {n}" for word, n in (("at least", lo), ("at most", hi))
                                          if n is not None) + " item(s)"
        if isinstance(schema.get("items"), dict):
            text += f", each {describe(schema['items'])}"
    return text


def describe(schema: Any) -> str:
    """A sub-schema in words: ``{oneOf: [{type: string}, {type: integer, minimum: 0}]}`` ->
    ``a string, or an integer >= 0`` (what the messages say is allowed)."""
    if not isinstance(schema, dict):
        return "anything" if schema is True else "nothing"
    if "enum" in schema:
        return f"one of {schema['enum']}"
    if "const" in schema:
        return f"exactly {schema['const']!r}"
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            return ", or ".join(describe(sub) for sub in schema[combinator])
    types = schema.get("type")
    types = types if isinstance(types, list) else [types] if types else []
    return ", or ".join(_describe_type(kind, schema) for kind in types) or "a value"


def _allowed(error: jsonschema.ValidationError) -> str:
    v, val = error.validator, error.validator_value
    if v == "enum":
        return f"one of {val}"
    if v == "type":
        kinds = val if isinstance(val, list) else [val]
        return f"a value of type {val} ({' or '.join(TYPE_WORDS.get(k, k) for k in kinds)})"
    if v in BOUND_WORDS:
        return f"a number {BOUND_WORDS[v]} {val}"
    if v == "pattern":
        return f"a string matching {val}"
    if v in ("minItems", "maxItems"):
        return f"a list with {'at least' if v == 'minItems' else 'at most'} {val} items"
    if v in ("minLength", "maxLength"):
        return f"a string with {'at least' if v == 'minLength' else 'at most'} {val} characters"
    if v in ("minProperties", "maxProperties"):
        return f"a mapping with {'at least' if v == 'minProperties' else 'at most'} {val} keys"
    if v in ("oneOf", "anyOf"):
        return describe({v: val})
    if v == "const":
        return f"exactly {val!r}"
    if v == "uniqueItems":
        return "a list without repeated items"
    if v == "multipleOf":
        return f"a multiple of {val}"
    if v == "not":
        return f"anything but {describe(val)}"
    return f"a value meeting the schema rule {v} = {val!r}"


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
