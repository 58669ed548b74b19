"""Site configuration: where each simulator lives on this machine (not part of a study).

Read from ``$EOESIM_SIMULATORS`` if set, else ``config/simulators.yaml`` in the project, validated
against ``workflow/schemas/site.schema.yaml`` (unknown keys and bad values are errors).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from eoesim.errors import ConfigError
from eoesim.paths import project_root
from eoesim.schema import load_schema, validate_against
from eoesim.yamlfile import read_yaml

SITE_ENV = "EOESIM_SIMULATORS"


def site_config_path() -> Path:
    env = os.environ.get(SITE_ENV)
    return Path(env) if env else project_root() / "config" / "simulators.yaml"


def load_site_config(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Per-simulator site settings with defaults filled in; a missing default file means all defaults."""
    path = Path(path) if path is not None else site_config_path()
    raw: Any = {}
    if path.exists():
        raw = read_yaml(path, "site config") or {}
    elif os.environ.get(SITE_ENV):
        raise ConfigError(f"{SITE_ENV}={path}: the site config file does not exist")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the site config must be a mapping of simulator names")
    return validate_against(raw, load_schema("site.schema.yaml"), str(path), "site config")
