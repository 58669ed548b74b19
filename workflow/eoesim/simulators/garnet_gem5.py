"""What gem5 itself tells us: its build (``gem5.opt --build-info``, or a probe script) and the end of a run.

``--build-info`` (gem5's ``-B``) prints ``gem5 version <v>``, the compile date and every build option
(from gem5 v24 on, the Kconfig values, e.g. ``PROTOCOL = Garnet_standalone`` and ``RUBY = True``) and
exits 0 without running a script. garnet_synth_traffic.py needs the Garnet_standalone Ruby protocol
(configs/ruby/Garnet_standalone.py panics otherwise); the Garnet network model itself is part of every
Ruby build. When the build options lack a PROTOCOL line, the build directory name
(``build/Garnet_standalone/gem5.opt``) is used instead and the detail says so.

gem5 v24.0.0.1's own ``--build-info`` crashes (src/python/m5/main.py reads ``m5.defines.gem5Version``, which
v24 moved to ``_m5.core``: ``AttributeError: module 'm5.defines' has no attribute 'gem5Version'``, exit 1).
Availability and identity then come from running a probe script (``PROBE_SCRIPT``): gem5 prints its usual
banner (``gem5 version <v>``, from ``_m5.core``) and the script prints ``m5.defines.buildEnv`` (the same
build options ``--build-info`` would list) as one JSON line.

Run outcome: gem5 prints ``Exiting @ tick <T> because <cause>`` on stdout when the simulation loop
ends; garnet_synth_traffic's testers end it with the cause ``Network Tester completed simCycles``.
Failures are ``<file>:<line>: fatal: ...`` / ``panic: ...`` lines (fatal exits 1, panic aborts), e.g. the
tester's ``... deadlocked at cycle N`` fatal or the NI's ``Possible network deadlock in vnet`` panic, and
Python tracebacks from the config scripts (exit 1).
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

GARNET_PROTOCOL = "Garnet_standalone"
TESTER_DONE_CAUSE = "Network Tester completed simCycles"

_VERSION_RE = re.compile(r"^\s*gem5 version\s+(\S+)", re.MULTILINE)
_OPTION_RE = re.compile(r"^\s+([A-Z][A-Z0-9_]*)\s*=\s*(.*?)\s*$", re.MULTILINE)
_FAILURE_RE = re.compile(r"(?:^|:\s)(fatal|panic):\s*(.*)$")
_EXIT_RE = re.compile(r"^Exiting @ tick (\d+) because (.*?)\s*$", re.MULTILINE)
_TRUE = {"true", "y", "yes", "1"}


@dataclass(frozen=True)
class BuildInfo:
    version: str
    protocol: str | None
    ruby: bool | None
    garnet_standalone: bool
    how: str  # where garnet_standalone was decided from


def parse_build_info(text: str, binary: str | Path) -> BuildInfo:
    """Version and protocol from ``gem5.opt --build-info`` output (build path as fallback)."""
    version_match = _VERSION_RE.search(text)
    version = version_match.group(1) if version_match else "unknown"
    options = dict(_OPTION_RE.findall(text))
    protocol = options.get("PROTOCOL")
    ruby = options["RUBY"].lower() in _TRUE if "RUBY" in options else None
    if protocol is not None:
        return BuildInfo(version, protocol, ruby, protocol == GARNET_PROTOCOL and ruby is not False,
                         "build options (PROTOCOL)")
    by_path = Path(binary).parent.name == GARNET_PROTOCOL
    return BuildInfo(version, None, ruby, by_path, "build directory name (no PROTOCOL in --build-info)")


def run_gem5(argv: list[str], cwd: Path, timeout_s: float = 120.0) -> tuple[int, str, str]:
    """Run a gem5 command line (a probe, not a simulation) in ``cwd`` - gem5 writes ``m5out/`` into its working
    directory even for ``--build-info`` -; return (exit code, stdout, stderr)."""
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s,
                          check=False, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


PROBE_MARK = "EOESIM_BUILD_ENV "
PROBE_FILE = "eoesim_build_probe.py"
#: run by gem5 itself (``gem5.opt -d <dir> eoesim_build_probe.py``): prints the build options as JSON
PROBE_SCRIPT = (
    "import json\n"
    "import m5.defines\n"
    f"print({PROBE_MARK!r} + json.dumps({{k: str(v) for k, v in m5.defines.buildEnv.items()}}, sort_keys=True))\n"
)


def parse_probe(stdout: str, binary: str | Path) -> BuildInfo | None:
    """Version (gem5's banner) and protocol (``buildEnv``) from a probe run's stdout; None if it printed neither."""
    version_match = _VERSION_RE.search(stdout)
    env_line = next((ln for ln in stdout.splitlines() if ln.startswith(PROBE_MARK)), None)
    if version_match is None or env_line is None:
        return None
    try:
        env = json.loads(env_line[len(PROBE_MARK):])
    except json.JSONDecodeError:
        return None
    protocol = env.get("PROTOCOL")
    ruby = str(env["RUBY"]).lower() in _TRUE if "RUBY" in env else None
    version = version_match.group(1)
    if protocol is not None:
        return BuildInfo(version, protocol, ruby, protocol == GARNET_PROTOCOL and ruby is not False,
                         "a probe script: gem5's banner and m5.defines.buildEnv")
    by_path = Path(binary).parent.name == GARNET_PROTOCOL
    return BuildInfo(version, None, ruby, by_path, "build directory name (no PROTOCOL in m5.defines.buildEnv)")


@dataclass(frozen=True)
class RunOutcome:
    exit_tick: int | None
    exit_cause: str | None
    failures: tuple[str, ...]  # fatal:/panic: lines, in order
    traceback_tail: str | None  # last line of a Python traceback, if any

    @property
    def deadlock(self) -> str | None:
        return next((f for f in self.failures if "deadlock" in f.lower()), None)


def scan_logs(stdout: str, stderr: str) -> RunOutcome:
    """The exit line, fatal/panic messages and Python errors of one gem5 run."""
    failures = []
    for line in (stderr + "\n" + stdout).splitlines():
        match = _FAILURE_RE.search(line.strip())
        if match:
            failures.append(f"{match.group(1)}: {match.group(2)}")
    exits = _EXIT_RE.findall(stdout)
    tick, cause = (int(exits[-1][0]), exits[-1][1]) if exits else (None, None)
    tail = None
    if "Traceback (most recent call last)" in stderr:
        lines = [ln for ln in stderr.splitlines() if ln.strip()]
        tail = lines[-1].strip() if lines else None
    return RunOutcome(tick, cause, tuple(failures), tail)


def describe_returncode(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown signal"
        return f"was killed by signal {-returncode} ({name})"
    return f"exited with code {returncode}"
