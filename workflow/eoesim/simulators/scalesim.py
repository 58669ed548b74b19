"""SCALE-Sim adapter: the GEMMs of one transformer layer per expert on one systolic-array chiplet.

Runs SCALE-Sim v3 (PyPI ``scalesim`` 3.0.0) in a subprocess of this interpreter (or in a docker image
that has this project and scalesim installed) through ``scalesim_driver``. Success needs exit code 0,
no ``ERROR:`` line on stdout, the ``Run Complete`` banner, and all three report CSVs.
"""
from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from eoesim.eoe.expert import Gemm, resolve_expert
from eoesim.errors import SimulatorError, SimulatorUnavailableError
from eoesim.runners import STDOUT_LOG, DockerRunner, Runner, docker_image_id, docker_image_label
from eoesim.serving.shapes import engine_gemms
from eoesim.simulators.base import SITE_CONFIG, Availability, Resources, Simulator, SurrogatePack, SweptAxis, register
from eoesim.simulators.scalesim_reports import REPORTS, read_reports
from eoesim.training.gemms import training_gemms

RUN_NAME = "run"
OUTDIR = "outputs"
CONFIG_FILE = "scale.cfg"
TOPOLOGY_FILE = "topology.csv"
LAYOUT_FILE = "layout.csv"
COMPLETE_BANNER = "SCALE SIM Run Complete"
#: image label with the scalesim version a SCALE-Sim image provides (set by containers/Dockerfile)
VERSION_LABEL = "io.eoesim.scalesim.version"


@register
class ScaleSim(Simulator):
    name = "scalesim"
    adapter_version = "1"

    schema_file = "simulators/scalesim.schema.yaml"
    row_keys = ("layer_id",)
    required_metrics = ("total_cycles", "stall_cycles", "overall_util_pct", "mapping_efficiency_pct",
                        "compute_util_pct", "compute_latency_ns")
    bounds_checks = ("scalesim_dram_bandwidth_above_interface",)
    echo_checks = ("scalesim_config_echo",)
    swept_axes = (
        SweptAxis(("array_rows", "array_cols"), ("total_cycles",),
                  ("dataflow", "interface_bandwidth", "freq_ghz", "phase", "seq_len", "batch", "filter_sram_kib",
                   "ifmap_sram_kib", "ofmap_sram_kib", "expert", "gemm", "m", "n", "k", "instances")),
    )
    surrogates = (SurrogatePack(
        "scalesim", "eoesim.analysis.surrogate_scalesim", "scalesim/calibration.csv", breakdown="dataflow",
        notes=("Exact on every calibration row (the form is SCALE-Sim's own compute model); valid for "
               "interface_bandwidth calc only (no DRAM stalls).",)),)
    refit_from_study = True
    how_to_provide = ("install the pinned scalesim package (pip install scalesim, pinned in pyproject.toml) or set "
                      f"scalesim.mode: docker and scalesim.image in {SITE_CONFIG}")

    def point_params(self, study: Mapping[str, Any]) -> dict:
        chiplet = study["hardware"]["chiplet"]
        wl = study["workload"]["scalesim"]
        # experts of the same shape share their GEMMs: each distinct GEMM is simulated once, and the row
        # names every expert it stands for ("code+math")
        by_shape: dict[tuple, dict] = {}

        def add(key: tuple, name: str, g, origin: str) -> None:
            if key in by_shape:
                if name not in by_shape[key]["expert"]:
                    by_shape[key]["expert"].append(name)
            else:
                by_shape[key] = {"expert": [name], "gemm": g.name, "origin": origin, "m": g.m, "n": g.n, "k": g.k,
                                 "instances": g.instances}

        for i, spec in enumerate(study["eoe"]["experts"]):
            expert = resolve_expert(spec, f"eoe.experts[{i}]")
            for g in expert.layer_gemms(wl["phase"], wl["seq_len"], wl["batch"]):
                add((g.name, g.m, g.n, g.k, g.instances), expert.name, g, "layer")
        for name, g in engine_gemms(study):  # the serving engine's decode buckets (eoesim.serving.shapes)
            add((g.name, g.m, g.n, g.k, g.instances), name, g, "serving")
        # the training step's forward / input-gradient / weight-gradient shapes SCALE-Sim has not got yet
        shapes = {(v["m"], v["n"], v["k"]) for v in by_shape.values()}
        for g in training_gemms(study):
            if (g.m, g.n, g.k) not in shapes:
                shapes.add((g.m, g.n, g.k))
                add(("train", g.name, g.m, g.n, g.k), "train", Gemm(g.name, g.m, g.n, g.k), "training")
        names: dict[str, int] = {}
        gemms = []
        for g in by_shape.values():
            g = dict(g, expert="+".join(g["expert"]))  # joined once: linear in the experts
            base = f"{g['expert']}.{g['gemm']}"
            names[base] = names.get(base, 0) + 1
            gemms.append(dict(g, name=base if names[base] == 1 else f"{base}@{g['m']}x{g['n']}x{g['k']}"))
        return {
            "array_rows": chiplet["array"][0],
            "array_cols": chiplet["array"][1],
            "dataflow": chiplet["dataflow"],
            "sram_kib": dict(chiplet["sram_kib"]),
            "interface_bandwidth": chiplet["interface_bandwidth"],
            "dram_bandwidth_words_per_cycle": chiplet["dram_bandwidth_words_per_cycle"],
            "freq_ghz": chiplet["freq_ghz"],
            "phase": wl["phase"],
            "seq_len": wl["seq_len"],
            "batch": wl["batch"],
            "gemms": gemms,
        }

    def render(self, point: Mapping[str, Any], rundir: Path) -> list[Path]:
        ctx = dict(point, run_name=RUN_NAME)
        return [
            self.render_template("scale.cfg.j2", rundir / CONFIG_FILE, **ctx),
            self.render_template("topology.csv.j2", rundir / TOPOLOGY_FILE, **ctx),
            self.render_template("layout.csv.j2", rundir / LAYOUT_FILE, **ctx),
        ]

    def _mode(self) -> str:
        return self.site.get("mode", "python")

    def argv(self, rundir: Path) -> list[str]:
        python = sys.executable if self._mode() == "python" else "python3"
        return [python, "-m", "eoesim.simulators.scalesim_driver", "-c", CONFIG_FILE, "-t", TOPOLOGY_FILE,
                "-l", LAYOUT_FILE, "-p", OUTDIR]

    def runner(self) -> Runner:
        if self._mode() == "docker":
            return DockerRunner(mode="docker", image=self._image())
        return Runner(mode="python", env={"PYTHONUNBUFFERED": "1"})

    def _image(self) -> str:
        image = self.site.get("image")
        if not image:
            raise SimulatorUnavailableError(
                "scalesim: mode is docker but no image is set; set scalesim.image in config/simulators.yaml"
            )
        return image

    def resources(self, point: Mapping[str, Any]) -> Resources:
        macs = sum(g["m"] * g["n"] * g["k"] for g in point["gemms"])
        cycles = macs / (point["array_rows"] * point["array_cols"])
        # SCALE-Sim simulates roughly 5k cycles per host second; memory grows with the demand matrices.
        return Resources(cores=1, mem_mb=2048, runtime_min=max(5, int(cycles / 5000 / 60 * 3) + 5))

    def check(self, rundir: Path, returncode: int) -> None:
        stdout = (rundir / STDOUT_LOG).read_text(errors="replace") if (rundir / STDOUT_LOG).exists() else ""
        error_lines = [ln for ln in stdout.splitlines() if ln.startswith("ERROR")]
        if returncode != 0:
            raise SimulatorError(f"exited with code {returncode}")
        if error_lines:
            raise SimulatorError(f"reported an error on stdout: {error_lines[0]}")
        if COMPLETE_BANNER not in stdout:
            raise SimulatorError(f"stdout lacks the '{COMPLETE_BANNER}' banner (run did not finish)")
        missing = [r for r in REPORTS if not (rundir / OUTDIR / RUN_NAME / r).is_file()]
        if missing:
            raise SimulatorError(f"missing report file(s) {missing} in {rundir / OUTDIR / RUN_NAME}")

    def parse(self, rundir: Path) -> pd.DataFrame:
        return read_reports(rundir / OUTDIR / RUN_NAME)

    def annotate(self, rows: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        gemms = pd.DataFrame(point["gemms"]).rename(columns={"name": "layer"})
        gemms.insert(0, "layer_id", range(len(gemms)))
        out = gemms.merge(rows, on="layer_id", how="right", validate="one_to_one")
        out["compute_latency_ns"] = out["total_cycles"] / point["freq_ghz"]
        params = {k: point[k] for k in ("array_rows", "array_cols", "dataflow", "interface_bandwidth",
                                         "freq_ghz", "phase", "seq_len", "batch")}
        params.update({f"{k}_sram_kib": v for k, v in point["sram_kib"].items()})
        for i, (key, value) in enumerate(params.items()):
            out.insert(i, key, value)
        return out

    def surrogate_query(self, point: Mapping[str, Any]) -> pd.DataFrame:
        """One row per GEMM, with the same layer columns and parameters as a simulated run's table."""
        rows = pd.DataFrame(point["gemms"]).rename(columns={"name": "layer"})
        rows.insert(0, "layer_id", range(len(rows)))
        for key in ("array_rows", "array_cols", "dataflow", "interface_bandwidth"):
            rows[key] = point[key]
        return rows

    def annotate_surrogate(self, rows: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        out = rows.copy()
        out["compute_latency_ns"] = out["total_cycles"] / point["freq_ghz"]
        return out

    def availability(self) -> Availability:
        if self._mode() == "docker":
            avail = self.docker_availability()
            if not avail.available:
                return avail
            # the harness image states the scalesim version it installed (containers/Dockerfile), so that
            # docker-mode rows carry the same source as python-mode rows; run.json keeps the image id
            version = docker_image_label(self._image(), VERSION_LABEL)
            return Availability(True, "docker", version or avail.version, avail.detail)
        try:
            version = importlib.metadata.version("scalesim")
        except importlib.metadata.PackageNotFoundError:
            return Availability(False, "python", "not installed", "pip install scalesim (pinned in pyproject.toml)")
        return Availability(True, "python", version, f"numpy {importlib.metadata.version('numpy')}")

    def identity(self) -> dict[str, Any]:
        avail = self.availability()
        ident: dict[str, Any] = {"version": avail.version, "mode": avail.mode}
        if avail.mode == "docker":
            ident["image_id"] = docker_image_id(self._image())
        else:
            ident["package"] = f"scalesim=={avail.version}"
            ident["numpy"] = importlib.metadata.version("numpy")
        return ident
