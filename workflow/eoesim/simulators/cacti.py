"""CACTI 7 adapter: access time, energy per access, leakage and area of every on-chip SRAM of a chiplet.

The point (``cacti_buffers.sram_point``) lists the chiplet's SRAMs - its ifmap/filter/ofmap scratchpads and
any declared cache - with the technology node and transistor types. ``render`` writes one
``cacti/<sram>.cfg`` per SRAM from templates/cacti/sram.cfg.j2 and ``eoesim_srams.json`` (the SRAM list
check and parse read); the run is ``python -m eoesim.simulators.cacti_driver`` (``cacti -infile`` once per
SRAM in a work directory holding CACTI's tech_params); ``check`` judges every SRAM by its exit code and
CACTI's own messages (cacti_output: it exits 0 after an invalid organisation); ``parse`` gives one row per
SRAM in CACTI's units, plus the chiplet-level quantities the energy and area models use: leakage of all
banks (CACTI reports one bank's), area, and energy per byte (energy per access / block bytes).
"""
from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from eoesim.errors import SimulatorError, SimulatorUnavailableError
from eoesim.paths import project_root
from eoesim.provenance import sha256_file
from eoesim.simulators.base import SITE_CONFIG, Availability, Resources, Simulator, SurrogatePack, SweptAxis, register
from eoesim.simulators.cacti_buffers import sram_point
from eoesim.simulators.cacti_output import check_sram, parse_stdout

CONFIG_DIR = "cacti"
RUN_META = "eoesim_srams.json"
#: SRAM parameters carried into every row (and the surrogate's query)
SRAM_COLUMNS = ("name", "kind", "size_bytes", "block_bytes", "associativity", "banks", "rw_ports", "read_ports",
                "write_ports")
#: point-level parameters carried into every row
POINT_COLUMNS = ("technology_nm", "cell_type", "peripheral_type", "temperature_k")
#: run-time budget per SRAM, s: the slowest single CACTI runs seen took 8-16 s (16 MiB, and 1 MiB with 512-B
#: blocks, 45 nm) on a contended 2-core host
SLOWEST_SRAM_S = 20


def derived_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """Energy per byte (per access / block bytes), in pJ, from the per-access energies in nJ."""
    out = rows.copy()
    out["read_energy_pJ_per_byte"] = out["read_energy_nJ"] * 1e3 / out["block_bytes"]
    out["write_energy_pJ_per_byte"] = out["write_energy_nJ"] * 1e3 / out["block_bytes"]
    return out


@register
class CACTI(Simulator):
    name = "cacti"
    adapter_version = "1"

    schema_file = "simulators/cacti.schema.yaml"
    row_keys = ("name",)
    required_metrics = ("read_energy_nJ", "write_energy_nJ", "leakage_mW", "area_mm2")
    bounds_checks = ("sram_not_monotone",)
    echo_checks = ("cacti_config_echo",)
    swept_axes = (
        SweptAxis(("size_bytes",), ("area_mm2", "leakage_mW", "read_energy_nJ"),
                  ("technology_nm", "cell_type", "peripheral_type", "temperature_k", "kind", "block_bytes",
                   "associativity", "banks", "rw_ports", "read_ports", "write_ports")),
    )
    surrogates = (SurrogatePack(
        "cacti", "eoesim.analysis.surrogate_cacti", "cacti/calibration.csv", breakdown="technology_nm",
        notes=("Exact at the calibrated sizes (every power of two from 4 KiB to 16 MiB; 48 KiB, 192 KiB, 768 KiB and "
               "3 MiB at 64-B blocks and one bank); between them a power law through the two neighbouring runs. "
               "Misses the 3 % target for energy and area: CACTI picks a discrete subarray organisation per size, so "
               "a size held out and interpolated from its neighbours errs ~5 % (read energy) and ~8 % (area) on "
               "average, up to ~60 %; leakage (cells) ~2.5 %.",
               "Leaving a node out (interpolating 32/45/65 nm from their neighbours) errs ~10 % (energy), ~12 % "
               "(area) and ~28 % (leakage: ITRS device tables are not smooth in the node): only CACTI's five nodes "
               "are in the domain.")),)
    refit_from_study = False
    how_to_provide = (f"set cacti.binary (cacti built in a HewlettPackard/cacti checkout, commit 1ffd8df) in "
                      f"{SITE_CONFIG}")

    # ---- design point -> inputs ------------------------------------------------------------------
    def point_params(self, study: Mapping[str, Any]) -> dict:
        return sram_point(study["hardware"]["chiplet"], study["workload"]["cacti"])

    def render(self, point: Mapping[str, Any], rundir: Path) -> list[Path]:
        rundir = Path(rundir)
        (rundir / CONFIG_DIR).mkdir(parents=True, exist_ok=True)
        ctx = {k: point[k] for k in POINT_COLUMNS}
        paths = [self.render_template("sram.cfg.j2", rundir / CONFIG_DIR / f"{s['name']}.cfg", sram=s, **ctx)
                 for s in point["srams"]]
        meta = rundir / RUN_META
        meta.write_text(json.dumps({"srams": point["srams"]}, indent=1) + "\n")
        return [*paths, meta]

    # ---- running ------------------------------------------------------------------------------------
    def _binary(self) -> Path | None:
        binary = self.site.get("binary")
        if not binary:
            return None
        path = Path(binary).expanduser()
        if not path.is_absolute():
            path = project_root() / path
        return path.resolve() if path.is_file() and os.access(path, os.X_OK) else None

    def _tech_params(self, binary: Path) -> Path:
        configured = self.site.get("tech_params")
        return Path(configured).expanduser().resolve() if configured else binary.parent / "tech_params"

    def argv(self, rundir: Path) -> list[str]:
        binary = self._binary()
        if binary is None:
            raise SimulatorUnavailableError(self._unavailable_detail())
        configs = [f"{CONFIG_DIR}/{s['name']}.cfg" for s in self._srams(rundir)]
        return [sys.executable, "-m", "eoesim.simulators.cacti_driver", "--binary", str(binary),
                "--tech-params", str(self._tech_params(binary)), *configs]

    def resources(self, point: Mapping[str, Any]) -> Resources:
        minutes = 5 + math.ceil(len(point["srams"]) * SLOWEST_SRAM_S / 60)
        return Resources(cores=1, mem_mb=512, runtime_min=minutes)

    @staticmethod
    def _srams(rundir: Path) -> list[dict[str, Any]]:
        path = Path(rundir) / RUN_META
        if not path.is_file():
            raise SimulatorError(f"{path} is missing: the run directory was not rendered by this adapter")
        return json.loads(path.read_text())["srams"]

    def check(self, rundir: Path, returncode: int) -> None:
        rundir = Path(rundir)
        srams = self._srams(rundir)
        ran = [s for s in srams if (rundir / CONFIG_DIR / f"{s['name']}.exit_code").is_file()]
        if returncode != 0 and not ran:
            raise SimulatorError(f"the CACTI driver exited with code {returncode} before running CACTI "
                                 "(see stderr.log)")
        for sram in srams:
            base = rundir / CONFIG_DIR / sram["name"]
            code_file = base.with_suffix(".exit_code")
            if not code_file.is_file():
                raise SimulatorError(f"CACTI never ran for SRAM {sram['name']!r} ({code_file.name} is missing)")
            check_sram(base.with_suffix(".stdout"), base.with_suffix(".stderr"),
                       int(code_file.read_text().strip()), sram["name"])
            if not base.with_suffix(".csv").is_file():
                raise SimulatorError(f"CACTI run of SRAM {sram['name']!r} wrote no result row "
                                     f"({sram['name']}.cfg.out)")

    # ---- outputs ------------------------------------------------------------------------------------
    def parse(self, rundir: Path) -> pd.DataFrame:
        rows = []
        for sram in self._srams(rundir):
            result = parse_stdout(Path(rundir) / CONFIG_DIR / f"{sram['name']}.stdout")
            row = {k: sram[k] for k in SRAM_COLUMNS}
            row.update(vars(result))
            row["leakage_mW"] = (result.leakage_per_bank_mW + result.gate_leakage_per_bank_mW) * sram["banks"]
            row["area_mm2"] = result.height_mm * result.width_mm
            rows.append(row)
        return derived_columns(pd.DataFrame(rows))

    def annotate(self, rows: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        out = rows.copy()
        for i, key in enumerate(POINT_COLUMNS):
            out.insert(i, key, point[key])
        return out

    # ---- surrogate ----------------------------------------------------------------------------------
    def surrogate_query(self, point: Mapping[str, Any]) -> pd.DataFrame:
        """One row per SRAM with the pack's inputs (the same SRAM and point columns as a simulated table)."""
        rows = pd.DataFrame([{k: s[k] for k in SRAM_COLUMNS} for s in point["srams"]])
        for i, key in enumerate(POINT_COLUMNS):
            rows.insert(i, key, point[key])
        return rows

    def annotate_surrogate(self, rows: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        return derived_columns(rows)

    # ---- availability -------------------------------------------------------------------------------
    def _unavailable_detail(self) -> str:
        binary = self.site.get("binary")
        if not binary:
            return ("set cacti.binary in config/simulators.yaml (or $EOESIM_SIMULATORS) to a cacti executable "
                    "built from github.com/HewlettPackard/cacti (make), with its tech_params/ beside it")
        return f"cacti.binary {binary!r} is not an executable file here; fix cacti.binary in the site config"

    def availability(self) -> Availability:
        binary = self._binary()
        if binary is None:
            return Availability(False, "native", "not installed", self._unavailable_detail())
        tech = self._tech_params(binary)
        if not (tech / "45nm.dat").is_file():
            return Availability(False, "native", "incomplete build",
                                f"{tech} lacks CACTI's technology files (45nm.dat ...); set cacti.tech_params")
        version = self.site.get("commit") or f"sha256:{sha256_file(binary)[:12]}"
        return Availability(True, "native", version, str(binary))

    def identity(self) -> dict[str, Any]:
        avail = self.availability()
        ident: dict[str, Any] = {"version": avail.version, "mode": avail.mode}
        if avail.available:
            ident["binary"] = avail.detail
            ident["binary_sha256"] = sha256_file(Path(avail.detail))
        return ident

