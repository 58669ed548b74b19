"""Where the project's non-Python assets live (templates, schemas, config)."""
from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The repository root: ``$EOESIM_ROOT`` if set, else the checkout this package is imported from."""
    env = os.environ.get("EOESIM_ROOT")
    if env:
        return Path(env).resolve()
    return Path(__file__).resolve().parents[2]


def templates_dir() -> Path:
    return project_root() / "templates"


def schemas_dir() -> Path:
    return project_root() / "workflow" / "schemas"
