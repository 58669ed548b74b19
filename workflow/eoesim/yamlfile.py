"""Reading the project's YAML files strictly: readable UTF-8 text, valid YAML, no key twice in a mapping.

PyYAML keeps the last of two equal keys without a word (a second ``hardware:`` block silently replaces
the first), so the document is composed into its node tree first, every mapping is checked for a key
given twice (with both line numbers), and only then is it constructed. Every problem is one
ConfigError line naming the file (and line), what is wrong and what is allowed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from eoesim.errors import ConfigError

MERGE_TAG = "tag:yaml.org,2002:merge"


def read_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of a file the user names; a missing, unreadable or non-UTF-8 file is a ConfigError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: the {what} file does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory; allowed: a {what} file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} file ({exc.strerror}); allowed: a readable file") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: byte 0x{data[exc.start]:02x} is not UTF-8 text; allowed: a {what} "
                          "file saved as UTF-8") from None


def _yaml_problem(exc: yaml.YAMLError, source: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"{source}:{mark.line + 1}" if mark is not None else source
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    return f"{where}: not valid YAML: {problem}" + (f" ({context})" if context else "")


def _key_path(path: tuple[str, ...], key: str) -> str:
    return ".".join(path + (key,))


def duplicate_key(root: yaml.Node) -> tuple[str, int, int] | None:
    """(dotted key path, first line, second line) of the first key given twice in one mapping, or None.

    Each node is visited once (aliases can make the tree a graph), so the walk is linear in the file.
    """
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(root, ())]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            lines: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == MERGE_TAG:
                    continue
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "<complex key>"
                line = key_node.start_mark.line + 1
                if isinstance(key_node, yaml.ScalarNode):
                    if (key_node.tag, key) in lines:
                        return _key_path(path, key), lines[key_node.tag, key], line
                    lines[key_node.tag, key] = line
                stack.append((value_node, path + (key,)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, path[:-1] + (f"{path[-1]}[{i}]",) if path else (f"[{i}]",))
                         for i, item in enumerate(node.value))
    return None


def parse_yaml(text: str, source: str) -> Any:
    """The data of one YAML document (None when empty); ConfigError on invalid YAML or a key given twice."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        dup = duplicate_key(node)
        if dup is not None:
            key, first, second = dup
            raise ConfigError(f"{source}:{second}: {key}: given twice (lines {first} and {second}), the second would "
                              f"silently replace the first; allowed: each key once (merge the two into one)")
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(exc, source)) from None
    finally:
        loader.dispose()


def read_yaml(path: str | Path, what: str) -> Any:
    """The data of a YAML file the user names (see the module doc)."""
    return parse_yaml(read_text(path, what), str(path))
