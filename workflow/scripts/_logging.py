"""Shared by the rule scripts: send stderr and logging to the rule's log file."""
import logging
import sys


def to_log(path: str) -> None:
    handle = open(path, "w")
    sys.stderr = handle
    logging.basicConfig(stream=handle, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # matplotlib's PDF backend subsets fonts through fontTools, which logs every table at INFO
    logging.getLogger("fontTools").setLevel(logging.WARNING)
