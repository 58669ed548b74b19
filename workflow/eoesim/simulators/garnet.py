"""gem5 Garnet adapter: synthetic traffic on a mesh or on a rendered chiplet-package topology.

Runs gem5 v24's ``configs/example/garnet_synth_traffic.py`` with ``gem5.opt`` built for
Garnet_standalone (site keys garnet.binary and garnet.configs; natively, or inside garnet.image with the
run directory mounted at /run). The script is started from an overlay of gem5's configs dir in the run
directory (``gem5_configs/``, symlinks; see garnet_topology) so that the rendered chiplet topology module
is importable by gem5's ``--topology`` loader without touching the gem5 tree.

Units: the study gives the run length in tester cycles and clocks in GHz; gem5's ``--sim-cycles`` is in
ticks (1 tick = 1 ps, set by the script) and its latency stats are in ticks, converted back to network
cycles with the clock periods gem5 records in config.json (garnet_stats).

Success = exit code 0, no ``fatal:``/``panic:`` line, the ``Exiting @ tick ... because Network Tester
completed simCycles`` line, and one complete stats dump plus config.json in ``m5out/``.
"""
from __future__ import annotations

import math
import os
import subprocess
import tempfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from eoesim.eoe.hardware import build_hardware
from eoesim.errors import ConfigError, ParseError, RenderError, SimulatorError, SimulatorUnavailableError
from eoesim.provenance import sha256_file
from eoesim.runners import STDERR_LOG, STDOUT_LOG, docker_image_id
from eoesim.simulators.base import SITE_CONFIG, Availability, Resources, Simulator, SurrogatePack, SweptAxis, register
from eoesim.simulators.garnet_gem5 import (
    PROBE_FILE,
    PROBE_SCRIPT,
    TESTER_DONE_CAUSE,
    BuildInfo,
    describe_returncode,
    parse_build_info,
    parse_probe,
    run_gem5,
    scan_logs,
)
from eoesim.simulators.garnet_stats import (
    CONFIG_FILE,
    STATS_FILE,
    parse_run,
    read_stats,
    saturation_flag,
)
from eoesim.simulators.garnet_topology import CHIPLET_TOPOLOGY, OVERLAY_DIR, SCRIPT, ChipletMesh, build_overlay
from eoesim.surrogates import SETTINGS_COLUMN, settings_level

OUTDIR = "m5out"
ARGS_FILE = "garnet_synth_traffic.args"
KEY = "workload.garnet"
SITE_HINT = "config/simulators.yaml or $EOESIM_SIMULATORS"
MESH_TOPOLOGIES = ("Mesh_XY", "Mesh_westfirst", "MeshDirCorners_XY")
#: topologies whose routers are a row-major mesh, as gem5's XY routing needs
XY_TOPOLOGIES = ("Mesh_XY", "MeshDirCorners_XY", "chiplet_mesh")
ROUTING_IDS = {"table": 0, "xy": 1}
#: patterns that place sources/destinations on a sqrt(num_dirs) x sqrt(num_dirs) grid (GarnetSyntheticTraffic.cc)
SQUARE_PATTERNS = ("transpose", "bit_complement", "tornado", "neighbor")
DEFAULT_NUM_CPUS = 16
MAX_ROUTERS = 1024
MAX_RATE_DECIMALS = 6
#: where the build probe script is mounted in garnet.image (docker mode)
PROBE_MOUNT = "/eoesim-probe"
#: where gem5 writes the probe's m5out inside garnet.image: the container's own scratch space, not the host's
PROBE_OUTDIR_IN_IMAGE = "m5out-probe"
#: topologies the calibrated surrogate covers (a Mesh_XY is a chiplet_mesh of one chiplet)
SURROGATE_TOPOLOGIES = ("Mesh_XY", "chiplet_mesh")
#: settings the Garnet pack's calibration runs held fixed (analysis/calibration/garnet/PROVENANCE.md): table
#: routing, single-flit packets (inj_vnet 0), one directory per CPU, the network clocked like the tester
CALIBRATED_SETTINGS = {"routing_algorithm": "table", "inj_vnet": 0, "num_dirs_per_cpu": 1.0, "ruby_over_sys_clock": 1.0}
#: point keys whose value gem5 reports back in config.json (checked in annotate)
ECHOED = ("num_cpus", "num_dirs", "synthetic", "injection_rate", "inj_vnet", "vcs_per_vnet")


def _last_line(text: str) -> str:
    return (text.strip().splitlines() or ["(no stderr)"])[-1]


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _default_rows(n: int) -> int:
    return max(d for d in _divisors(n) if d * d <= n)


def _period_ps(ghz: float) -> int:
    """Clock period in ticks (ps), rounded half-up like gem5's ticks.fromSeconds."""
    return max(1, int((Decimal(1000) / Decimal(str(ghz))).to_integral_value(ROUND_HALF_UP)))


def _rate_precision(rate: float) -> int:
    for digits in range(3, MAX_RATE_DECIMALS + 1):
        if math.isclose(rate * 10**digits, round(rate * 10**digits), abs_tol=1e-6):
            return digits
    raise ConfigError(
        f"{KEY}.injection_rate: {rate} has more than {MAX_RATE_DECIMALS} decimals; allowed: a rate with at most "
        f"{MAX_RATE_DECIMALS} decimals (gem5 draws injections with --precision digits)"
    )


def chiplet_geometry(point: Mapping[str, Any]) -> ChipletMesh:
    pkg = point["chiplet_mesh"]
    return ChipletMesh(
        chiplet_rows=pkg["chiplets"][0], chiplet_cols=pkg["chiplets"][1],
        router_rows=pkg["routers_per_chiplet"][0], router_cols=pkg["routers_per_chiplet"][1],
        router_latency_cycles=point["router_latency_cycles"], link_latency_cycles=point["link_latency_cycles"],
        link_width_bits=point["link_width_bits"],
        interposer_link_latency_cycles=pkg["interposer_link_latency_cycles"],
        interposer_link_width_bits=pkg["interposer_link_width_bits"],
    )


def _check_power_of_two_dirs(topology: str, cpus: int, dirs: int) -> None:
    """gem5's configs/ruby/Ruby.py interleaves memory over the directories with int(log2(num_dirs)) address
    bits, so any other count dies in gem5 with ``fatal: ... Match value N does not fit in B interleaving
    bits`` (a 6x6 mesh's 36 directories, seen with v24.0.0.1)."""
    if dirs & (dirs - 1) == 0:
        return
    lower, upper = 1 << (dirs.bit_length() - 1), 1 << dirs.bit_length()
    if topology in ("Mesh_XY", "Mesh_westfirst", "chiplet_mesh"):
        allowed = ("a power of two that is a multiple of num_cpus, which exists only when num_cpus (the number "
                   f"of routers, here {cpus}) is a power of two: use a mesh of e.g. 4x4, 4x8 or 8x8 routers")
        if cpus & (cpus - 1) == 0:
            allowed = f"a power of two that is a multiple of num_cpus={cpus}, e.g. {max(cpus, upper)}"
    else:
        allowed = f"a power of two, e.g. {lower} or {upper}"
    raise ConfigError(
        f"{KEY}.num_dirs: {dirs} is not a power of two (gem5 interleaves memory over the directories with "
        f"log2(num_dirs) address bits; num_dirs defaults to num_cpus); allowed: {allowed}"
    )


def package_workload(wl: Mapping[str, Any], hardware: Mapping[str, Any]) -> dict:
    """``topology: package`` - the study's own chiplet package (hardware.package) as a chiplet_mesh: one router per
    chiplet, every link an interposer link of the package's link latency (chiplet cycles at hardware.chiplet.freq_ghz,
    converted to network cycles at ruby_clock_ghz, at least 1). Any other topology is returned as it is."""
    if wl["topology"] != "package":
        return dict(wl)
    hw = build_hardware(hardware)
    if hw.topology != "mesh":
        raise ConfigError(f"{KEY}.topology: package needs a mesh package; hardware.package.topology is "
                          f"{hw.topology!r}; allowed: hardware.package.topology mesh, or another {KEY}.topology")
    latency_s = hw.link_latency_cycles * hw.chiplet.cycle_s
    network_cycles = max(1, round(latency_s * wl["ruby_clock_ghz"] * 1e9))
    return {**wl, "topology": "chiplet_mesh",
            "chiplet_mesh": {**dict(wl["chiplet_mesh"]), "chiplets": [hw.grid_rows, hw.grid_cols],
                             "routers_per_chiplet": [1, 1], "interposer_link_latency_cycles": network_cycles}}


def resolve_point(wl: Mapping[str, Any]) -> dict:
    """The resolved, cross-checked parameters of one run from a validated workload.garnet section."""
    point = {k: v for k, v in wl.items() if k != "chiplet_mesh"}
    topology = point["topology"]
    if topology == "chiplet_mesh":
        point["chiplet_mesh"] = dict(wl["chiplet_mesh"])
        geom = chiplet_geometry(point)
        desc = (f"{geom.chiplet_rows}x{geom.chiplet_cols} chiplets of {geom.router_rows}x{geom.router_cols} "
                f"routers = {geom.num_routers} routers in {geom.rows} rows")
        if geom.num_routers > MAX_ROUTERS:
            raise ConfigError(f"{KEY}.chiplet_mesh: {desc}; allowed: at most {MAX_ROUTERS} routers")
        for key, derived in (("num_cpus", geom.num_routers), ("mesh_rows", geom.rows)):
            if point[key] is not None and point[key] != derived:
                raise ConfigError(
                    f"{KEY}.{key}: {point[key]} does not match the chiplet package ({desc}); "
                    f"allowed: {derived} or null"
                )
            point[key] = derived
    else:
        if point["num_cpus"] is None:
            point["num_cpus"] = DEFAULT_NUM_CPUS
        if point["mesh_rows"] is None:
            point["mesh_rows"] = _default_rows(point["num_cpus"])
    cpus, rows = point["num_cpus"], point["mesh_rows"]
    if point["num_dirs"] is None:
        point["num_dirs"] = cpus
    dirs = point["num_dirs"]

    if topology in MESH_TOPOLOGIES and cpus % rows:
        raise ConfigError(
            f"{KEY}.mesh_rows: {rows} does not divide num_cpus={cpus}; allowed: a divisor of {cpus} {_divisors(cpus)}"
        )
    if topology == "MeshDirCorners_XY" and dirs != 4:
        raise ConfigError(f"{KEY}.num_dirs: {dirs}; allowed: 4 (MeshDirCorners_XY puts one directory in each corner)")
    if topology in ("Mesh_XY", "Mesh_westfirst", "chiplet_mesh") and dirs % cpus:
        raise ConfigError(
            f"{KEY}.num_dirs: {dirs} is not a multiple of num_cpus={cpus} ({topology} spreads the num_cpus + "
            f"num_dirs controllers evenly over {cpus} routers); allowed: a multiple of {cpus}"
        )
    _check_power_of_two_dirs(topology, cpus, dirs)
    pattern = point["synthetic"]
    if pattern != "uniform_random" and cpus > dirs:
        raise ConfigError(
            f"{KEY}.synthetic: {pattern} maps every source id to a destination id, so num_cpus={cpus} must not "
            f"exceed num_dirs={dirs}; allowed: uniform_random, or num_cpus <= num_dirs"
        )
    if pattern in SQUARE_PATTERNS and math.isqrt(dirs) ** 2 != dirs:
        raise ConfigError(
            f"{KEY}.synthetic: {pattern} lays the destinations out as a square grid, but num_dirs={dirs} is not a "
            "square; allowed: uniform_random, bit_rotation, shuffle, bit_reverse or a square num_dirs"
        )
    if point["routing_algorithm"] == "xy" and topology not in XY_TOPOLOGIES:
        raise ConfigError(
            f"{KEY}.routing_algorithm: xy needs a row-major router mesh, which topology {topology} is not; "
            f"allowed: table (or topology one of {list(XY_TOPOLOGIES)})"
        )
    _rate_precision(point["injection_rate"])
    return point


def render_context(point: Mapping[str, Any]) -> dict:
    """Template variables of garnet_synth_traffic.args.j2 (gem5 units: ticks, ps, algorithm ids)."""
    sys_ps = _period_ps(point["sys_clock_ghz"])
    return {
        **point,
        "topology_arg": CHIPLET_TOPOLOGY if point["topology"] == "chiplet_mesh" else point["topology"],
        "precision": _rate_precision(point["injection_rate"]),
        "sim_ticks": point["sim_cycles"] * sys_ps,
        "routing_algorithm_id": ROUTING_IDS[point["routing_algorithm"]],
        "ruby_clock_ps": _period_ps(point["ruby_clock_ghz"]),
        "sys_clock_ps": sys_ps,
    }


@register
class Garnet(Simulator):
    name = "garnet"
    adapter_version = "1"

    schema_file = "simulators/garnet.schema.yaml"
    row_keys = ("vnet",)
    #: per-vnet rows of a vnet that carried no packet have NaN latency (gem5 prints nan): only the total row must
    required_metrics = ("average_packet_latency_cycles", "average_hops")
    required_rows = ("vnet", "all")
    bounds_checks = ("received_above_injected",)
    echo_checks = ("gem5_config_echo",)
    swept_axes = (
        SweptAxis(("injection_rate",), ("average_packet_latency_cycles",),
                  ("vnet", "topology", "num_cpus", "num_dirs", "mesh_rows", "synthetic", "inj_vnet", "sim_cycles",
                   "vcs_per_vnet", "router_latency_cycles", "link_latency_cycles", "link_width_bits",
                   "routing_algorithm", "ruby_clock_ghz", "sys_clock_ghz", "chiplet_rows", "chiplet_cols",
                   "routers_per_chiplet_rows", "routers_per_chiplet_cols", "interposer_link_latency_cycles",
                   "interposer_link_width_bits")),
    )
    surrogates = (SurrogatePack(
        "garnet", "eoesim.analysis.surrogate_garnet", "garnet/calibration.csv", breakdown="pattern",
        notes=("Validated up to 0.9 x the fitted saturation rate, which is capped by the accepted throughput gem5 "
               "measured under overload. A Mesh_XY is a chiplet_mesh of one chiplet; chiplet_mesh rows are in the "
               "domain only for the (topology, pattern) regimes the calibration ran.",)),)
    refit_from_study = False
    how_to_provide = (f"set garnet.binary (gem5.opt built for Garnet_standalone) and garnet.configs (gem5's configs/) "
                      f"in {SITE_CONFIG}")

    def __init__(self, site: Mapping[str, Any] | None = None):
        super().__init__(site)
        self._availability: Availability | None = None

    # ---- site -------------------------------------------------------------------------------------
    def _mode(self) -> str:
        return self.site.get("mode", "native")

    def _binary(self) -> str:
        """gem5.opt as the process will see it; SimulatorUnavailableError naming the key when unusable."""
        binary = self.site.get("binary")
        if not binary:
            raise SimulatorUnavailableError(
                "garnet: no gem5 binary configured; set garnet.binary (path to gem5.opt built for "
                f"Garnet_standalone{', inside the image' if self._mode() == 'docker' else ''}) in {SITE_HINT}"
            )
        if self._mode() == "docker":
            return str(binary)
        path = Path(binary).expanduser().absolute()
        if not path.is_file() or not os.access(path, os.X_OK):
            raise SimulatorUnavailableError(
                f"garnet: garnet.binary = {binary} is not an executable file; set garnet.binary to gem5.opt "
                f"built for Garnet_standalone (build/Garnet_standalone/gem5.opt) in {SITE_HINT}"
            )
        return str(path)

    def _configs(self) -> str:
        configs = self.site.get("configs")
        if not configs:
            raise RenderError(
                f"garnet: no gem5 configs dir configured; set garnet.configs (gem5's configs/ directory) in {SITE_HINT}"
            )
        if self._mode() == "docker":
            if not str(configs).startswith("/"):
                raise RenderError(f"garnet: garnet.configs = {configs} must be an absolute path inside the image")
            return str(configs)
        return str(Path(configs).expanduser().absolute())

    # ---- design point -------------------------------------------------------------------------------
    def point_params(self, study: Mapping[str, Any]) -> dict:
        return resolve_point(package_workload(study["workload"]["garnet"], study.get("hardware") or {}))

    def render(self, point: Mapping[str, Any], rundir: Path) -> list[Path]:
        rundir = Path(rundir)
        overlay = build_overlay(rundir, self._configs(), listable=self._mode() != "docker")
        ctx = render_context(point)
        rendered = [self.render_template("garnet_synth_traffic.args.j2", rundir / ARGS_FILE, **ctx)]
        if point["topology"] == "chiplet_mesh":
            module = overlay / "topologies" / f"{CHIPLET_TOPOLOGY}.py"
            rendered.append(self.render_template(
                f"{CHIPLET_TOPOLOGY}.py.j2", module, **chiplet_geometry(point).template_context()
            ))
        return rendered

    def argv(self, rundir: Path) -> list[str]:
        args_path = Path(rundir) / ARGS_FILE
        args = [ln.strip() for ln in args_path.read_text().splitlines() if ln.strip()]
        return [self._binary(), "-d", OUTDIR, f"{OVERLAY_DIR}/{SCRIPT}", *args]

    def resources(self, point: Mapping[str, Any]) -> Resources:
        # Measured: 4x4 mesh, 10k cycles ~2 s; 8x8 near saturation ~10 s (~6e4 router-cycles per host second).
        work = point["num_cpus"] * point["sim_cycles"] * (1 + 4 * point["injection_rate"])
        return Resources(cores=1, mem_mb=1024 + 8 * point["num_cpus"],
                         runtime_min=max(5, math.ceil(3 * work / 6e4 / 60) + 2))

    # ---- outcome ------------------------------------------------------------------------------------
    def check(self, rundir: Path, returncode: int) -> None:
        rundir = Path(rundir)
        stdout = (rundir / STDOUT_LOG).read_text(errors="replace") if (rundir / STDOUT_LOG).exists() else ""
        stderr = (rundir / STDERR_LOG).read_text(errors="replace") if (rundir / STDERR_LOG).exists() else ""
        outcome = scan_logs(stdout, stderr)
        if outcome.deadlock:
            raise SimulatorError(f"gem5 reported a network deadlock ({describe_returncode(returncode)}): "
                                 f"{outcome.deadlock}")
        if returncode != 0:
            why = outcome.failures[0] if outcome.failures else (
                outcome.traceback_tail or "no fatal:/panic: message (see stderr.log)")
            raise SimulatorError(f"gem5 {describe_returncode(returncode)}: {why}")
        if outcome.failures:
            raise SimulatorError(f"gem5 exited 0 but reported {outcome.failures[0]}")
        if outcome.exit_cause is None:
            raise SimulatorError("stdout lacks gem5's 'Exiting @ tick' line: the simulation did not finish")
        if outcome.exit_cause != TESTER_DONE_CAUSE:
            raise SimulatorError(f"gem5 stopped at tick {outcome.exit_tick} because {outcome.exit_cause!r}, "
                                 f"not {TESTER_DONE_CAUSE!r}")
        if not (rundir / OUTDIR / CONFIG_FILE).is_file():
            raise SimulatorError(f"missing {OUTDIR}/{CONFIG_FILE}")
        try:
            read_stats(rundir / OUTDIR / STATS_FILE)
        except ParseError as exc:
            raise SimulatorError(f"incomplete statistics: {exc}") from exc

    def parse(self, rundir: Path) -> pd.DataFrame:
        return parse_run(Path(rundir) / OUTDIR / STATS_FILE, Path(rundir) / OUTDIR / CONFIG_FILE)

    def annotate(self, rows: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        """Check gem5 ran the point (config.json echoes), then add its parameters and re-derive saturated."""
        out = rows.copy()
        expected_topology = CHIPLET_TOPOLOGY if point["topology"] == "chiplet_mesh" else point["topology"]
        checks = {k: point[k] for k in ECHOED}
        checks["topology"] = expected_topology
        checks["routing_algorithm"] = ROUTING_IDS[point["routing_algorithm"]]
        if point["topology"] == "chiplet_mesh":
            geom = chiplet_geometry(point)
            checks["num_routers"] = geom.num_routers
            checks["num_int_links"] = len(geom.int_links())
        for key, value in checks.items():
            seen = out[key].iloc[0]
            seen = seen.item() if hasattr(seen, "item") else seen  # numpy scalar -> Python value
            same = math.isclose(seen, value) if isinstance(value, float) else seen == value
            if not same:
                raise ParseError(f"{OUTDIR}/{CONFIG_FILE}", f"gem5 ran with {key}={seen!r} but the point has {value!r}")
        out["topology"] = point["topology"]
        out["routing_algorithm"] = point["routing_algorithm"]
        params = {k: v for k, v in point.items() if k != "chiplet_mesh" and k not in out.columns}
        if point["topology"] == "chiplet_mesh":
            pkg = point["chiplet_mesh"]
            params.update({
                "chiplet_rows": pkg["chiplets"][0], "chiplet_cols": pkg["chiplets"][1],
                "routers_per_chiplet_rows": pkg["routers_per_chiplet"][0],
                "routers_per_chiplet_cols": pkg["routers_per_chiplet"][1],
                "interposer_link_latency_cycles": pkg["interposer_link_latency_cycles"],
                "interposer_link_width_bits": pkg["interposer_link_width_bits"],
            })
        for i, (key, value) in enumerate(params.items()):
            out.insert(1 + i, key, value)
        out.insert(out.columns.get_loc("mesh_rows") + 1, "mesh_cols", point["num_cpus"] // point["mesh_rows"])
        total = out["vnet"] == "all"
        out.loc[total, "saturated"] = [
            saturation_flag(a, point["saturation_threshold"]) for a in out.loc[total, "acceptance_ratio"]
        ]
        return out

    # ---- environment --------------------------------------------------------------------------------
    #: pack column -> table column: the surrogate's rows use the simulated table's names for the same quantity
    surrogate_columns = {"avg_packet_latency_cycles": "average_packet_latency_cycles", "avg_hops": "average_hops",
                         "pattern": "synthetic", "link_latency": "link_latency_cycles",
                         "router_latency": "router_latency_cycles"}

    def surrogate_query(self, point: Mapping[str, Any]) -> pd.DataFrame:
        """Mesh_XY and chiplet_mesh points as the calibrated pack's inputs (a plain mesh is one chiplet)."""
        topology = point["topology"]
        if topology not in SURROGATE_TOPOLOGIES:
            raise SimulatorUnavailableError(
                f"garnet: the calibrated surrogate covers topologies {list(SURROGATE_TOPOLOGIES)} only, "
                f"not {topology!r}")
        row = {
            "vnet": "all", "topology": topology, "mesh_rows": point["mesh_rows"],
            "mesh_cols": point["num_cpus"] // point["mesh_rows"], "pattern": point["synthetic"],
            "injection_rate": point["injection_rate"], "vcs_per_vnet": point["vcs_per_vnet"],
            "link_latency": point["link_latency_cycles"], "router_latency": point["router_latency_cycles"],
            "link_width_bits": point["link_width_bits"], "chiplet_rows": 1, "chiplet_cols": 1,
            "interposer_link_latency": point["link_latency_cycles"],
            "interposer_link_width_bits": point["link_width_bits"],
        }
        if topology == "chiplet_mesh":
            geom = chiplet_geometry(point)
            row.update(chiplet_rows=geom.chiplet_rows, chiplet_cols=geom.chiplet_cols,
                       interposer_link_latency=geom.interposer_link_latency_cycles,
                       interposer_link_width_bits=geom.interposer_link_width_bits)
        settings = {"routing_algorithm": point["routing_algorithm"], "inj_vnet": point["inj_vnet"],
                    "num_dirs_per_cpu": point["num_dirs"] / point["num_cpus"],
                    "ruby_over_sys_clock": point["ruby_clock_ghz"] / point["sys_clock_ghz"]}
        row[SETTINGS_COLUMN] = settings_level(settings, CALIBRATED_SETTINGS)
        return pd.DataFrame([row])

    def availability(self) -> Availability:
        if self._availability is None:
            self._availability = self._probe()
        return self._availability

    def _probe(self) -> Availability:
        mode = self._mode()
        try:
            binary = self._binary()
            configs = self._configs()
        except (SimulatorUnavailableError, RenderError) as exc:
            return Availability(False, mode, "not configured", str(exc).removeprefix("garnet: "))
        where = binary
        if mode == "docker":
            image = self.site.get("image")
            if not image:
                return Availability(False, mode, "not configured",
                                    f"mode is docker but no image is set; set garnet.image in {SITE_HINT}")
            try:
                docker_image_id(image)
            except SimulatorUnavailableError as exc:
                return Availability(False, mode, "unknown", str(exc))
            where = f"{image}:{binary}"
        elif not (Path(configs) / SCRIPT).is_file():
            return Availability(False, mode, "unknown",
                                f"garnet.configs = {configs} lacks {SCRIPT}; set garnet.configs to gem5's configs/ dir")
        try:
            info, failures = self._build_info(binary)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Availability(False, mode, "unknown", f"cannot run {where}: {exc}")
        if info is None:
            return Availability(False, mode, "unknown", f"{where}: " + "; ".join(failures))
        what = f"protocol {info.protocol}" if info.protocol else "protocol unknown"
        detail = f"{where}; {what}; Garnet_standalone {'built in' if info.garnet_standalone else 'NOT built in'} " \
                 f"(from {info.how}{'; ' + failures[0] if failures else ''})"
        if not info.garnet_standalone:
            detail += "; garnet_synth_traffic.py needs a Garnet_standalone build (build/Garnet_standalone/gem5.opt)"
        return Availability(info.garnet_standalone, mode, info.version, detail)

    def _gem5_argv(self, binary: str, args: list[str], probe_dir: Path | None = None,
                   scratch: bool = False) -> list[str]:
        """``gem5.opt args`` natively, or in garnet.image (no network) with ``probe_dir`` mounted read-only and,
        with ``scratch``, a throwaway in-memory working directory for gem5's outputs."""
        if self._mode() != "docker":
            return [binary, *args]
        mount = ["-v", f"{probe_dir}:{PROBE_MOUNT}:ro"] if probe_dir is not None else []
        if scratch:
            mount += ["--tmpfs", "/scratch", "-w", "/scratch"]
        return ["docker", "run", "--rm", "--network", "none", *mount, self.site["image"], binary, *args]

    def _build_info(self, binary: str) -> tuple[BuildInfo | None, list[str]]:
        """gem5's build (version, protocol) from ``--build-info``, else from a probe script run by gem5 (see
        garnet_gem5: v24.0.0.1's --build-info crashes); the failures met on the way, as text."""
        with tempfile.TemporaryDirectory(prefix="eoesim-gem5-probe-") as tmp:
            code, out, err = run_gem5(self._gem5_argv(binary, ["--build-info"]), Path(tmp))
            if code == 0:
                return parse_build_info(out, binary), []
            failures = [f"--build-info {describe_returncode(code)}: {_last_line(err)}"]
            (Path(tmp) / PROBE_FILE).write_text(PROBE_SCRIPT)
            os.chmod(tmp, 0o755)
            if self._mode() == "docker":
                argv = self._gem5_argv(binary, ["-d", PROBE_OUTDIR_IN_IMAGE, f"{PROBE_MOUNT}/{PROBE_FILE}"], Path(tmp),
                                       scratch=True)
            else:
                argv = self._gem5_argv(binary, ["-d", str(Path(tmp) / "m5out"), str(Path(tmp) / PROBE_FILE)])
            code, out, err = run_gem5(argv, Path(tmp))
        info = parse_probe(out, binary) if code == 0 else None
        if info is None:
            failures.append(f"a probe script {describe_returncode(code)}: {_last_line(err)}")
        return info, failures

    def identity(self) -> dict[str, Any]:
        avail = self.availability()
        ident: dict[str, Any] = {"version": avail.version, "mode": avail.mode, "build": avail.detail,
                                 "configs": self.site.get("configs")}
        if avail.mode == "docker":
            ident["image_id"] = docker_image_id(self.site["image"])
        else:
            ident["binary_sha256"] = sha256_file(Path(self._binary()))
        return ident
