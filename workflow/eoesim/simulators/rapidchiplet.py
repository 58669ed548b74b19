"""RapidChiplet adapter: a chiplet package -> area, power, link, cost, latency, throughput (+ BookSim sweep).

Two routes (``workload.rapidchiplet.route``):

* design — the harness renders every input RapidChiplet reads (design file, technologies, chiplets,
  placement, topology, packaging, BookSim config from templates/rapidchiplet/; routing table and traffic
  generated in Python and written in RapidChiplet's tuple-encoded JSON) and runs
  ``python rapidchiplet.py -df inputs/design.json -rf <name> -as -ps -ls -c -l -t [-bs]``;
* experiment — the harness renders a one-design experiment file and runs RapidChiplet's
  ``run_experiment.py`` (all its topology generators) under a seeding wrapper (``seeded_run.py``).

Each run directory is its own RapidChiplet working copy (rapidchiplet_workcopy) and the design name is
unique to the point, so parallel jobs never share writable files. ``eoesim_run.json`` records what
argv/check/parse need (route, design name, metrics, BookSim precision).

Success needs exit code 0 AND no "completed with N errors" with N > 0 (RapidChiplet validates its inputs but
carries on), no "Error during BookSim simulation:" or "Failed run with load" (BookSim failures; the exit code
stays 0), no "ERROR:" line, and the results file; parse then requires every requested metric.
"""
from __future__ import annotations

import functools
import json
import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from eoesim.eoe.chiplet_budget import rapidchiplet_section
from eoesim.errors import RenderError, SimulatorError, SimulatorUnavailableError
from eoesim.provenance import sha256_file
from eoesim.runners import STDERR_LOG, STDOUT_LOG, DockerRunner, Runner, docker_image_id
from eoesim.simulators import rapidchiplet_json
from eoesim.simulators.base import SITE_CONFIG, Availability, Resources, Simulator, SurrogatePack, register
from eoesim.simulators.build_identity import UNKNOWN, git_commit
from eoesim.simulators.rapidchiplet_package import build_package, chiplet_type
from eoesim.simulators.rapidchiplet_params import design_name, n_chiplets, resolve
from eoesim.simulators.rapidchiplet_results import ANALYTIC_METRICS, BOOKSIM_METRIC, parse_results
from eoesim.simulators.rapidchiplet_routing import routing_table
from eoesim.simulators.rapidchiplet_traffic import by_chiplet, traffic_by_unit
from eoesim.simulators.rapidchiplet_validate import check_inputs
from eoesim.simulators.rapidchiplet_workcopy import BOOKSIM_BINARY, make_working_copy, missing_files
from eoesim.surrogates import SETTINGS_COLUMN, settings_level

#: every input of the design route, as the design file names them (relative to the run directory)
FILES = {
    "technologies": "inputs/technologies.json",
    "chiplets": "inputs/chiplets.json",
    "placement": "inputs/placement.json",
    "topology": "inputs/topology.json",
    "packaging": "inputs/packaging.json",
    "routing_table": "inputs/routing_table.json",
    "traffic_by_unit": "inputs/traffic_by_unit.json",
    "traffic_by_chiplet": "inputs/traffic_by_chiplet.json",
    "booksim_config": "inputs/booksim_config.json",
}
DESIGN_FILE = "inputs/design.json"
#: a file of RapidChiplet's source tree: a git work tree holding it is a RapidChiplet checkout (build_identity)
CHECKOUT_MARKER = "rapidchiplet.py"
EXPERIMENT_FILE = "experiment.json"
SEEDED_RUN = "seeded_run.py"
RUN_META = "eoesim_run.json"
RESULTS_DIR = "results"
ANALYTIC_FLAGS = ("-as", "-ps", "-ls", "-c", "-l", "-t")

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: "Validating <input>..." is printed without a newline; VALIDATION ERROR lines (if any) follow it, then
#: " completed with N errors." — so the two parts may be on different lines
_VALIDATION = re.compile(r"Validating ([A-Za-z ]+?)\.\.\.|completed with (\d+) errors")
BOOKSIM_ERROR = "Error during BookSim simulation:"
BOOKSIM_FAILED_LOAD = "Failed run with load"


def length_function(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A per-link quantity as RapidChiplet's (type, value): a number or a lambda of the length x (mm)."""
    if spec["type"] == "constant":
        return {"type": "constant", "value": spec["constant"]}
    body = f"{spec['per_mm']!r} * x"
    if spec["constant"]:
        body = f"{spec['constant']!r} + {body}"
    return {"type": "function", "value": f"lambda x : {body}"}


def _validation_failures(stdout: str) -> str:
    """'' or a message naming every input whose validation reported errors, with the first error lines."""
    failed, what = [], "input"
    for name, count in _VALIDATION.findall(stdout):
        if name:
            what = name
        elif int(count) > 0:
            failed.append(f"{what}: {count} error(s)")
    if not failed:
        return ""
    details = [ln[ln.index("VALIDATION ERROR"):].strip() for ln in stdout.splitlines() if "VALIDATION ERROR" in ln]
    return ("RapidChiplet's input validation failed (it carries on and exits 0 regardless): " + ", ".join(failed)
            + "".join(f"\n  {d}" for d in details[:5]))


def _text(path: Path) -> str:
    return _ANSI.sub("", path.read_text(errors="replace")) if path.exists() else ""


@register
class RapidChiplet(Simulator):
    name = "rapidchiplet"
    adapter_version = "1"

    schema_file = "simulators/rapidchiplet.schema.yaml"
    row_keys = ("record",)
    #: chiplet_type / link_length / booksim_load records hold other quantities than the package row
    required_metrics = ("latency_avg_cycles", "aggregate_throughput_bits_per_cycle")
    required_rows = ("record", "package")
    bounds_checks = ()
    echo_checks = ("booksim_config_echo",)
    #: RapidChiplet's own BookSim sweep is the load axis; its records are checked by the surrogate's fit
    swept_axes = ()
    surrogates = (
        SurrogatePack(
            "rapidchiplet", "eoesim.analysis.surrogate_rapidchiplet", "rapidchiplet/calibration.csv",
            breakdown="traffic_pattern",
            notes=("Hotspot metrics are exact given the run's seed column (RapidChiplet's Python RNG seed, which "
                   "picks the hotspots); without it the query is out of domain. Throughput, area and power are exact "
                   "(edge columns included); settings other than the study defaults are out of domain.",)),
        SurrogatePack(
            "rapidchiplet_booksim", "eoesim.analysis.surrogate_rapidchiplet", "rapidchiplet/calibration_booksim.csv",
            training_frame="booksim_training_frame", breakdown="topology",
            notes=("Points above 0.8 x the fitted saturation are single noisy BookSim runs and outside the domain; a "
                   "(topology, traffic pattern) pair never run is outside the domain.",)),
    )
    refit_from_study = False
    how_to_provide = f"set rapidchiplet.checkout (spcl/rapidchiplet with booksim2/src/booksim built) in {SITE_CONFIG}"

    # ---- design point -> inputs ------------------------------------------------------------------
    def point_params(self, study: Mapping[str, Any]) -> dict:
        # a compute chiplet without area_mm2/power_w takes them from hardware.chiplet (eoe.chiplet_budget)
        return resolve(rapidchiplet_section(study), study.get("seed", 1))

    def render(self, point: Mapping[str, Any], rundir: Path) -> list[Path]:
        rundir = Path(rundir)
        (rundir / "inputs").mkdir(parents=True, exist_ok=True)
        name = design_name(point)
        booksim = point["booksim"]
        sample_period = booksim["sample_period"] or 500 + 300 * n_chiplets(point)
        ctx = {
            "design_name": name, "files": FILES, "technologies": point["technologies"],
            "p": point["packaging"], "b": booksim, "sample_period": sample_period,
            "link_latency": length_function(point["packaging"]["link_latency_cycles"]),
            "link_power": length_function(point["packaging"]["link_power_w"]),
        }
        out = [self._render_json(t, rundir / FILES[t], ctx) for t in ("technologies", "packaging", "booksim_config")]
        metrics = list(ANALYTIC_METRICS) + ([BOOKSIM_METRIC] if booksim["enabled"] else [])
        if point["route"] == "design":
            out += self._render_design(point, rundir, ctx)
        else:
            ctx.update(metrics=metrics, w=point, c=point["chiplets"]["compute"], seed=point["seed"] or 0)
            out.append(self._render_json("experiment", rundir / EXPERIMENT_FILE, ctx))
            out.append(self.render_template(f"{SEEDED_RUN}.j2", rundir / SEEDED_RUN, **ctx))
        meta = {"route": point["route"], "design_name": name, "metrics": metrics,
                "precision": booksim["precision"], "saturation_factor": booksim["saturation_factor"]}
        (rundir / RUN_META).write_text(json.dumps(meta, indent=2) + "\n")
        out.append(rundir / RUN_META)
        self._working_copy(rundir, booksim["enabled"])
        return out

    def _render_json(self, template: str, dest: Path, ctx: Mapping[str, Any]) -> Path:
        path = self.render_template(f"{template}.json.j2", dest, **ctx)
        try:
            json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise RenderError(f"{self.name}: {template}.json.j2 rendered invalid JSON: {exc}") from None
        return path

    def _render_design(self, point: Mapping[str, Any], rundir: Path, ctx: dict[str, Any]) -> list[Path]:
        pkg = build_package(point)
        ctx = dict(ctx, chiplet_types=list(pkg.types.values()), sites=pkg.sites, links=pkg.links)
        out = [self._render_json(t, rundir / FILES[t], ctx) for t in ("chiplets", "placement", "topology")]
        by_unit = traffic_by_unit(pkg, point["traffic"], point["seed"] or 0)
        out.append(rapidchiplet_json.write(rundir / FILES["routing_table"], routing_table(pkg, point["routing"])))
        out.append(rapidchiplet_json.write(rundir / FILES["traffic_by_unit"], by_unit))
        out.append(rapidchiplet_json.write(rundir / FILES["traffic_by_chiplet"], by_chiplet(by_unit)))
        out.append(self._render_json("design", rundir / DESIGN_FILE, ctx))
        docs = {key: rapidchiplet_json.read(rundir / rel) for key, rel in FILES.items()}
        problems = check_inputs(docs)
        if problems:
            raise RenderError(f"{self.name}: rendered inputs are inconsistent:\n  " + "\n  ".join(problems[:20]))
        return out

    def _working_copy(self, rundir: Path, booksim: bool) -> None:
        """Link the run directory to RapidChiplet (skipped in native mode without a checkout: inputs only)."""
        if self._mode() == "docker":
            make_working_copy(rundir, self.site.get("container_checkout", "/opt/rapidchiplet"))
            return
        checkout = self.site.get("checkout")
        if not checkout:
            return
        missing = missing_files(Path(checkout), booksim)
        if missing:
            hint = " (build BookSim: make in booksim2/src)" if BOOKSIM_BINARY in missing else ""
            raise SimulatorUnavailableError(
                f"{self.name}: checkout {checkout} lacks {missing}{hint}; set rapidchiplet.checkout in "
                "config/simulators.yaml to a spcl/rapidchiplet checkout")
        make_working_copy(rundir, str(Path(checkout).resolve()))

    # ---- running ------------------------------------------------------------------------------------
    def _mode(self) -> str:
        return self.site.get("mode", "native")

    @staticmethod
    def _meta(rundir: Path) -> dict[str, Any]:
        path = Path(rundir) / RUN_META
        if not path.is_file():
            raise SimulatorError(f"{path} is missing: the run directory was not rendered by this adapter")
        return json.loads(path.read_text())

    def argv(self, rundir: Path) -> list[str]:
        meta = self._meta(rundir)
        python = self.site.get("python", "python3") if self._mode() == "native" else "python3"
        if meta["route"] == "experiment":
            return [python, SEEDED_RUN, "run_experiment.py", "-e", EXPERIMENT_FILE]
        flags = list(ANALYTIC_FLAGS) + (["-bs"] if BOOKSIM_METRIC in meta["metrics"] else [])
        return [python, "rapidchiplet.py", "-df", DESIGN_FILE, "-rf", meta["design_name"], *flags]

    def runner(self) -> Runner:
        env = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
        if self._mode() == "docker":
            image = self.site.get("image")
            if not image:
                raise SimulatorUnavailableError(
                    f"{self.name}: mode is docker but no image is set; set {self.name}.image in config/simulators.yaml")
            return DockerRunner(mode="docker", image=image, env=env)
        return Runner(mode="native", env=env)

    def resources(self, point: Mapping[str, Any]) -> Resources:
        if not point["booksim"]["enabled"]:
            return Resources(cores=1, mem_mb=1024, runtime_min=5)
        if point["route"] == "design":
            pkg = build_package(point)
            nodes = sum(pkg.chiplet_type(s.cid).units for s in pkg.sites)
        else:
            nodes = n_chiplets(point) * point["chiplets"]["compute"]["units"]
        # measured: 16 nodes ~8 s, 64 nodes ~50 s per sweep on a busy 2-core host (calibration PROVENANCE)
        seconds = 8.0 * (nodes / 16) ** 1.4
        return Resources(cores=1, mem_mb=2048, runtime_min=max(10, math.ceil(3 * seconds / 60) + 5))

    def check(self, rundir: Path, returncode: int) -> None:
        rundir = Path(rundir)
        stdout, stderr = _text(rundir / STDOUT_LOG), _text(rundir / STDERR_LOG)
        validation = _validation_failures(stdout)
        if returncode != 0:
            last = [ln for ln in stderr.splitlines() if ln.strip()][-1:] or ["(stderr is empty)"]
            suffix = f"; {validation}" if validation else ""
            raise SimulatorError(f"exited with code {returncode}: {last[0]}{suffix}")
        if validation:
            raise SimulatorError(validation)
        if BOOKSIM_ERROR in stdout:
            after = stdout.split(BOOKSIM_ERROR, 1)[1].strip().splitlines()[:5]
            raise SimulatorError("BookSim failed (RapidChiplet stopped the sweep and exited 0): "
                                 + (" | ".join(after) or "(no BookSim message)"))
        failed_load = [ln.strip() for ln in stdout.splitlines() if ln.startswith(BOOKSIM_FAILED_LOAD)]
        if failed_load:
            raise SimulatorError(f"BookSim produced no statistics: '{failed_load[0]}' (results would lack "
                                 "packet_latency)")
        errors = [ln.strip() for ln in stdout.splitlines() if ln.lstrip().startswith("ERROR")]
        if errors:
            raise SimulatorError(f"RapidChiplet reported an error on stdout: {errors[0]}")
        meta = self._meta(rundir)
        if BOOKSIM_METRIC in meta["metrics"] and "Performing BookSim simulation" not in stdout:
            raise SimulatorError("the BookSim sweep was requested but RapidChiplet never started it")
        results = rundir / RESULTS_DIR / f"{meta['design_name']}.json"
        if not results.is_file():
            raise SimulatorError(f"results file {results} is missing")

    # ---- outputs ------------------------------------------------------------------------------------
    def parse(self, rundir: Path) -> pd.DataFrame:
        meta = self._meta(rundir)
        path = Path(rundir) / RESULTS_DIR / f"{meta['design_name']}.json"
        return parse_results(path, meta["metrics"], meta["precision"], meta["saturation_factor"])

    def annotate(self, rows: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        """Add link power (RapidChiplet leaves it out of total_power) and the point's parameters.

        link_power_W = sum over the link-length histogram of links x power(length) (lengths rounded to 1 um
        by RapidChiplet); total_power_with_links_W = total_power_W + link_power_W; chiplet_count per
        chiplet-type row (design route).
        """
        out = rows.copy()
        spec = point["packaging"]["link_power_w"]
        links = out[out["record"] == "link_length"] if "record" in out else out.iloc[0:0]
        is_pkg = out["record"] == "package"
        if len(links):
            slope = spec["per_mm"] if spec["type"] == "linear" else 0.0
            per_link = spec["constant"] + slope * links["link_length_mm"]
            link_power = float((per_link * links["links_of_length"].astype(float)).sum())
            out.loc[is_pkg, "link_power_W"] = link_power
            if "total_power_W" in out:
                out.loc[is_pkg, "total_power_with_links_W"] = out.loc[is_pkg, "total_power_W"] + link_power
        if point["route"] == "design" and "chiplet_type" in out:
            pkg = build_package(point)
            counts = pd.Series([s.type_name for s in pkg.sites]).value_counts()
            out["chiplet_count"] = out["chiplet_type"].map(counts).astype("Int64")
        params = {
            "route": point["route"], "topology": point["topology"],
            "grid_rows": point["grid"][0] if point["hex_radius"] is None else pd.NA,
            "grid_cols": point["grid"][1] if point["hex_radius"] is None else pd.NA,
            "hex_radius": point["hex_radius"] if point["hex_radius"] is not None else pd.NA,
            "edge_west": point["edge_columns"]["west"], "edge_east": point["edge_columns"]["east"],
            "n_chiplets": n_chiplets(point),
            "routing": point["routing"] if point["route"] == "design" else point["routing_algorithm"],
            "traffic_pattern": point["traffic"]["pattern"],
            "booksim_enabled": point["booksim"]["enabled"],
        }
        for i, (key, value) in enumerate(params.items()):
            out.insert(i, key, value)
        return out

    # ---- where it lives -----------------------------------------------------------------------------
    def availability(self) -> Availability:
        if self._mode() == "docker":
            return self.docker_availability()
        checkout = self.site.get("checkout")
        if not checkout:
            return Availability(False, "native", "not configured",
                                "set rapidchiplet.checkout in config/simulators.yaml (a spcl/rapidchiplet checkout)")
        missing = missing_files(Path(checkout), booksim=False)
        if missing:
            return Availability(False, "native", "incomplete checkout", f"{checkout} lacks {missing}")
        commit = git_commit(checkout, CHECKOUT_MARKER) or UNKNOWN
        python = self.site.get("python", "python3")
        if shutil.which(python) is None:
            return Availability(False, "native", commit,
                                f"python interpreter {python!r} not found; set rapidchiplet.python")
        booksim = Path(checkout) / BOOKSIM_BINARY
        detail = (f"BookSim built ({BOOKSIM_BINARY})" if booksim.is_file()
                  else f"BookSim NOT built ({BOOKSIM_BINARY} missing: booksim.enabled runs fail; make in booksim2/src)")
        return Availability(True, "native", commit, f"{checkout}; {detail}")

    def missing_for(self, point: Mapping[str, Any]) -> str | None:
        """Natively: the checkout's BookSim for a point with the BookSim sweep, and networkx in
        rapidchiplet.python for the experiment route (its generators import it)."""
        if self._mode() != "native" or not self.site.get("checkout"):
            return None
        booksim = Path(self.site["checkout"]) / BOOKSIM_BINARY
        if point["booksim"]["enabled"] and not booksim.is_file():
            return (f"workload.rapidchiplet.booksim.enabled is true but {booksim} is not built (make in "
                    "booksim2/src, see external/simulators.yaml)")
        python = self.site.get("python", "python3")
        if point["route"] == "experiment" and not _imports_networkx(python):
            return (f"workload.rapidchiplet.route is experiment, whose generators import networkx, but "
                    f"rapidchiplet.python = {python} cannot import it; install networkx for that interpreter or "
                    "set rapidchiplet.python to one that has it")
        return None

    surrogate_columns = {"latency_avg_cycles": "latency_avg_cycles",
                         "aggregate_throughput_bits_per_cycle": "aggregate_throughput_bits_per_cycle"}

    def surrogate_query(self, point: Mapping[str, Any]) -> pd.DataFrame:
        """The package as the calibrated analytical pack's inputs: topology, grid (or hexagonal radius), edge
        columns, traffic and its RNG seed, and whether every other setting is the calibrated one."""
        hexagonal = point["hex_radius"] is not None
        rows, cols = (float("nan"), float("nan")) if hexagonal else point["grid"]
        edges = point["edge_columns"]
        return pd.DataFrame([{
            "record": "package", "topology": point["topology"], "traffic_pattern": point["traffic"]["pattern"],
            "n_chiplets": n_chiplets(point), "grid_rows": rows, "grid_cols": cols,
            "hex_radius": point["hex_radius"] if hexagonal else float("nan"),
            "edge_columns": f"{edges['west']}/{edges['east']}",
            # the RNG seed that picks hotspot chiplets, as the rendered run uses it
            "seed": point["seed"] or 0,
            SETTINGS_COLUMN: settings_level(surrogate_settings(point), CALIBRATED_SETTINGS),
        }])

    def annotate_surrogate(self, rows: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        """Chiplet area and power are sums over the placed chiplets (RapidChiplet's area and power summaries;
        the placements have no interposer routers), so they come from the point's chiplets, not from the pack
        (fitted on RapidChiplet's example chiplet of 74 mm2 and 20 W only)."""
        if point["route"] == "design":
            pkg = build_package(point)
            types = [pkg.chiplet_type(s.cid) for s in pkg.sites]
        else:
            types = [chiplet_type("compute", point["chiplets"]["compute"])] * n_chiplets(point)
        out = rows.copy()
        out["total_chiplet_area_mm2"] = sum(t.side_mm ** 2 for t in types)
        out["total_chiplet_power_W"] = out["total_power_W"] = sum(t.power_w for t in types)
        for col in ("total_chiplet_area_mm2", "total_power_W"):
            if f"{col}_rel_err_pct" in out:
                out[f"{col}_rel_err_pct"] = 0.0   # a sum of the chiplets' own figures, not a prediction
        return out

    def identity(self) -> dict[str, Any]:
        avail = self.availability()
        ident: dict[str, Any] = {"version": avail.version, "mode": avail.mode}
        if avail.mode == "docker":
            ident["image_id"] = docker_image_id(self.site["image"])
            return ident
        checkout = Path(self.site.get("checkout") or ".")
        ident["checkout"] = str(checkout.resolve())
        ident["python"] = self.site.get("python", "python3")
        booksim = checkout / BOOKSIM_BINARY
        if booksim.is_file():
            ident["booksim_sha256"] = sha256_file(booksim)
        return ident


#: what the calibrated packs' runs held fixed (the study defaults = RapidChiplet's example inputs, see
#: analysis/calibration/rapidchiplet/PROVENANCE.md); only settings that move latency, throughput, area or power
CALIBRATED_CHIPLETS = {
    "compute": {"area_mm2": 74, "phy_area_mm2": 0.85, "power_w": 20, "phy_power_w": 0.125, "units": 4,
                "internal_latency_cycles": 3, "fraction_power_bumps": 0.5, "technology": "tech_1", "relay": True},
    "memory": {"area_mm2": 110, "phy_area_mm2": 0.85, "power_w": 15, "phy_power_w": 0.125, "units": 8,
               "internal_latency_cycles": 3, "fraction_power_bumps": 0.5, "technology": "tech_2", "relay": True},
    "io": {"area_mm2": 40, "phy_area_mm2": 0.85, "power_w": 5, "phy_power_w": 0.125, "units": 2,
           "internal_latency_cycles": 3, "fraction_power_bumps": 0.5, "technology": "tech_2", "relay": True},
}
CALIBRATED_SETTINGS = {
    **{f"chiplets.{kind}.{key}": value for kind, spec in CALIBRATED_CHIPLETS.items() for key, value in spec.items()},
    "phy_latency_cycles": 12, "chiplet_spacing_mm": 0.15, "routing": "shortest path, lowest id first",
    "packaging.link_routing": "manhattan",
    "packaging.link_latency_cycles": {"type": "linear", "constant": 0, "per_mm": 0.25},
    "packaging.bump_pitch_mm": 0.05, "packaging.non_data_wires": 12, "packaging.has_interposer": True,
    "packaging.is_active": True, "packaging.latency_irouter_cycles": 5,
    "traffic.senders": ["compute"], "traffic.receivers": ["compute"], "traffic.hotspots": None,
    "traffic.hotspot_count": 4, "traffic.hotspot_fraction": 0.5,
}


def surrogate_settings(point: Mapping[str, Any]) -> dict[str, Any]:
    """The point's values of CALIBRATED_SETTINGS' keys (chiplet types it does not place count as calibrated)."""
    edges = point["edge_columns"]
    used = {"compute", edges["west"], edges["east"]} - {"none"}
    values: dict[str, Any] = {}
    for kind, spec in CALIBRATED_CHIPLETS.items():
        actual = point["chiplets"][kind] if kind in used else spec
        values.update({f"chiplets.{kind}.{key}": actual.get(key) for key in spec})
    techs = {point["chiplets"][kind]["technology"] for kind in used}
    latencies = {point["technologies"][t]["phy_latency_cycles"] for t in techs}
    values["phy_latency_cycles"] = latencies.pop() if len(latencies) == 1 else sorted(latencies)
    values["chiplet_spacing_mm"] = point["chiplet_spacing_mm"]
    shortest = (point["route"] == "design" and point["routing"] == "shortest_path") or (
        point["route"] == "experiment" and point["routing_algorithm"] == "splif")
    values["routing"] = CALIBRATED_SETTINGS["routing"] if shortest else (
        point["routing"] if point["route"] == "design" else point["routing_algorithm"])
    for key in ("link_routing", "link_latency_cycles", "bump_pitch_mm", "non_data_wires", "has_interposer", "is_active",
                "latency_irouter_cycles"):
        values[f"packaging.{key}"] = point["packaging"][key]
    for key in ("senders", "receivers", "hotspots", "hotspot_count", "hotspot_fraction"):
        values[f"traffic.{key}"] = point["traffic"][key]
    return values


@functools.lru_cache(maxsize=None)
def _imports_networkx(python: str) -> bool:
    """Whether ``python -c "import networkx"`` succeeds (probed once per interpreter and process)."""
    try:
        proc = subprocess.run([python, "-c", "import networkx"], stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0
