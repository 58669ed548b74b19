"""Echoed-configuration checks: what the simulator says it ran vs what we rendered for it.

Simulators silently ignore misspelt keys, fall back to defaults, or overwrite their input files (each simulator's
contract in external/simulators.yaml lists its traps). Each check reads a run directory
(``results/<study>/runs/<sim>/<run_id>/``): the rendered inputs and the simulator's own echo of its
configuration (gem5 ``m5out/config.json``, SCALE-Sim's stdout banner, BookSim's ``BEGIN Configuration
File`` block, MQSim's fallback messages, CACTI's "Print input parameters" block). Runs without a directory
(surrogate rows) are not checked.
"""
from __future__ import annotations

import configparser
import json
import re
from pathlib import Path

from eoesim.provenance import sha256_file
from eoesim.simulators.cacti import CONFIG_DIR as CACTI_DIR
from eoesim.simulators.cacti import RUN_META as CACTI_META
from eoesim.simulators.cacti_output import echoed_inputs
from eoesim.simulators.mqsim import FALLBACK_MESSAGES
from eoesim.trust.checks import Finding, TableContext, check, every_simulator, simulated_only

STDOUT = "stdout.log"
GEM5_ARGS = "garnet_synth_traffic.args"
GEM5_CONFIG = "m5out/config.json"
SCALESIM_CONFIG = "scale.cfg"
SCALESIM_DATAFLOWS = {"os": "Output Stationary", "ws": "Weight Stationary", "is": "Input Stationary"}
BOOKSIM_CONFIG = "inputs/booksim_config.json"
#: keys of RapidChiplet's BookSim config that RapidChiplet consumes itself (never passed to BookSim)
BOOKSIM_RAPIDCHIPLET_ONLY = ("precision", "saturation_factor")
_BOOKSIM_BLOCK = re.compile(r"^BEGIN Configuration File: .*?$(.*?)^END Configuration File", re.M | re.S)
_BOOKSIM_LINE = re.compile(r"^\s*(\w+)\s*=\s*(.*?);\s*$", re.M)
_BOOKSIM_OVERRIDE = re.compile(r"^OVERRIDE Parameter: (\w+)=(.*)$", re.M)


def _same(a, b) -> bool:
    try:
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
    except (TypeError, ValueError):
        return str(a).strip().lower() == str(b).strip().lower()


# ---------------------------------------------------------------------------------------------- any run
def altered_inputs(rundir: Path) -> list[str]:
    """Rendered inputs whose sha256 differs from the one run.json recorded before the run."""
    record = json.loads((rundir / "run.json").read_text()) if (rundir / "run.json").is_file() else {}
    changed = []
    for name, digest in sorted(record.get("inputs_sha256", {}).items()):
        path = rundir / name
        if not path.is_file():
            changed.append(f"{name} is missing")
        elif sha256_file(path) != digest:
            changed.append(f"{name} changed after rendering")
    return changed


@check("rendered_input_overwritten", "error", applies=every_simulator,
       hint="the simulator (e.g. MQSim with a bad root element) overwrote or removed an input we rendered, "
            "so the run did not use our configuration; re-run it and read its stdout")
@simulated_only
def rendered_input_overwritten(ctx: TableContext) -> list[Finding]:
    """The inputs a run used must still be the ones we rendered (sha256 in run.json): MQSim writes its
    default config/workload over a bad input path and runs with rc 0."""
    return ctx.findings_per_run(altered_inputs)


# ---------------------------------------------------------------------------------------------- MQSim
def mqsim_fallbacks(stdout: str) -> list[str]:
    return [m for m in FALLBACK_MESSAGES if m in stdout]


@check("mqsim_defaults_fallback", "error",
       hint="MQSim ignored the rendered ssdconfig.xml/workload.xml (wrong root element or missing file) and "
            "simulated its built-in defaults; fix the template or the path")
@simulated_only
def mqsim_defaults_fallback(ctx: TableContext) -> list[Finding]:
    """MQSim's silent defaults fallback: it prints a message, runs its own default SSD or workload and
    exits 0, so its numbers describe a device we never configured."""
    def compare(rundir: Path) -> list[str]:
        stdout = (rundir / STDOUT).read_text(errors="replace") if (rundir / STDOUT).is_file() else ""
        return [f"stdout says {m!r}" for m in mqsim_fallbacks(stdout)]
    return ctx.findings_per_run(compare)


# ---------------------------------------------------------------------------------------------- gem5
def read_args(path: Path) -> dict[str, str]:
    """``--key=value`` lines (one argument per line, as rendered) -> {key: value}."""
    args = {}
    for line in Path(path).read_text().split():
        if line.startswith("--") and "=" in line:
            key, value = line[2:].split("=", 1)
            args[key] = value
    return args


def clock_ticks(text: str) -> float:
    """A gem5 clock argument (``500ps``, ``2GHz``, ``1.5GHz``) as a period in ticks (ps)."""
    m = re.fullmatch(r"([\d.]+)\s*(ps|ns|GHz|MHz)", text.strip())
    if not m:
        raise ValueError(f"unknown clock {text!r}")
    value, unit = float(m.group(1)), m.group(2)
    return {"ps": value, "ns": value * 1000, "GHz": 1000 / value, "MHz": 1e6 / value}[unit]


def gem5_echo_mismatches(args: dict[str, str], config: dict) -> list[str]:
    """Rendered garnet_synth_traffic.py arguments that gem5's config.json does not echo back."""
    system = config["system"]
    net = system["ruby"]["network"]
    testers = system["cpu"]
    tester = testers[0]
    routers, links = net["routers"], net["int_links"]
    chiplet = not str(net["topology"]).startswith(("Mesh", "Crossbar", "Pt2Pt"))
    echoed = {
        "num-cpus": len(testers), "num-dirs": tester["num_dest"], "synthetic": tester["traffic_type"],
        "injectionrate": tester["inj_rate"], "inj-vnet": tester["inj_vnet"], "sim-cycles": tester["sim_cycles"],
        "vcs-per-vnet": net["vcs_per_vnet"], "routing-algorithm": net["routing_algorithm"],
        "topology": net["topology"], "mesh-rows": net.get("num_rows"),
    }
    out = [f"{key}={args[key]} rendered, gem5 ran {value}" for key, value in echoed.items()
           if key in args and value is not None and not _same(value, args[key])]
    per_router = {r["latency"] for r in routers}
    if "router-latency" in args and any(not _same(v, args["router-latency"]) for v in per_router):
        out.append(f"router-latency={args['router-latency']} rendered, gem5 routers have {sorted(per_router)}")
    for key, field, scale in (("link-latency", "latency", 1), ("link-width-bits", "width", 8)):
        if key not in args:
            continue
        seen = {link[field] * scale for link in links}
        # a chiplet package mixes on-chiplet and interposer links: ours must be among them
        bad = (not any(_same(v, args[key]) for v in seen)) if chiplet else any(not _same(v, args[key]) for v in seen)
        if bad:
            out.append(f"{key}={args[key]} rendered, gem5 internal links have {sorted(seen)}")
    for key, node in (("ruby-clock", system["ruby"]["clk_domain"]), ("sys-clock", system["clk_domain"])):
        if key in args:
            clock = node["clock"][0] if isinstance(node["clock"], list) else node["clock"]
            if not _same(clock, clock_ticks(args[key])):
                out.append(f"{key}={args[key]} rendered, gem5 clock period {clock} ticks")
    return out


@check("gem5_config_echo", "error",
       hint="gem5 ran a different network than we rendered (a topology default or ignored argument): compare "
            "garnet_synth_traffic.args with m5out/config.json")
@simulated_only
def gem5_config_echo(ctx: TableContext) -> list[Finding]:
    """gem5's config.json records the objects it really built (testers, routers, links, clocks); every
    argument we rendered must appear there with our value."""
    def compare(rundir: Path) -> list[str]:
        if not (rundir / GEM5_ARGS).is_file() or not (rundir / GEM5_CONFIG).is_file():
            return [f"{GEM5_ARGS} or {GEM5_CONFIG} missing: cannot compare"]
        return gem5_echo_mismatches(read_args(rundir / GEM5_ARGS), json.loads((rundir / GEM5_CONFIG).read_text()))
    return ctx.findings_per_run(compare)


# ---------------------------------------------------------------------------------------------- SCALE-Sim
def scalesim_banner(stdout: str) -> dict[str, str]:
    """SCALE-Sim's run banner (``Array Size: \\t32x32``, ``Dataflow: \\tWeight Stationary``, ...)."""
    fields = {}
    for label in ("Array Size", "SRAM IFMAP (kB)", "SRAM Filter (kB)", "SRAM OFMAP (kB)", "Dataflow", "Bandwidth"):
        m = re.search(rf"^{re.escape(label)}:\s*(.+?)\s*$", stdout, re.M)
        if m:
            fields[label] = m.group(1)
    if "USE USER BANDWIDTH mode" in stdout:
        fields["mode"] = "USER"
    elif "ESTIMATE BANDWIDTH mode" in stdout:
        fields["mode"] = "CALC"
    return fields


def scalesim_echo_mismatches(cfg_text: str, stdout: str) -> list[str]:
    """Rendered scale.cfg values that SCALE-Sim's banner does not echo (an invalid dataflow is printed as
    Output Stationary: SCALE-Sim only warns and runs os)."""
    cfg = configparser.ConfigParser()
    cfg.read_string(cfg_text)
    arch, run = cfg["architecture_presets"], cfg["run_presets"]
    banner = scalesim_banner(stdout)
    if "Array Size" not in banner:
        return ["stdout has no 'Array Size:' banner to compare with"]
    mode = run.get("InterfaceBandwidth", "").strip().upper()
    expected = {
        "Array Size": f"{arch['ArrayHeight'].strip()}x{arch['ArrayWidth'].strip()}",
        "SRAM IFMAP (kB)": arch["IfmapSramSzkB"].strip(),
        "SRAM Filter (kB)": arch["FilterSramSzkB"].strip(),
        "SRAM OFMAP (kB)": arch["OfmapSramSzkB"].strip(),
        "Dataflow": SCALESIM_DATAFLOWS.get(arch["Dataflow"].strip().lower(), f"(invalid {arch['Dataflow'].strip()})"),
        "mode": mode,
    }
    if mode == "USER":
        expected["Bandwidth"] = arch["Bandwidth"].strip()
    return [f"{key}: rendered {value}, SCALE-Sim ran {banner.get(key, '(not printed)')}"
            for key, value in expected.items() if not _same(banner.get(key, ""), value)]


@check("scalesim_config_echo", "error",
       hint="SCALE-Sim ran a different array/dataflow/SRAM than rendered (e.g. an invalid dataflow falls back "
            "to output stationary with only a warning): compare scale.cfg with the stdout banner")
@simulated_only
def scalesim_config_echo(ctx: TableContext) -> list[Finding]:
    """SCALE-Sim prints the array size, SRAM sizes, dataflow and bandwidth mode it really uses; they must
    equal the rendered scale.cfg."""
    def compare(rundir: Path) -> list[str]:
        if not (rundir / SCALESIM_CONFIG).is_file() or not (rundir / STDOUT).is_file():
            return [f"{SCALESIM_CONFIG} or {STDOUT} missing: cannot compare"]
        return scalesim_echo_mismatches((rundir / SCALESIM_CONFIG).read_text(),
                                        (rundir / STDOUT).read_text(errors="replace"))
    return ctx.findings_per_run(compare)


# ---------------------------------------------------------------------------------------------- BookSim
def booksim_echo(stdout: str) -> dict[str, str] | None:
    """The configuration BookSim echoes (last ``BEGIN/END Configuration File`` block + OVERRIDE lines)."""
    blocks = _BOOKSIM_BLOCK.findall(stdout)
    if not blocks:
        return None
    echoed = {k: v.strip() for k, v in _BOOKSIM_LINE.findall(blocks[-1])}
    echoed.update({k: v.strip() for k, v in _BOOKSIM_OVERRIDE.findall(stdout)})
    return echoed


def booksim_echo_mismatches(rendered: dict, stdout: str) -> list[str]:
    """Keys of our rendered BookSim config that BookSim's echo lacks or shows with another value."""
    echoed = booksim_echo(stdout)
    if echoed is None:
        return []
    out = []
    for key, value in sorted(rendered.items()):
        if key in BOOKSIM_RAPIDCHIPLET_ONLY:
            continue
        if key not in echoed:
            out.append(f"{key}={value} rendered, not in BookSim's configuration")
        elif not _same(echoed[key], value):
            out.append(f"{key}={value} rendered, BookSim ran {echoed[key]}")
    return out


@check("booksim_config_echo", "error",
       hint="RapidChiplet passed BookSim another configuration than rendered (RapidChiplet-only keys are "
            "ignored): compare inputs/booksim_config.json with the BEGIN Configuration File block")
@simulated_only
def booksim_config_echo(ctx: TableContext) -> list[Finding]:
    """BookSim echoes the configuration file it parsed; every key we rendered for it (bar RapidChiplet's
    own precision/saturation_factor) must be there with our value."""
    def compare(rundir: Path) -> list[str]:
        config = rundir / BOOKSIM_CONFIG
        if not config.is_file():
            return []
        rendered = json.loads(config.read_text())
        problems = []
        for log in sorted(p for p in rundir.iterdir() if p.is_file() and p.suffix in (".log", ".txt")):
            problems += booksim_echo_mismatches(rendered, log.read_text(errors="replace"))
        return list(dict.fromkeys(problems))
    return ctx.findings_per_run(compare)


# ---------------------------------------------------------------------------------------------- CACTI
def cacti_echo_mismatches(rundir: Path, parameters: dict) -> list[str]:
    """Rendered SRAM parameters that CACTI's echo of its input does not repeat."""
    meta = rundir / CACTI_META
    if not meta.is_file() or "technology_nm" not in parameters:
        return [f"{CACTI_META} or run.json's parameters are missing"]
    out = []
    for sram in json.loads(meta.read_text())["srams"]:
        echoed = echoed_inputs(rundir / CACTI_DIR / f"{sram['name']}.stdout")
        expected = {k: sram[k] for k in ("size_bytes", "block_bytes", "associativity", "rw_ports", "read_ports",
                                         "write_ports", "banks")}
        expected["technology_um"] = parameters["technology_nm"] / 1000
        expected["temperature_k"] = parameters["temperature_k"]
        for key, value in expected.items():
            if key not in echoed:
                out.append(f"{sram['name']}: CACTI did not echo {key}")
            elif not _same(echoed[key], value):
                out.append(f"{sram['name']}: {key} {value} rendered, CACTI ran {echoed[key]:g}")
    return out


@check("cacti_config_echo", "error",
       hint="CACTI kept a built-in value for a key of the rendered .cfg (misspelt or moved key): compare "
            "templates/cacti/sram.cfg.j2 with CACTI's own cache.cfg")
@simulated_only
def cacti_config_echo(ctx: TableContext) -> list[Finding]:
    """CACTI echoes the parameters it parsed; each must equal what the harness rendered for that SRAM."""
    return ctx.findings_per_run(lambda rundir: cacti_echo_mismatches(
        rundir, (ctx.run_record(rundir.name) or {}).get("parameters") or {}))
