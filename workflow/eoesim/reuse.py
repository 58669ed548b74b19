"""Content-keyed reuse of finished simulator runs across studies, and why a run re-runs.

A run's key is the sha256 of: the simulator name, the adapter version, the simulator's content
identity (version, binary sha256 / image id / package version — never machine paths) and the sha256 of
every rendered input. A finished run is stored under ``<cache>/<simulator>/<key>/``; a later run with the
same key, in any study, restores the stored outputs instead of running the simulator, then checks and
parses them again (annotation may differ between studies). The cache lives in ``$EOESIM_CACHE`` if set
(``none`` turns it off), else ``results/.cache`` (study names cannot start with a dot).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from eoesim.provenance import canonical_json, sha256_text

CACHE_ENV = "EOESIM_CACHE"
KEY_FILE = "run.json"


def run_key(simulator: str, adapter_version: str, content_identity: Mapping[str, Any],
            inputs_sha256: Mapping[str, str]) -> str:
    """The content key of a run (hex sha256)."""
    return sha256_text(canonical_json({
        "simulator": simulator, "adapter_version": adapter_version,
        "identity": dict(content_identity), "inputs": dict(inputs_sha256),
    }))


def cache_root(results_root: Path) -> Path | None:
    """The cache directory: ``$EOESIM_CACHE`` (``none`` = no cache) or ``<results root>/.cache``."""
    env = os.environ.get(CACHE_ENV)
    if env is not None:
        return None if env.strip().lower() in ("", "none", "off") else Path(env)
    return Path(results_root) / ".cache"


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES):
            raise
        shutil.copy2(src, dst)


@dataclass(frozen=True)
class RunCache:
    root: Path

    def entry(self, simulator: str, key: str) -> Path:
        return Path(self.root) / simulator / key

    def lookup(self, simulator: str, key: str) -> Path | None:
        """The stored run with this key, if a complete one exists."""
        entry = self.entry(simulator, key)
        return entry if (entry / KEY_FILE).is_file() else None

    def restore(self, entry: Path, rundir: Path) -> None:
        """Copy a stored run's files into ``rundir`` (files already there, the rendered inputs, are kept).

        Symlinks already in ``rundir`` are kept too, dangling or not: a RapidChiplet working copy always links
        ``booksim2/src/booksim`` into the checkout, even where BookSim is not built."""
        def present(directory: str, names: list[str]) -> list[str]:
            here = rundir / Path(directory).relative_to(entry)
            return [n for n in names if (here / n).is_symlink() or (here / n).is_file()]

        shutil.copytree(entry, rundir, symlinks=True, dirs_exist_ok=True, ignore=present,
                        copy_function=_link_or_copy)

    def store(self, simulator: str, key: str, rundir: Path) -> None:
        """Store a finished run under its key (atomically; an existing entry is kept)."""
        entry = self.entry(simulator, key)
        if entry.exists():
            return
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f".tmp-{key}-{uuid.uuid4().hex[:8]}")
        shutil.copytree(rundir, tmp, symlinks=True, copy_function=_link_or_copy)
        try:
            tmp.rename(entry)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)


def recorded_key(run_json: Path) -> dict[str, Any]:
    """The key fields recorded in a run's run.json."""
    record = json.loads(Path(run_json).read_text())
    return {
        "run_key": record.get("run_key"),
        "adapter_version": record.get("adapter_version"),
        "content_identity": record.get("content_identity", {}),
        "inputs_sha256": record.get("inputs_sha256", {}),
        "parameters": record.get("parameters", {}),
        "simulator": record.get("simulator"),
    }


def explain_difference(recorded: Mapping[str, Any], adapter_version: str,
                       content_identity: Mapping[str, Any], inputs_sha256: Mapping[str, str]) -> list[str]:
    """Human-readable reasons why the current key differs from a recorded one (empty: same key)."""
    reasons = []
    if recorded["adapter_version"] != adapter_version:
        reasons.append(f"adapter version changed: {recorded['adapter_version']} -> {adapter_version}")
    old_id, new_id = recorded["content_identity"], dict(content_identity)
    for field in sorted(set(old_id) | set(new_id)):
        if old_id.get(field) != new_id.get(field):
            reasons.append(f"simulator {field} changed: {old_id.get(field)} -> {new_id.get(field)}")
    old_in, new_in = recorded["inputs_sha256"], dict(inputs_sha256)
    for name in sorted(set(old_in) | set(new_in)):
        if name not in new_in:
            reasons.append(f"input {name} is no longer rendered")
        elif name not in old_in:
            reasons.append(f"input {name} is new")
        elif old_in[name] != new_in[name]:
            reasons.append(f"input {name} changed (sha256 {old_in[name][:12]} -> {new_in[name][:12]})")
    return reasons
