"""Which upstream commit a simulator build comes from, where that can be known.

Sources, in the order the adapters use them: the commit stated in the site config (the user's word), the
``org.opencontainers.image.revision`` label of a simulator image (``containers/simulators/`` sets it to the
commit it built), or ``git rev-parse HEAD`` of the checkout a native binary lives in. A checkout only counts
if it is the simulator's own (it holds ``marker``, a file of that simulator's source tree): a binary copied
into some other repository must not report that repository's commit. Tracked files that differ from the
commit make it ``<commit>+modified``. Otherwise the commit is unknown and the adapters say so.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from eoesim.runners import docker_image_label

REVISION_LABEL = "org.opencontainers.image.revision"
UNKNOWN = "unknown commit"


def _git(directory: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, check=False, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def git_commit(path: str | Path, marker: str) -> str | None:
    """The commit of the simulator checkout that contains ``path`` (a file or directory), or None."""
    path = Path(path).expanduser().resolve()
    directory = path if path.is_dir() else path.parent
    top = _git(directory, "rev-parse", "--show-toplevel")
    if not top or not (Path(top) / marker).exists():
        return None
    commit = _git(directory, "rev-parse", "HEAD")
    if not commit:
        return None
    clean = _git(directory, "diff", "--quiet", "HEAD", "--")
    return commit if clean is not None else f"{commit}+modified"


def image_commit(image: str) -> str | None:
    """The upstream commit recorded in a simulator image's revision label, or None."""
    return docker_image_label(image, REVISION_LABEL)
