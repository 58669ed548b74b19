"""Shared by the rule scripts: send stderr and logging to the rule's log file, and report a failure once.

A job that fails writes its traceback once, to its log, and a few lines on the console saying what
failed (for a simulator run: simulator, run id, exit code or signal, stderr, where the logs are), since
Snakemake's own error block only points at the log.
"""
import functools
import logging
import sys

from eoesim.errors import EoesimError
from eoesim.execute import RunFailedError


def report_failure(console, log_path, kind, exc, tb) -> None:
    """sys.excepthook of a rule script: traceback to the log, a short account to the console."""
    logging.getLogger("eoesim.job").error("job failed", exc_info=(kind, exc, tb))
    if isinstance(exc, RunFailedError):
        text = exc.summary()
    elif isinstance(exc, EoesimError):
        text = str(exc)
    else:
        text = f"{kind.__name__}: {exc}"
    console.write(f"{text}\n(traceback in {log_path})\n")
    console.flush()


def to_log(path: str) -> None:
    console = sys.stderr
    handle = open(path, "w")
    sys.stderr = handle
    logging.basicConfig(stream=handle, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # matplotlib's PDF backend subsets fonts through fontTools, which logs every table at INFO
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    sys.excepthook = functools.partial(report_failure, console, path)
