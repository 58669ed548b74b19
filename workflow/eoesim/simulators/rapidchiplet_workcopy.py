"""A private RapidChiplet working copy inside a run directory.

RapidChiplet resolves every path against its CWD (design-file entries, ``./results/<name>.json``,
``booksim2/src/booksim``, ``booksim2/src/rc_*/<name>.*``) and overwrites the files of any other run with
the same design name. So each run directory becomes a working copy of its own: RapidChiplet's Python
modules and BookSim binary are symlinks into the checkout (never written to), and the directories it
writes into are real directories of the run. Parallel jobs then share nothing writable.

Symlink targets are plain strings, so in docker mode they name the checkout's path INSIDE the image
(the run directory is mounted at /run and the links resolve there).
"""
from __future__ import annotations

import os
from pathlib import Path

#: RapidChiplet's modules (upstream 66e63e5) the two entry points import, relative to the checkout
MODULES = (
    "rapidchiplet.py", "helpers.py", "validation.py", "booksim_wrapper.py", "global_config.py",
    "run_experiment.py", "generate_inputs.py", "generate_chiplet.py", "generate_placement.py",
    "generate_topology.py", "generate_routing.py", "generate_traffic.py", "routing_utils.py",
    "inputs/trace_to_traffic.py",
)
BOOKSIM_BINARY = "booksim2/src/booksim"
#: directories RapidChiplet writes into during a run
WRITABLE_DIRS = (
    "results", "inputs",
    "booksim2/src/rc_configs", "booksim2/src/rc_topologies", "booksim2/src/rc_routing_tables",
    "booksim2/src/rc_traffics", "booksim2/src/rc_traces",
)


def missing_files(checkout: Path, booksim: bool) -> list[str]:
    """Files of a native checkout the runs need that are not there."""
    needed = list(MODULES) + ([BOOKSIM_BINARY] if booksim else [])
    return [rel for rel in needed if not (Path(checkout) / rel).is_file()]


def make_working_copy(rundir: Path, checkout: str) -> list[Path]:
    """Create the writable directories and the symlinks to ``checkout``; return the links made."""
    rundir = Path(rundir)
    for rel in WRITABLE_DIRS:
        (rundir / rel).mkdir(parents=True, exist_ok=True)
    links = []
    for rel in MODULES + (BOOKSIM_BINARY,):
        link = rundir / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(f"{checkout.rstrip('/')}/{rel}", link)
        links.append(link)
    return links
