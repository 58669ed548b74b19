"""RapidChiplet's JSON encoding of Python tuples (a file format, implemented here from its description).

JSON has no tuples and only string keys, so RapidChiplet writes
  * a tuple used as a dict KEY as the string ``"__tuple__:" + json.dumps([encoded items])`` — items that are
    tuples themselves are encoded first, so a unit pair ``((0, 1), (2, 3))`` becomes
    ``'__tuple__:["__tuple__:[0, 1]", "__tuple__:[2, 3]"]'``;
  * a tuple used as a VALUE as ``{"__tuple__": true, "items": [encoded items]}``.
``json.dumps`` with its default separators (``", "``) is part of the format: RapidChiplet looks keys up by
the decoded tuple, but byte-identical keys keep files comparable with its own.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TUPLE_KEY_PREFIX = "__tuple__:"
TUPLE_MARKER = "__tuple__"


def encode_key(key: Any) -> Any:
    if isinstance(key, tuple):
        return TUPLE_KEY_PREFIX + json.dumps([encode_key(k) for k in key])
    return key


def decode_key(key: Any) -> Any:
    if isinstance(key, str) and key.startswith(TUPLE_KEY_PREFIX):
        return tuple(decode_key(k) for k in json.loads(key[len(TUPLE_KEY_PREFIX):]))
    return key


def encode(data: Any) -> Any:
    """Python data (dicts with tuple keys, tuple values) -> plain JSON-compatible data."""
    if isinstance(data, dict):
        return {encode_key(k): encode(v) for k, v in data.items()}
    if isinstance(data, list):
        return [encode(item) for item in data]
    if isinstance(data, tuple):
        return {TUPLE_MARKER: True, "items": [encode(item) for item in data]}
    return data


def decode(data: Any) -> Any:
    """Plain JSON data -> Python data with tuples restored (inverse of ``encode``)."""
    if isinstance(data, dict):
        if TUPLE_MARKER in data:
            return tuple(decode(item) for item in data["items"])
        return {decode_key(k): decode(v) for k, v in data.items()}
    if isinstance(data, list):
        return [decode(item) for item in data]
    return data


def dumps(data: Any) -> str:
    """The text RapidChiplet's own writer produces (indent 4, no trailing newline)."""
    return json.dumps(encode(data), indent=4)


def loads(text: str) -> Any:
    return decode(json.loads(text))


def write(path: Path, data: Any) -> Path:
    path = Path(path)
    path.write_text(dumps(data))
    return path


def read(path: Path) -> Any:
    return loads(Path(path).read_text())
