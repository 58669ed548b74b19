"""A fake simulator adapter for tests of the run lifecycle (no real simulator): its "binary" is this
interpreter running a few lines that sleep, optionally fail, and write ``out.txt``.

Site settings: ``sleep_s`` (how long a run takes), ``tag`` (written into every row, to tell which job
published a run), ``exit_code``, ``stderr`` (text the run prints to stderr), ``signal`` (the run kills
itself with this signal number).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from eoesim.errors import ParseError, SimulatorError
from eoesim.simulators.base import Availability, Resources, Simulator

PROGRAM = """
import os, sys, time
time.sleep({sleep_s})
sys.stderr.write({stderr!r})
sys.stderr.flush()
if {signal}:
    os.kill(os.getpid(), {signal})
open("out.txt", "w").write({tag!r} + "," + open("input.txt").read())
sys.exit({exit_code})
"""


class FakeSim(Simulator):
    name = "fake"

    def point_params(self, study: Mapping[str, Any]) -> dict:
        return {"value": study.get("value", 1)}

    def render(self, point: Mapping[str, Any], rundir: Path) -> list[Path]:
        path = Path(rundir) / "input.txt"
        path.write_text(str(point["value"]))
        return [path]

    def argv(self, rundir: Path) -> list[str]:
        settings = {"sleep_s": 0, "tag": "", "exit_code": 0, "stderr": "", "signal": 0, **self.site}
        return [sys.executable, "-c", PROGRAM.format(**settings)]

    def resources(self, point: Mapping[str, Any]) -> Resources:
        return Resources()

    def check(self, rundir: Path, returncode: int) -> None:
        if returncode != 0:
            raise SimulatorError(f"exited with {returncode} in {rundir}")
        if not (Path(rundir) / "out.txt").is_file():
            raise SimulatorError(f"no out.txt in {rundir}")

    def parse(self, rundir: Path) -> pd.DataFrame:
        text = (Path(rundir) / "out.txt").read_text()
        if "," not in text:
            raise ParseError(Path(rundir) / "out.txt", "truncated", 1)
        tag, value = text.split(",")
        return pd.DataFrame([{"tag": tag, "value": int(value)}])

    def availability(self) -> Availability:
        return Availability(True, "native", "fake-1")
