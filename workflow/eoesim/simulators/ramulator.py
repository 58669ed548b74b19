"""Ramulator adapter: one DRAM memory system (HBM or DDR tier) loaded by a generated access stream.

Two variants, chosen by the site key ``ramulator.variant``:

* ``v2.0`` - the ``ramulator2`` binary of tag v2.0a: ``ramulator2 -f config.yaml`` on a config rendered
  from ``templates/ramulator/config_v2.0.yaml.j2``; the stats are YAML on stdout (ramulator_stats).
* ``v2.1`` - upstream HEAD (2.1), which has no binary: ``python -m ramulator run ramulator_config.py`` on a
  script rendered from ``templates/ramulator/config_v2.1.py.j2`` with the user's Ramulator 2.1 package
  (``ramulator.python_path`` goes on PYTHONPATH); the script writes ``stats.json`` / ``stats.yaml``.

Physics (as in shared/calibration/ramulator2/PROVENANCE.md): Ramulator ticks the frontend
``frontend_clock_ratio`` times per ``memory_clock_ratio`` memory cycles. With LoadStoreTrace (one request
per frontend tick, open loop with back-pressure) the pair sets the offered load exactly:
offered requests per memory cycle = frontend/memory = offered_load x peak, where
peak = channels x pseudo-channels / nBL. With SimpleO3 the pair is the core/memory clock ratio
(core_freq_ghz x tCK_ns) and the core's ``bubbles`` set the intensity. Latencies are converted to ns
with the timing preset's tCK; bandwidth is derived from request counts (see ramulator_stats).

Success = exit code 0 AND complete statistics for every configured channel. Failures keep the
simulator's message: v2.0 aborts with an uncaught C++ exception (SIGABRT, rc 134 / -6:
``what(): Trace x does not exist!``) or exits 255 with ``[error] Config file X does not exist!``;
v2.1 raises a Python exception (rc 1).
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from eoesim.errors import ConfigError, ParseError, RenderError, SimulatorError, SimulatorUnavailableError
from eoesim.provenance import sha256_file
from eoesim.runners import STDERR_LOG, STDOUT_LOG, DockerRunner, Runner, docker_image_id
from eoesim.simulators import ramulator_presets as presets
from eoesim.simulators.base import SITE_CONFIG, Availability, Resources, Simulator, SurrogatePack, SweptAxis, register
from eoesim.simulators.build_identity import UNKNOWN, git_commit
from eoesim.simulators.ramulator_stats import load_v20_stdout, load_v21_stats, read_stats
from eoesim.simulators.ramulator_traces import AccessStream, write_trace
from eoesim.surrogates import SETTINGS_COLUMN, settings_level

CONFIG_FILES = {"v2.0": "config.yaml", "v2.1": "ramulator_config.py"}
TEMPLATES = {"v2.0": "config_v2.0.yaml.j2", "v2.1": "config_v2.1.py.j2"}
TRACE_FILE = "ramulator.trace"
#: resolved point + derived constants, written at render time and read by check/parse
POINT_FILE = "eoesim_point.json"
#: a file of Ramulator 2's source tree: a git work tree holding it is a Ramulator checkout (build_identity)
CHECKOUT_MARKER = "src/dram/impl/HBM3.cpp"
STATS_JSON = "stats.json"
STATS_YAML = "stats.yaml"
DEFAULT_REQUESTS_PER_CHANNEL = 10000
SIMPLEO3_LINE_BYTES = 64
ANSI = re.compile(r"\x1b\[[0-9;]*m")
PY_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)):\s*(.*)$")


def calibrated_settings(point: Mapping[str, Any]) -> dict[str, Any]:
    """The settings the Ramulator pack's calibration runs held fixed, for the point's standard
    (analysis/calibration/ramulator2/PROVENANCE.md): Ramulator 2.0a, the standard's default presets, one
    rank, FRFCFS + AllBank refresh + open rows + RoBaRaCoCh, LoadStoreTrace, transaction-granular addresses
    from 0 (random: over the whole device)."""
    spec = presets.standard_spec("v2.0", point["standard"], "workload.ramulator.standard")
    out = {"variant": "v2.0", "org_preset": spec.default_org, "timing_preset": spec.default_timing, "ranks": 1,
           "scheduler": "FRFCFS", "refresh": "AllBank", "row_policy": "open", "addr_mapper": "RoBaRaCoCh",
           "frontend": "LoadStoreTrace", "alignment_bytes": spec.granularity_bytes, "base_address": 0,
           "rfm_brc": 2 if point["standard"] == "DDR5" else None}
    if point["pattern"] == "random":
        out["footprint_bytes"] = point["addressable_bytes"] // spec.granularity_bytes * spec.granularity_bytes
    return out


def _is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def failure_message(stdout: str, stderr: str) -> str:
    """The simulator's own error text from a failed run's logs (C++ what(), spdlog [error], Python exception)."""
    text = ANSI.sub("", stdout + "\n" + stderr)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    found = []
    for i, ln in enumerate(lines):
        if ln.startswith("terminate called after throwing an instance of"):
            kind = ln.split("instance of", 1)[1].strip().strip("'")
            what = next((x for x in lines[i + 1:i + 3] if x.startswith("what():")), "")
            found.append(f"{kind}: {what[len('what():'):].strip()}" if what else kind)
        elif "[error]" in ln:
            found.append(ln.split("[error]", 1)[1].strip())
    if not found:
        py = [ln for ln in ANSI.sub("", stderr).splitlines() if PY_EXCEPTION.match(ln.strip())]
        if py:
            found.append(py[-1].strip())
    if not found:
        tail = [ln for ln in ANSI.sub("", stderr).splitlines() if ln.strip()][-3:]
        found.append(" | ".join(t.strip() for t in tail) if tail else "(no error message on stdout/stderr)")
    return "; ".join(dict.fromkeys(found))


def exit_code_meaning(returncode: int) -> str:
    if returncode in (134, -signal.SIGABRT):
        return " (SIGABRT: uncaught exception / abort)"
    if returncode < 0:
        try:
            return f" (killed by {signal.Signals(-returncode).name})"
        except ValueError:
            return f" (killed by signal {-returncode})"
    if returncode > 128 and returncode - 128 < 65:
        try:
            return f" (killed by {signal.Signals(returncode - 128).name})"
        except ValueError:
            return ""
    return ""


def check_request_totals(memory: Mapping[str, Any], trace: Path) -> None:
    """LoadStoreTrace sends every trace line once and the run ends when the last one is accepted, so the
    memory system's accepted reads/writes (total_num_read/write_requests) equal the trace's LD/ST lines; a
    difference means Ramulator did not run the trace it was given (e.g. another file, or a stale config)."""
    reads = writes = 0
    with open(trace, "rb") as fh:
        for line in fh:
            reads += line.startswith(b"LD")
            writes += line.startswith(b"ST")
    got = (int(memory["total_num_read_requests"]), int(memory["total_num_write_requests"]))
    if got != (reads, writes):
        raise SimulatorError(f"Ramulator accepted {got[0]} reads and {got[1]} writes but {trace.name} has {reads} "
                             f"LD and {writes} ST lines: it did not run the rendered trace")


@register
class Ramulator(Simulator):
    name = "ramulator"
    adapter_version = "1"

    schema_file = "simulators/ramulator.schema.yaml"
    row_keys = ("channel",)
    required_metrics = ("system_avg_read_latency_ns", "system_achieved_bandwidth_bytes_per_s")
    bounds_checks = ("bandwidth_above_peak",)
    echo_checks = ()
    swept_axes = (
        SweptAxis(("offered_req_per_mem_cycle", "offered_bandwidth_bytes_per_s", "frontend_clock_ratio",
                   "memory_clock_ratio"),
                  ("system_avg_read_latency_ns", "system_achieved_bandwidth_bytes_per_s"),
                  ("channel", "standard", "org_preset", "timing_preset", "num_channels", "ranks", "scheduler",
                   "refresh", "row_policy", "row_policy_cap", "addr_mapper", "pattern", "read_fraction",
                   "num_requests", "footprint_bytes", "alignment_bytes", "stride_bytes", "bubbles", "seed")),
    )
    surrogates = (SurrogatePack(
        "ramulator", "eoesim.analysis.surrogate_ramulator", "ramulator2/calibration.csv", breakdown="standard",
        notes=("Latency inside the knee (0.85-1.05 x the bandwidth ceiling) is outside the domain: the latency jumps "
               "there to its plateau. Below the knee the measured curves are not smooth in load (periodic "
               "clock-ratio arrivals alias with the bank timing); the pack keeps the measured curves (in units of the "
               "ceiling) instead of smoothing them.",
               "read_fraction and channels are interpolated between the measured grid's curves.")),)
    refit_from_study = False
    how_to_provide = (f"set ramulator.binary (ramulator2 of tag v2.0a), or ramulator.variant: v2.1 with "
                      f"ramulator.python_path, in {SITE_CONFIG}")

    # ------------------------------------------------------------------ site
    def variant(self) -> str:
        return presets.check_variant(self.site.get("variant") or "v2.0", "ramulator.variant")

    def _mode(self) -> str:
        return self.site.get("mode") or "native"

    # ---------------------------------------------------------------- points
    def point_params(self, study: Mapping[str, Any]) -> dict:
        wl = study["workload"]["ramulator"]
        where = "workload.ramulator"
        variant = self.variant()
        standard = wl["standard"]
        spec = presets.standard_spec(variant, standard, f"{where}.standard")
        org = wl.get("org_preset") or spec.default_org
        timing = wl.get("timing_preset") or spec.default_timing
        presets.org_units(variant, standard, org, f"{where}.org_preset")
        presets.timing_preset(variant, standard, timing, f"{where}.timing_preset")
        channels, ranks = wl["channels"], wl["ranks"]
        if not _is_power_of_two(channels):
            raise ConfigError(f"{where}.channels: {channels} is not allowed; allowed: a power of two "
                              "(1, 2, 4, ... 64) - Ramulator's address/channel mappers slice address bits")
        if not spec.has_rank and ranks != 1:
            raise ConfigError(f"{where}.ranks: {ranks} is not allowed for {standard} (no rank level); allowed: 1")
        geo = presets.geometry(variant, standard, org, timing, channels, ranks)

        ctrl = wl["controller"]
        for kind, key in (("scheduler", "scheduler"), ("refresh", "refresh"), ("row_policy", "row_policy"),
                          ("addr_mapper", "addr_mapper")):
            presets.component(kind, variant, ctrl[key], f"{where}.controller.{key}")
        closed = ctrl["row_policy"] == "closed"

        fe = wl["frontend"]
        impl = fe["impl"]
        presets.component("frontend", variant, impl, f"{where}.frontend.impl")
        lst = impl == "LoadStoreTrace"
        if fe.get("clock_ratio"):
            f_ratio, m_ratio = (int(x) for x in fe["clock_ratio"])
        elif lst:
            f_ratio, m_ratio = presets.clock_ratio_pair(fe["offered_load"] * geo.peak_req_per_tick,
                                                        f"{where}.frontend.offered_load")
        else:
            f_ratio, m_ratio = presets.clock_ratio_pair(fe["core_freq_ghz"] * geo.tick_ps / 1000.0,
                                                        f"{where}.frontend.core_freq_ghz")

        st = wl["stream"]
        alignment = st.get("alignment_bytes") or (geo.granularity_bytes if lst else SIMPLEO3_LINE_BYTES)
        base = st["base_address"]
        footprint = st.get("footprint_bytes")
        if footprint is None:
            footprint = (geo.addressable_bytes - base) // alignment * alignment
        if base + footprint > geo.addressable_bytes:
            raise ConfigError(
                f"{where}.stream: base_address {base} + footprint_bytes {footprint} exceeds the "
                f"{geo.addressable_bytes} "
                f"addressable bytes of {channels} x {org} (ranks {ranks}); allowed: base + footprint <= "
                f"{geo.addressable_bytes} (higher address bits would alias)")
        num_requests = st.get("num_requests") or DEFAULT_REQUESTS_PER_CHANNEL * channels
        seed = st["seed"] if st.get("seed") is not None else study.get("seed", 1)
        read_fraction = float(st["read_fraction"])
        uses_rng = st["pattern"] == "random" or 0.0 < read_fraction < 1.0
        stream = AccessStream(
            pattern=st["pattern"], num_requests=num_requests, read_fraction=read_fraction,
            footprint_bytes=footprint, base_address=base, alignment_bytes=alignment,
            stride_bytes=st["stride_bytes"] if st["pattern"] == "strided" else None,
            bubbles=st["bubbles"], seed=seed, where=f"{where}.stream",
        )
        stream.validate()
        if lst and stream.bubbles:
            raise ConfigError(f"{where}.stream.bubbles: {stream.bubbles} has no effect with frontend LoadStoreTrace; "
                              "allowed: 0 (set the offered load with frontend.offered_load)")
        if not lst and read_fraction < 0.5:
            raise ConfigError(f"{where}.stream.read_fraction: {read_fraction} is not allowed with frontend SimpleO3 "
                              "(writes are writebacks of loads); allowed: 0.5..1")

        offered = f_ratio / m_ratio
        return {
            "variant": variant,
            "standard": standard,
            "org_preset": org,
            "timing_preset": timing,
            "channels": channels,
            "ranks": ranks,
            "controller_impl": spec.controller_impl,
            "scheduler": ctrl["scheduler"],
            "refresh": ctrl["refresh"],
            "row_policy": ctrl["row_policy"],
            "row_policy_cap": ctrl["row_policy_cap"] if closed else None,
            "addr_mapper": ctrl["addr_mapper"],
            "rfm_brc": ctrl["rfm_brc"] if (variant == "v2.0" and standard == "DDR5") else None,
            "frontend": impl,
            "frontend_clock_ratio": f_ratio,
            "memory_clock_ratio": m_ratio,
            "num_expected_insts": None if lst else fe.get("num_expected_insts"),
            "llc_capacity_kib": None if lst else fe["llc_capacity_kib"],
            "llc_num_mshr_per_core": None if lst else fe["llc_num_mshr_per_core"],
            "pattern": stream.pattern,
            "read_fraction": read_fraction,
            "num_requests": num_requests,
            "footprint_bytes": footprint,
            "base_address": base,
            "alignment_bytes": alignment,
            "stride_bytes": stream.stride_bytes,
            "bubbles": stream.bubbles,
            "seed": seed if uses_rng else None,
            # derived constants (documented in ramulator_presets / ramulator_stats)
            "tick_ps": geo.tick_ps,
            "request_bytes": geo.request_bytes,
            "addressable_bytes": geo.addressable_bytes,
            "peak_bandwidth_bytes_per_s": geo.peak_bandwidth_bytes_per_s,
            "offered_req_per_mem_cycle": offered if lst else None,
            "offered_bandwidth_bytes_per_s": offered * geo.request_bytes / (geo.tick_ps * 1e-12) if lst else None,
        }

    # ---------------------------------------------------------------- render
    def _stream(self, point: Mapping[str, Any]) -> AccessStream:
        return AccessStream(
            pattern=point["pattern"], num_requests=point["num_requests"], read_fraction=point["read_fraction"],
            footprint_bytes=point["footprint_bytes"], base_address=point["base_address"],
            alignment_bytes=point["alignment_bytes"], stride_bytes=point["stride_bytes"],
            bubbles=point["bubbles"], seed=point["seed"] if point["seed"] is not None else 0,
        )

    def render(self, point: Mapping[str, Any], rundir: Path) -> list[Path]:
        variant = point["variant"]
        if variant != self.variant():
            raise RenderError(f"ramulator: the point was resolved for variant {variant} but the site config says "
                              f"{self.variant()} (ramulator.variant); re-plan the study")
        rundir = Path(rundir)
        summary = write_trace(rundir / TRACE_FILE, point["frontend"], self._stream(point))
        v = variant
        ctx = dict(point)
        ctx.update(
            config_file=CONFIG_FILES[v],
            trace_file=TRACE_FILE,
            stats_json=STATS_JSON,
            stats_yaml=STATS_YAML,
            has_rank=presets.standard_spec(v, point["standard"]).has_rank,
            frontend_impl=presets.component("frontend", v, point["frontend"], "frontend"),
            scheduler_impl=presets.component("scheduler", v, point["scheduler"], "scheduler"),
            refresh_impl=presets.component("refresh", v, point["refresh"], "refresh"),
            row_policy_impl=presets.component("row_policy", v, point["row_policy"], "row_policy"),
            addr_mapper_impl=presets.component("addr_mapper", v, point["addr_mapper"], "addr_mapper"),
            num_expected_insts=point["num_expected_insts"] or summary.instructions,
            max_addr=point["addressable_bytes"],
        )
        config = self.render_template(TEMPLATES[v], rundir / CONFIG_FILES[v], **ctx)
        sidecar = rundir / POINT_FILE
        sidecar.write_text(json.dumps({"point": dict(point), "trace": summary.as_dict(),
                                       "num_expected_insts": ctx["num_expected_insts"]}, indent=2, sort_keys=True))
        return [config, rundir / TRACE_FILE, sidecar]

    @staticmethod
    def _sidecar(rundir: Path) -> dict:
        path = Path(rundir) / POINT_FILE
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise SimulatorError(f"ramulator: cannot read {path} written at render time: {exc}") from None

    # ------------------------------------------------------------------- run
    def _binary(self) -> str:
        binary = self.site.get("binary") or "ramulator2"
        if self._mode() == "docker":
            return binary
        if os.sep in binary:
            return str(Path(binary).expanduser().resolve())
        return shutil.which(binary) or binary

    def _python(self) -> str:
        if self.site.get("python"):
            python = self.site["python"]
            return python if self._mode() == "docker" or os.sep not in python else str(Path(python).expanduser())
        return "python3" if self._mode() == "docker" else sys.executable

    def _env(self) -> dict[str, str]:
        if self.variant() != "v2.1" or not self.site.get("python_path"):
            return {}
        path = self.site["python_path"]
        if self._mode() == "docker":
            return {"PYTHONPATH": path}
        path = str(Path(path).expanduser().resolve())
        existing = os.environ.get("PYTHONPATH")
        return {"PYTHONPATH": path + (os.pathsep + existing if existing else "")}

    def argv(self, rundir: Path) -> list[str]:
        if self.variant() == "v2.0":
            return [self._binary(), "-f", CONFIG_FILES["v2.0"]]
        return [self._python(), "-m", "ramulator", "run", CONFIG_FILES["v2.1"]]

    def runner(self) -> Runner:
        if self._mode() == "docker":
            image = self.site.get("image")
            if not image:
                raise SimulatorUnavailableError(
                    "ramulator: mode is docker but no image is set; set ramulator.image in config/simulators.yaml")
            return DockerRunner(mode="docker", image=image, env=self._env())
        return Runner(mode="native", env=self._env())

    def resources(self, point: Mapping[str, Any]) -> Resources:
        # Measured: 20k LoadStoreTrace requests in 0.2 s (v2.0) / 0.3 s (v2.1); allow 100x slack.
        work = point["num_requests"] * (1 + (point["bubbles"] or 0) // 16)
        return Resources(cores=1, mem_mb=1024 if point["variant"] == "v2.0" else 2048,
                         runtime_min=5 + math.ceil(work / 1_000_000) * 2)

    # ----------------------------------------------------------- check/parse
    def _stats_path(self, rundir: Path, variant: str) -> Path:
        return Path(rundir) / (STDOUT_LOG if variant == "v2.0" else STATS_JSON)

    def check(self, rundir: Path, returncode: int) -> None:
        rundir = Path(rundir)
        point = self._sidecar(rundir)["point"]
        variant = point["variant"]
        out = (rundir / STDOUT_LOG).read_text(errors="replace") if (rundir / STDOUT_LOG).exists() else ""
        err = (rundir / STDERR_LOG).read_text(errors="replace") if (rundir / STDERR_LOG).exists() else ""
        if returncode != 0:
            raise SimulatorError(f"Ramulator {variant} exited with code {returncode}"
                                 f"{exit_code_meaning(returncode)}: {failure_message(out, err)}")
        errors = [ln.split("[error]", 1)[1].strip() for ln in ANSI.sub("", out + "\n" + err).splitlines()
                  if "[error]" in ln]
        if errors:
            raise SimulatorError(f"Ramulator {variant} exited 0 but printed an error: {errors[0]}")
        loader = load_v20_stdout if variant == "v2.0" else load_v21_stats
        try:
            stats = loader(self._stats_path(rundir, variant), point["channels"])
        except ParseError as exc:
            hint = failure_message(out, err) if (out.strip() or err.strip()) else ""
            raise SimulatorError(f"Ramulator {variant} exited 0 but its statistics are incomplete: {exc}"
                                 f"{'; log: ' + hint if hint and 'no error message' not in hint else ''}") from None
        if point["frontend"] == "LoadStoreTrace":
            check_request_totals(stats.memory, rundir / TRACE_FILE)

    def parse(self, rundir: Path) -> pd.DataFrame:
        point = self._sidecar(rundir)["point"]
        variant = point["variant"]
        return read_stats(variant, self._stats_path(rundir, variant), point["tick_ps"], point["request_bytes"],
                          point["channels"])

    #: point parameters joined onto every row (the stats rows already carry variant and frontend)
    ANNOTATE_KEYS = ("standard", "org_preset", "timing_preset", "channels", "ranks", "scheduler", "refresh",
                     "row_policy", "row_policy_cap", "addr_mapper", "frontend_clock_ratio", "memory_clock_ratio",
                     "pattern", "read_fraction", "num_requests", "footprint_bytes", "alignment_bytes",
                     "stride_bytes", "bubbles", "seed", "offered_req_per_mem_cycle",
                     "offered_bandwidth_bytes_per_s", "peak_bandwidth_bytes_per_s")

    def annotate(self, rows: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        out = rows.copy()
        for i, key in enumerate(self.ANNOTATE_KEYS):
            out.insert(i, key, point.get(key))
        out = out.rename(columns={"channels": "num_channels"})
        peak = point["peak_bandwidth_bytes_per_s"]
        out["system_bandwidth_utilization"] = out["system_achieved_bandwidth_bytes_per_s"] / peak
        return out

    # ---------------------------------------------------------- availability
    def availability(self) -> Availability:
        try:
            variant = self.variant()
        except ConfigError as exc:
            return Availability(False, self._mode(), "unknown", str(exc))
        if self._mode() == "docker":
            return self.docker_availability(f"{variant} ")
        if variant == "v2.0":
            return self._availability_v20()
        return self._availability_v21()

    def _availability_v20(self) -> Availability:
        binary = self._binary()
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            return Availability(False, "native", "not installed",
                                f"variant v2.0: no ramulator2 executable at {binary!r}; set ramulator.binary in "
                                "config/simulators.yaml (tag v2.0a build) or put ramulator2 on PATH "
                                "(or set ramulator.variant: v2.1 with ramulator.python_path)")
        try:
            proc = subprocess.run([binary, "--version"], stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Availability(False, "native", "unknown", f"variant v2.0: {binary} --version failed: {exc}")
        version = (proc.stdout.strip().splitlines() or ["?"])[0]
        if proc.returncode != 0:
            return Availability(False, "native", "unknown",
                                f"variant v2.0: {binary} --version exited {proc.returncode}: "
                                f"{proc.stderr.strip()[:200]}")
        commit = git_commit(binary, CHECKOUT_MARKER)
        return Availability(True, "native", f"v2.0 ({version}; {commit or UNKNOWN})", binary)

    _PROBE = ("import json, ramulator, ramulator._ramulator as core; "
              "print(json.dumps({'file': ramulator.__file__, 'version': getattr(ramulator, '__version__', None)}))")

    def _availability_v21(self) -> Availability:
        python = self._python()
        env = dict(os.environ, **self._env())
        try:
            proc = subprocess.run([python, "-c", self._PROBE], stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=60, check=False, env=env)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Availability(False, "native", "unknown", f"variant v2.1: cannot run {python}: {exc}")
        if proc.returncode != 0:
            last = (ANSI.sub("", proc.stderr).strip().splitlines() or ["?"])[-1]
            return Availability(False, "native", "not installed",
                                f"variant v2.1: {python} cannot import the Ramulator 2.1 package ({last}); set "
                                "ramulator.python_path (the checkout's python/ directory with the built _ramulator "
                                "module) and/or ramulator.python in config/simulators.yaml")
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        version = info.get("version") or "2.1"
        return Availability(True, "native", f"v2.1 ({version})", info.get("file", ""))

    #: pack column -> table column: the surrogate's rows use the simulated table's names for the same quantity
    surrogate_columns = {"avg_read_latency_ns": "system_avg_read_latency_ns",
                         "avg_read_latency_cycles": "system_avg_read_latency_cycles",
                         "channels": "num_channels", "bandwidth_utilization": "system_bandwidth_utilization"}

    def surrogate_query(self, point: Mapping[str, Any]) -> pd.DataFrame:
        """The memory system as the calibrated pack's inputs: standard, pattern, channels, mix, offered load,
        and whether every other setting is the one the pack's calibration runs used (``fixed_settings``)."""
        return pd.DataFrame([{
            "standard": point["standard"], "pattern": point["pattern"], "channels": point["channels"],
            "read_fraction": point["read_fraction"],
            "offered_load_frac_of_peak": point["offered_bandwidth_bytes_per_s"] / point["peak_bandwidth_bytes_per_s"],
            SETTINGS_COLUMN: settings_level(point, calibrated_settings(point)),
        }])

    def annotate_surrogate(self, rows: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        """Bandwidths in the simulated table's unit (bytes/s) and the point's offered bandwidth."""
        out = rows.copy()
        out["system_achieved_bandwidth_bytes_per_s"] = out.pop("achieved_bandwidth_GBps") * 1e9
        if "peak_bandwidth_GBps" in out:
            out["peak_bandwidth_bytes_per_s"] = out.pop("peak_bandwidth_GBps") * 1e9
        out["offered_bandwidth_bytes_per_s"] = point["offered_bandwidth_bytes_per_s"]
        return out

    def identity(self) -> dict[str, Any]:
        avail = self.availability()
        ident: dict[str, Any] = {"version": avail.version, "mode": avail.mode, "variant": self.variant()}
        if avail.mode == "docker" and avail.available:
            ident["image_id"] = docker_image_id(self.site["image"])
        elif self.variant() == "v2.0" and avail.available:
            ident["binary"] = self._binary()
            ident["binary_sha256"] = sha256_file(Path(self._binary()))
        elif avail.available:
            ident["python"] = self._python()
            ident["package"] = avail.detail
        return ident
