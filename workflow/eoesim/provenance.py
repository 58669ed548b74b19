"""run.json provenance records and content hashing."""
from __future__ import annotations

import hashlib
import json
import platform
import socket
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

from eoesim import __version__


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_json(params: Mapping[str, Any]) -> str:
    """The canonical JSON text of parameters: sorted keys, no whitespace."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def input_hashes(rundir: Path, files: Iterable[Path]) -> dict[str, str]:
    """sha256 of every rendered input, keyed by its path relative to the run directory."""
    return {str(Path(f).relative_to(rundir)): sha256_file(Path(f)) for f in sorted(files)}


def host_info() -> dict[str, str]:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON to ``path`` through a temporary file and a rename, so no reader sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def run_record(**fields: Any) -> dict[str, Any]:
    """A run.json record: the given fields plus the harness version and host."""
    record = dict(fields)
    record["harness_version"] = __version__
    record["host"] = host_info()
    return record
