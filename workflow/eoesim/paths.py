"""Where the project's files live: package data (templates, schemas, packs, constants) and the project.

Package data ships inside the ``eoesim`` package (``pyproject.toml`` maps ``templates/`` to
``eoesim.templates`` and ``workflow/schemas/`` to ``eoesim.schemas``) and is found through
``importlib.resources``, so a built wheel works as well as the checkout. The *project* (``config/``,
``external/``, ``results/``) is the user's: ``$EOESIM_ROOT``, else the checkout the package is imported
from, else the current directory.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from eoesim.errors import EoesimError

#: a file only a checkout of the repository has at its root
CHECKOUT_MARKER = "Snakefile"


def package_dir(package: str) -> Path:
    """The folder of ``package``'s data files (pip unpacks wheels, so it is a real folder)."""
    folder = resources.files(package)
    if not isinstance(folder, Path):
        raise EoesimError(f"package {package!r} is not installed as files on disk ({folder!r}); "
                          "install eoesim with pip (not as a zip)")
    return folder


def package_file(package: str, name: str) -> Path:
    """A data file shipped in ``package`` (e.g. ``eoesim.stitch``, ``energy_constants.csv``)."""
    return package_dir(package) / name


def project_root() -> Path:
    """The project: ``$EOESIM_ROOT`` if set, else the checkout this package is imported from, else the cwd."""
    env = os.environ.get("EOESIM_ROOT")
    if env:
        return Path(env).resolve()
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / CHECKOUT_MARKER).is_file() else Path.cwd()


def templates_dir() -> Path:
    """``templates/`` (one folder per simulator), shipped as ``eoesim.templates``."""
    return package_dir("eoesim.templates")


def schemas_dir() -> Path:
    """``workflow/schemas/``, shipped as ``eoesim.schemas``."""
    return package_dir("eoesim.schemas")
