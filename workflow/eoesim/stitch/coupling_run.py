"""One coupling job: a real SCALE-Sim run of a chiplet configuration with its DRAM traces kept, each
layer's trace turned into a Ramulator trace, and the layer's compute-only vs memory-coupled cycles.

Directory ``outdir`` (``results/<study>/coupling/<scalesim run id>/``):

- ``scalesim/``: the SCALE-Sim run (same inputs as the study's run of this id, plus ``--traces``); its
  ``*_SRAM_TRACE.csv`` files are deleted after the run and its ``*_DRAM_TRACE.csv`` files (25-40 MB per
  configuration of the default study) after the conversion, unless ``keep_dram_traces`` - the Ramulator
  traces and their cycles hold the converted requests;
- ``ramulator/layer<i>.trace``: Ramulator LoadStoreTrace of layer i's requests, in cycle order, and
  ``ramulator/layer<i>_cycles.csv`` (one row per trace line: the SCALE-Sim cycle it was issued at -
  LoadStoreTrace lines carry no time) and, with real Ramulator, its run directories ``ramulator/run_layer<i>/``;
- ``memory_coupling.csv``: the coupling table (eoesim.stitch.coupling.COLUMNS).
"""
from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from eoesim.errors import SimulatorError, SimulatorUnavailableError
from eoesim.simulators import ramulator_presets as presets
from eoesim.simulators.base import get_simulator
from eoesim.simulators.ramulator import TRACE_FILE
from eoesim.simulators.ramulator_traces import write_loadstore
from eoesim.simulators.scalesim import CONFIG_FILE, OUTDIR, RUN_NAME
from eoesim.simulators.scalesim_traces import dram_requests, layer_dirs, read_offsets
from eoesim.stitch.coupling import MemoryTier, config_label, couple_layers, layer_demand

log = logging.getLogger(__name__)
TRACES_FLAG = "--traces"
DRAM_WORDS = ("dram_ifmap_reads_words", "dram_filter_reads_words", "dram_ofmap_writes_words")
#: the memory columns of a layer without DRAM traffic (nothing to simulate; it never stalls)
NO_TRAFFIC = {"offered_load_frac_of_peak": 0.0, "surrogate_read_fraction": float("nan"),
              "achieved_bandwidth_bytes_per_s": float("nan"), "memory_latency_ns": float("nan"), "in_domain": True,
              "fidelity": "none", "source": "no DRAM traffic"}


def run_scalesim_with_traces(point: Mapping[str, Any], rundir: Path, site: Mapping[str, Any] | None = None,
                             timeout_s: float = 3600.0) -> pd.DataFrame:
    """Render and run SCALE-Sim for ``point`` (the adapter's point parameters) with DRAM traces kept; the
    annotated per-layer rows (as in the study's scalesim table)."""
    sim = get_simulator("scalesim", site or {})
    avail = sim.availability()
    if not avail.available:
        raise SimulatorUnavailableError(f"scalesim: {avail.detail} (memory coupling needs real SCALE-Sim traces)")
    rundir = Path(rundir)
    rundir.mkdir(parents=True, exist_ok=True)
    inputs = sim.render(point, rundir)
    result = sim.runner().run(sim.argv(rundir) + [TRACES_FLAG], rundir, timeout_s, inputs)
    try:
        sim.check(rundir, result.returncode)
    except SimulatorError as exc:
        raise SimulatorError(f"scalesim coupling run in {rundir}: {exc}") from None
    for sram in (rundir / OUTDIR / RUN_NAME).glob("layer*/*_SRAM_TRACE.csv"):
        sram.unlink()
    return sim.annotate(sim.parse(rundir), point)


def simulated_memory(trace: Path, ram_point: Mapping[str, Any], offered_bandwidth_bytes_per_s: float,
                     rundir: Path, site: Mapping[str, Any] | None = None, timeout_s: float = 1800.0) -> dict[str, Any]:
    """Real Ramulator 2 on one layer's LoadStoreTrace: the study's memory system (``ram_point``, the
    adapter's resolved point) with the LoadStoreTrace frontend, whose clock-ratio pair is set to the
    layer's offered load (LoadStoreTrace issues one line per frontend tick, so the pair fixes the request
    spacing to the layer's average). Returns the memory columns of the coupling table."""
    sim = get_simulator("ramulator", site or {})
    geo = presets.geometry(ram_point["variant"], ram_point["standard"], ram_point["org_preset"],
                           ram_point["timing_preset"], ram_point["channels"], ram_point["ranks"])
    load = offered_bandwidth_bytes_per_s / ram_point["peak_bandwidth_bytes_per_s"]
    f_ratio, m_ratio = presets.clock_ratio_pair(load * geo.peak_req_per_tick, "coupling offered load")
    offered = f_ratio / m_ratio
    lines = len(Path(trace).read_text().splitlines())
    point = dict(ram_point, frontend="LoadStoreTrace", frontend_clock_ratio=f_ratio, memory_clock_ratio=m_ratio,
                 num_requests=lines, bubbles=0, num_expected_insts=None, llc_capacity_kib=None,
                 llc_num_mshr_per_core=None, offered_req_per_mem_cycle=offered,
                 offered_bandwidth_bytes_per_s=offered * geo.request_bytes / (geo.tick_ps * 1e-12))
    rundir = Path(rundir)
    rundir.mkdir(parents=True, exist_ok=True)
    inputs = sim.render(point, rundir)
    shutil.copyfile(trace, rundir / TRACE_FILE)  # the layer's requests replace the generated stream
    result = sim.runner().run(sim.argv(rundir), rundir, timeout_s, inputs)
    sim.check(rundir, result.returncode)
    rows = sim.parse(rundir)
    avail = sim.availability()
    return {"offered_load_frac_of_peak": load, "surrogate_read_fraction": float("nan"),
            "achieved_bandwidth_bytes_per_s": float(rows["system_achieved_bandwidth_bytes_per_s"].iloc[0]),
            "memory_latency_ns": float(rows["system_avg_read_latency_ns"].iloc[0]), "in_domain": True,
            "fidelity": "simulate", "source": f"ramulator {avail.version}"}


def couple_config(point: Mapping[str, Any], ram_point: Mapping[str, Any], bytes_per_word: float, outdir: Path,
                  site: Mapping[str, Any] | None = None, ram_site: Mapping[str, Any] | None = None,
                  simulate_memory: bool = False, keep_dram_traces: bool = False) -> pd.DataFrame:
    """Run, convert and couple one chiplet configuration; writes and returns memory_coupling.csv's rows.

    ``simulate_memory``: evaluate each layer's trace with real Ramulator 2 (``ram_site``: its site
    settings) instead of the calibrated surrogate."""
    outdir = Path(outdir)
    # the decoder layer's GEMMs (not the serving engine's decode buckets or the training shapes of the run)
    point = {**point, "gemms": [g for g in point["gemms"] if g.get("origin", "layer") == "layer"]}
    rows = run_scalesim_with_traces(point, outdir / "scalesim", site)
    dirs = layer_dirs(outdir / "scalesim" / OUTDIR / RUN_NAME)
    offsets = read_offsets(outdir / "scalesim" / CONFIG_FILE)
    tracedir = outdir / "ramulator"
    tracedir.mkdir(parents=True, exist_ok=True)
    freq = float(point["freq_ghz"])
    label = config_label(point["array_rows"], point["array_cols"], point["dataflow"])
    layers = []
    for row in rows.itertuples(index=False):
        req = dram_requests(dirs[int(row.layer_id)], bytes_per_word, offsets)
        if len(req):
            write_loadstore(tracedir / f"layer{row.layer_id}.trace", req["address_bytes"], req["write"])
            req[["cycle"]].to_csv(tracedir / f"layer{row.layer_id}_cycles.csv", index=False)
        layers.append({"config": label, "array_rows": point["array_rows"], "array_cols": point["array_cols"],
                       "dataflow": point["dataflow"], "layer_id": int(row.layer_id), "gemm": row.layer,
                       "m": row.m, "n": row.n, "k": row.k, "instances": row.instances,
                       "compute_only_cycles": int(row.total_cycles),
                       "dram_word_bytes": bytes_per_word * sum(int(getattr(row, c)) for c in DRAM_WORDS),
                       **layer_demand(req, float(row.total_cycles), freq)})
        log.info("%s layer %d (%s): %d DRAM requests", label, row.layer_id, row.layer, len(req))
    if not keep_dram_traces:
        for d in dirs.values():
            for f in d.glob("*_DRAM_TRACE.csv"):
                f.unlink()
    layers = pd.DataFrame(layers)
    memory = None
    if simulate_memory:
        memory = pd.DataFrame([simulated_memory(tracedir / f"layer{lay.layer_id}.trace", ram_point,
                                                lay.offered_bandwidth_bytes_per_s,
                                                tracedir / f"run_layer{lay.layer_id}", ram_site)
                               if lay.dram_requests else NO_TRAFFIC for lay in layers.itertuples(index=False)])
    table = couple_layers(layers, MemoryTier.from_ramulator_point(ram_point), freq, memory)
    table.to_csv(outdir / "memory_coupling.csv", index=False)
    return table
