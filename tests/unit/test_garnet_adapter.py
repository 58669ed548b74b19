"""The Garnet adapter: schema ranges and cross-field rules, rendered arguments, argv, check() on real and
failing runs, annotate, and availability.

gem5 is not installed here. check() is tested on the real sample's logs and outputs (tests/golden/garnet)
and on log texts of the documented failure modes (gem5's fatal:/panic: formats from src/base/logging.hh
and m5.util, the tester's "deadlocked at cycle" fatal, the NI's "Possible network deadlock" panic).
availability() is driven by tiny stand-in executables written into tmp_path that print what
``gem5.opt --build-info`` prints (format from gem5 v24 src/python/m5/main.py); they produce no results.
"""
from __future__ import annotations

import gzip
import shutil
import sys

import pandas as pd
import pytest

from eoesim.config import validate
from eoesim.errors import ConfigError, ParseError, SimulatorError, SimulatorUnavailableError
from eoesim.schema import load_schema, validate_against
from eoesim.simulators.base import get_simulator, registry
from eoesim.simulators.garnet import ARGS_FILE, Garnet, resolve_point
from eoesim.simulators.garnet_gem5 import parse_build_info, scan_logs

SAMPLE = "mesh4x4_uniform_random_inj0.1"
WORKLOAD_SCHEMA = load_schema()["properties"]["workload"]["properties"]["garnet"]
BUILD_INFO = """Build information:

gem5 version 24.0.0.1
compiled Nov 22 2026 18:40:32
build options:
    BUILD_ISA = False
    PROTOCOL = {protocol}
    RUBY = True
    RUBY_PROTOCOL_GARNET_STANDALONE = {garnet}

"""
SIM_HEADER = "gem5 Simulator System.  https://www.gem5.org\ngem5 version 24.0.0.1\n"


def point(**workload):
    return resolve_point(validate_against(workload, WORKLOAD_SCHEMA, "test", "garnet"))


def stand_in(tmp_path, name: str, body: str, mode: int = 0o755):
    """A tiny executable standing in for gem5.opt (a documented behaviour only; no results)."""
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\nimport sys, os\n{body}\n")
    path.chmod(mode)
    return path


@pytest.fixture
def fake_configs(tmp_path):
    root = tmp_path / "gem5" / "configs"
    for pkg in ("common", "ruby", "network", "topologies", "example"):
        (root / pkg).mkdir(parents=True)
    (root / "topologies" / "__init__.py").write_text("")
    (root / "example" / "garnet_synth_traffic.py").write_text("# stand-in for gem5's script; never run\n")
    return root


@pytest.fixture
def real_run(golden, tmp_path):
    """A run directory holding the real sample's logs and m5out/ (stats.txt, config.json)."""
    rundir = tmp_path / "realrun"
    (rundir / "m5out").mkdir(parents=True)
    src = golden / "garnet" / SAMPLE
    shutil.copy(src / "stdout.txt", rundir / "stdout.log")
    shutil.copy(src / "stderr.txt", rundir / "stderr.log")
    for name in ("stats.txt", "config.json"):
        with gzip.open(src / f"{name}.gz", "rb") as fin, open(rundir / "m5out" / name, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    return rundir


# ---- schema and cross-field rules --------------------------------------------------------------------

def test_registered_and_schema_wired():
    assert "garnet" in registry()
    study = validate({})
    assert study["workload"]["garnet"]["topology"] == "Mesh_XY"
    assert validate({})["fidelity"]["garnet"] == "auto"


@pytest.mark.parametrize("section, message", [
    ({"injection_rate": 0}, r"workload\.garnet\.injection_rate: 0 is not allowed; allowed: a number > 0"),
    ({"injection_rate": 1.5}, r"workload\.garnet\.injection_rate: 1\.5 is not allowed; allowed: a number <= 1"),
    ({"synthetic": "hotspot"}, r"workload\.garnet\.synthetic: 'hotspot' is not allowed; allowed: one of "
                               r"\['uniform_random', 'tornado', 'bit_complement', 'bit_reverse', 'bit_rotation', "
                               r"'neighbor', 'shuffle', 'transpose'\]"),
    ({"topology": "CustomMesh"}, r"workload\.garnet\.topology: 'CustomMesh' is not allowed"),
    ({"link_width_bits": 100}, r"workload\.garnet\.link_width_bits: 100 is not allowed; allowed: a multiple of 8"),
    ({"routing_algorithm": "custom"}, r"workload\.garnet\.routing_algorithm: 'custom' is not allowed"),
    ({"chiplet_mesh": {"chiplets": [2]}}, r"workload\.garnet\.chiplet_mesh\.chiplets: \[2\] is not allowed"),
    ({"bogus": 1}, r"workload\.garnet\.bogus: unknown key"),
])
def test_schema_ranges_name_key_and_allowed(section, message):
    with pytest.raises(ConfigError, match=message):
        validate({"workload": {"garnet": section}})


@pytest.mark.parametrize("section, message", [
    ({"num_cpus": 16, "mesh_rows": 3},
     r"workload\.garnet\.mesh_rows: 3 does not divide num_cpus=16; allowed: a divisor of 16 \[1, 2, 4, 8, 16\]"),
    ({"num_cpus": 16, "num_dirs": 20},
     r"workload\.garnet\.num_dirs: 20 is not a multiple of num_cpus=16 .*allowed: a multiple of 16"),
    ({"topology": "MeshDirCorners_XY", "num_dirs": 16}, r"workload\.garnet\.num_dirs: 16; allowed: 4"),
    ({"topology": "Crossbar", "num_cpus": 8, "synthetic": "transpose"},
     r"workload\.garnet\.synthetic: transpose .* num_dirs=8 is not a square; allowed: uniform_random"),
    ({"topology": "Crossbar", "num_cpus": 8, "num_dirs": 4, "synthetic": "shuffle"},
     r"num_cpus=8 must not exceed num_dirs=4; allowed: uniform_random, or num_cpus <= num_dirs"),
    ({"topology": "Pt2Pt", "routing_algorithm": "xy"},
     r"workload\.garnet\.routing_algorithm: xy needs a row-major router mesh.*allowed: table"),
    ({"topology": "chiplet_mesh", "num_cpus": 8},
     r"workload\.garnet\.num_cpus: 8 does not match the chiplet package \(2x2 chiplets of 2x2 routers = 16 "
     r"routers in 4 rows\); allowed: 16 or null"),
    ({"topology": "chiplet_mesh", "chiplet_mesh": {"chiplets": [8, 8], "routers_per_chiplet": [8, 8]}},
     r"workload\.garnet\.chiplet_mesh: .*4096 routers.*allowed: at most 1024 routers"),
    ({"injection_rate": 0.1234567}, r"workload\.garnet\.injection_rate: 0\.1234567 has more than 6 decimals"),
    # issue 15.9: gem5 v24.0.0.1 died on a 6x6 mesh with "Match value 32 does not fit in 5 interleaving bits"
    ({"num_cpus": 36}, r"workload\.garnet\.num_dirs: 36 is not a power of two \(gem5 interleaves memory over the "
                       r"directories with log2\(num_dirs\) address bits.*allowed: a power of two that is a multiple "
                       r"of num_cpus, which exists only when num_cpus .* is a power of two: use a mesh of e\.g\. 4x4"),
    ({"num_cpus": 16, "num_dirs": 48}, r"num_dirs: 48 is not a power of two .*allowed: a power of two that is a "
                                       r"multiple of num_cpus=16, e\.g\. 64"),
    ({"topology": "Crossbar", "num_cpus": 4, "num_dirs": 6},
     r"num_dirs: 6 is not a power of two .*allowed: a power of two, e\.g\. 4 or 8"),
])
def test_cross_field_rules_name_key_value_and_allowed(section, message):
    study = validate({"workload": {"garnet": section}})
    with pytest.raises(ConfigError, match=message):
        Garnet().point_params(study)


def test_point_defaults_and_derivations():
    p = Garnet().point_params(validate({}))
    assert (p["num_cpus"], p["num_dirs"], p["mesh_rows"]) == (16, 16, 4)
    assert "chiplet_mesh" not in p  # only the chiplet topology depends on the package
    assert point(num_cpus=8)["mesh_rows"] == 2 and point(num_cpus=32)["mesh_rows"] == 4
    chip = point(topology="chiplet_mesh", chiplet_mesh={"chiplets": [1, 4], "routers_per_chiplet": [2, 2]})
    assert (chip["num_cpus"], chip["mesh_rows"], chip["num_dirs"]) == (16, 2, 16)
    assert chip["chiplet_mesh"]["interposer_link_latency_cycles"] == 4


# ---- render and argv ----------------------------------------------------------------------------------

def rendered_args(tmp_path, fake_configs, **workload):
    rundir = tmp_path / "run"
    rundir.mkdir()
    Garnet({"configs": str(fake_configs)}).render(point(**workload), rundir)
    return (rundir / ARGS_FILE).read_text().splitlines()


def test_args_file_defaults_match_the_sample_command(tmp_path, fake_configs, golden):
    args = rendered_args(tmp_path, fake_configs)
    assert args == [
        "--network=garnet", "--topology=Mesh_XY", "--mesh-rows=4", "--num-cpus=16", "--num-dirs=16",
        "--synthetic=uniform_random", "--injectionrate=0.1", "--precision=3", "--sim-cycles=10000000",
        "--inj-vnet=0", "--vcs-per-vnet=4", "--router-latency=1", "--link-latency=1", "--link-width-bits=128",
        "--routing-algorithm=0", "--garnet-deadlock-threshold=50000", "--ruby-clock=1000ps", "--sys-clock=1000ps",
    ]
    sample_cmd = (golden / "garnet" / SAMPLE / "command.txt").read_text().split()
    for arg in ("--topology=Mesh_XY", "--mesh-rows=4", "--num-cpus=16", "--num-dirs=16", "--synthetic=uniform_random",
                "--injectionrate=0.1", "--sim-cycles=10000000", "--vcs-per-vnet=4", "--inj-vnet=0"):
        assert arg in sample_cmd and arg in args


def test_sim_cycles_become_ticks_of_the_system_clock(tmp_path, fake_configs):
    args = rendered_args(tmp_path, fake_configs, sim_cycles=5000, sys_clock_ghz=2.0, ruby_clock_ghz=2.5,
                         injection_rate=0.0125, routing_algorithm="xy", topology="chiplet_mesh",
                         link_width_bits=256, vcs_per_vnet=2)
    assert "--sim-cycles=2500000" in args  # 5000 cycles x 500 ps
    assert "--sys-clock=500ps" in args and "--ruby-clock=400ps" in args
    assert "--injectionrate=0.0125" in args and "--precision=4" in args
    assert "--routing-algorithm=1" in args and "--topology=EoeChipletMesh" in args
    assert "--mesh-rows=4" in args and "--num-cpus=16" in args and "--link-width-bits=256" in args


def test_argv_is_binary_outdir_overlay_script_then_args(tmp_path, fake_configs):
    binary = stand_in(tmp_path, "gem5.opt", "sys.exit(0)")
    rundir = tmp_path / "run"
    rundir.mkdir()
    sim = Garnet({"binary": str(binary), "configs": str(fake_configs)})
    sim.render(point(), rundir)
    argv = sim.argv(rundir)
    assert argv[:4] == [str(binary), "-d", "m5out", "gem5_configs/example/garnet_synth_traffic.py"]
    assert argv[4:] == (rundir / ARGS_FILE).read_text().split()


def test_missing_binary_names_the_site_key(tmp_path, fake_configs):
    rundir = tmp_path / "run"
    rundir.mkdir()
    sim = Garnet({"configs": str(fake_configs)})
    sim.render(point(), rundir)
    with pytest.raises(SimulatorUnavailableError, match=r"set garnet\.binary .* in config/simulators\.yaml"):
        sim.argv(rundir)
    sim = Garnet({"configs": str(fake_configs), "binary": str(tmp_path / "nope" / "gem5.opt")})
    with pytest.raises(SimulatorUnavailableError, match=r"garnet\.binary = .*nope/gem5\.opt is not an executable"):
        sim.argv(rundir)


# ---- check() ------------------------------------------------------------------------------------------

def test_check_accepts_the_real_sample_run(real_run):
    Garnet().check(real_run, 0)


def write_logs(rundir, stdout="", stderr=""):
    (rundir / "stdout.log").write_text(stdout)
    (rundir / "stderr.log").write_text(stderr)


FATAL = ("src/mem/ruby/network/garnet/GarnetNetwork.cc:107: info: Garnet version 3.0\n"
         "src/sim/simulate.cc:199: info: Entering event queue @ 0.  Starting simulation...\n"
         "src/mem/ruby/system/RubyPort.cc:100: fatal: Port system.ruby.l1_cntrl0.sequencer.in_ports0 "
         "is not connected\nMemory Usage: 722460 KBytes\n")
TESTER_DEADLOCK = ("src/cpu/testers/garnet_synthetic_traffic/GarnetSyntheticTraffic.cc:145: fatal: "
                   "system.cpu03 deadlocked at cycle 5000000\nMemory Usage: 722460 KBytes\n")
NI_DEADLOCK = ("src/mem/ruby/network/garnet/NetworkInterface.cc:476: panic: panic condition vc_busy_counter[vnet] "
               "> m_deadlock_threshold occurred: system.ruby.network.netifs03: Possible network deadlock in vnet: 2 "
               "at time: 60000000 \nMemory Usage: 722460 KBytes\n")


@pytest.mark.parametrize("returncode, stderr, message", [
    (1, FATAL, r"gem5 exited with code 1: fatal: Port system\.ruby\.l1_cntrl0\.sequencer\.in_ports0 is not connected"),
    (1, TESTER_DEADLOCK, r"network deadlock \(exited with code 1\): fatal: system\.cpu03 deadlocked at cycle 5000000"),
    (-6, NI_DEADLOCK, r"network deadlock \(was killed by signal 6 \(SIGABRT\)\): panic: .*Possible network deadlock"),
    (1, "Traceback (most recent call last):\n  File \"x.py\", line 1\nAssertionError: num_columns\n",
     r"gem5 exited with code 1: AssertionError: num_columns"),
    (1, "panic: This script requires Garnet_standalone protocol to be built.\n",
     r"exited with code 1: panic: This script requires Garnet_standalone"),
])
def test_check_failures(real_run, returncode, stderr, message):
    write_logs(real_run, SIM_HEADER, stderr)
    with pytest.raises(SimulatorError, match=message):
        Garnet().check(real_run, returncode)


def test_check_needs_the_exit_line_with_the_tester_cause(real_run):
    write_logs(real_run, SIM_HEADER)
    with pytest.raises(SimulatorError, match="lacks gem5's 'Exiting @ tick' line"):
        Garnet().check(real_run, 0)
    write_logs(real_run, SIM_HEADER + "Exiting @ tick 18446744073709551615 because simulate() limit reached\n")
    with pytest.raises(SimulatorError, match=r"because 'simulate\(\) limit reached', not 'Network Tester"):
        Garnet().check(real_run, 0)


def test_check_needs_a_complete_stats_dump(real_run):
    stats = real_run / "m5out" / "stats.txt"
    stats.write_text(stats.read_text()[:100_000])
    with pytest.raises(SimulatorError, match=r"incomplete statistics: .*stats\.txt:\d+: truncated"):
        Garnet().check(real_run, 0)
    (real_run / "m5out" / "config.json").unlink()
    with pytest.raises(SimulatorError, match=r"missing m5out/config\.json"):
        Garnet().check(real_run, 0)


def test_scan_logs_reads_exit_tick_and_cause(golden):
    out = scan_logs((golden / "garnet" / SAMPLE / "stdout.txt").read_text(),
                    (golden / "garnet" / SAMPLE / "stderr.txt").read_text())
    assert (out.exit_tick, out.exit_cause) == (10_000_000, "Network Tester completed simCycles")
    assert out.failures == () and out.deadlock is None


# ---- parse + annotate ---------------------------------------------------------------------------------

def test_annotate_adds_parameters_and_checks_gem5_ran_the_point(real_run):
    sim = Garnet()
    rows = sim.parse(real_run)
    p = point()
    out = sim.annotate(rows, p)
    assert len(out) == 4 and list(out["vnet"]) == ["all", "0", "1", "2"]
    for key in ("mesh_rows", "sim_cycles", "link_latency_cycles", "router_latency_cycles", "link_width_bits",
                "ruby_clock_ghz", "saturation_threshold"):
        assert set(out[key]) == {p[key]}
    assert set(out["routing_algorithm"]) == {"table"}
    assert not out["saturated"].iloc[0]
    strict = sim.annotate(rows, point(saturation_threshold=0.999))
    assert bool(strict["saturated"].iloc[0]) and pd.isna(strict["saturated"].iloc[1])
    with pytest.raises(ParseError, match=r"gem5 ran with injection_rate=0\.1 but the point has 0\.2"):
        sim.annotate(rows, point(injection_rate=0.2))


# ---- availability ---------------------------------------------------------------------------------------

def test_availability_unconfigured_names_the_keys(tmp_path, fake_configs):
    avail = get_simulator("garnet", {}).availability()
    assert not avail.available and avail.mode == "native"
    assert "set garnet.binary" in avail.detail
    binary = stand_in(tmp_path, "gem5.opt", "sys.exit(0)")
    avail = Garnet({"binary": str(binary)}).availability()
    assert not avail.available and "set garnet.configs" in avail.detail
    avail = Garnet({"mode": "docker", "binary": "/gem5/gem5.opt", "configs": "/gem5/configs"}).availability()
    assert not avail.available and "set garnet.image" in avail.detail


def test_availability_reports_version_and_garnet_protocol_from_build_info(tmp_path, fake_configs):
    build = tmp_path / "build" / "X86"
    build.mkdir(parents=True)
    text = BUILD_INFO.format(protocol="Garnet_standalone", garnet="True")
    good = stand_in(build, "gem5.opt", f"assert sys.argv[1:] == ['--build-info']\nprint({text!r})")
    avail = Garnet({"binary": str(good), "configs": str(fake_configs)}).availability()
    assert avail.available and avail.version == "24.0.0.1"
    assert "protocol Garnet_standalone" in avail.detail and "built in (from build options" in avail.detail

    other = BUILD_INFO.format(protocol="MESI_Two_Level", garnet="False")
    wrong = stand_in(tmp_path, "gem5-mesi.opt", f"print({other!r})")
    avail = Garnet({"binary": str(wrong), "configs": str(fake_configs)}).availability()
    assert not avail.available and avail.version == "24.0.0.1"
    assert "protocol MESI_Two_Level" in avail.detail and "needs a Garnet_standalone build" in avail.detail

    broken = stand_in(tmp_path, "gem5-broken.opt", "sys.stderr.write('error while loading shared libraries\\n')\n"
                                                   "sys.exit(127)")
    avail = Garnet({"binary": str(broken), "configs": str(fake_configs)}).availability()
    assert not avail.available and "exited with code 127: error while loading shared libraries" in avail.detail


def test_build_info_without_protocol_falls_back_to_the_build_directory():
    info = parse_build_info("gem5 version 23.0.1.0\ncompiled x\nbuild options:\n",
                            "/g/build/Garnet_standalone/gem5.opt")
    assert (info.version, info.protocol, info.garnet_standalone) == ("23.0.1.0", None, True)
    assert "build directory name" in info.how
    assert not parse_build_info("gem5 version 23.0.1.0\n", "/g/build/X86/gem5.opt").garnet_standalone


# gem5 v24.0.0.1's --build-info (issue 15.8): src/python/m5/main.py line 443 reads m5.defines.gem5Version
V24_BUILD_INFO_STDERR = """Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "src/python/m5/main.py", line 443, in main
AttributeError: module 'm5.defines' has no attribute 'gem5Version'
"""


def v24_stand_in(tmp_path, golden, build_env):
    """gem5.opt of v24.0.0.1 as far as availability sees it: --build-info crashes (exit 1); a script runs after
    gem5's real banner (the golden run's first lines) with ``m5.defines.buildEnv`` = ``build_env``."""
    banner = "".join((golden / "garnet" / SAMPLE / "stdout.txt").read_text().splitlines(keepends=True)[:5])
    m5 = tmp_path / "fake_m5" / "m5"
    m5.mkdir(parents=True)
    (m5 / "__init__.py").write_text("")
    (m5 / "defines.py").write_text(f"buildEnv = {build_env!r}\n")
    build = tmp_path / "build" / "Garnet_standalone"
    build.mkdir(parents=True)
    return stand_in(build, "gem5.opt", f"""
if sys.argv[1:] == ['--build-info']:
    sys.stderr.write({V24_BUILD_INFO_STDERR!r})
    sys.exit(1)
assert sys.argv[1] == '-d' and len(sys.argv) == 4, sys.argv
sys.stdout.write({banner!r})
sys.path.insert(0, {str(m5.parent)!r})
exec(open(sys.argv[3]).read())
""")


def test_v24_build_info_crash_falls_back_to_a_probe_script(tmp_path, fake_configs, golden):
    # the build options of the real v24.0.0.1 Garnet_standalone build (its build/Garnet_standalone/gem5.build/config)
    env = {"PROTOCOL": "Garnet_standalone", "RUBY": True, "RUBY_PROTOCOL_GARNET_STANDALONE": True, "USE_SYSTEMC": True}
    binary = v24_stand_in(tmp_path, golden, env)
    avail = Garnet({"binary": str(binary), "configs": str(fake_configs)}).availability()
    assert avail.available and avail.version == "24.0.0.1"
    assert "protocol Garnet_standalone; Garnet_standalone built in (from a probe script" in avail.detail
    assert ("--build-info exited with code 1: AttributeError: module 'm5.defines' has no attribute 'gem5Version'"
            in avail.detail)
    ident = Garnet({"binary": str(binary), "configs": str(fake_configs)}).identity()
    assert ident["version"] == "24.0.0.1" and len(ident["binary_sha256"]) == 64


def test_availability_leaves_no_m5out_in_the_users_directory(tmp_path, fake_configs, golden, monkeypatch):
    # gem5 creates m5out/ in its working directory on every start, --build-info included (seen with the real
    # v24.0.0.1 build: `eoesim doctor` left an empty m5out/ in the repository root)
    env = {"PROTOCOL": "Garnet_standalone", "RUBY": True}
    binary = v24_stand_in(tmp_path, golden, env)
    script = binary.read_text().replace("if sys.argv[1:] == ['--build-info']:",
                                        "os.makedirs('m5out', exist_ok=True)\nif sys.argv[1:] == ['--build-info']:")
    binary.write_text(script)
    user_dir = tmp_path / "user"
    user_dir.mkdir()
    monkeypatch.chdir(user_dir)
    assert Garnet({"binary": str(binary), "configs": str(fake_configs)}).availability().available
    assert list(user_dir.iterdir()) == []


def test_probe_of_another_protocol_is_not_available(tmp_path, fake_configs, golden):
    binary = v24_stand_in(tmp_path, golden, {"PROTOCOL": "MESI_Two_Level", "RUBY": True})
    avail = Garnet({"binary": str(binary), "configs": str(fake_configs)}).availability()
    assert not avail.available and avail.version == "24.0.0.1"
    assert "protocol MESI_Two_Level" in avail.detail and "needs a Garnet_standalone build" in avail.detail


def test_the_probe_in_an_image_writes_into_a_throwaway_scratch_directory_not_a_host_path(tmp_path):
    sim = get_simulator("garnet", {"mode": "docker", "image": "gem5:v24", "binary": "gem5.opt"})
    argv = sim._gem5_argv("gem5.opt", ["-d", "m5out-probe", "/eoesim-probe/probe.py"], tmp_path, scratch=True)
    assert argv[argv.index("--tmpfs") + 1] == "/scratch" and argv[argv.index("-w") + 1] == "/scratch"
    assert argv[argv.index("-v") + 1] == f"{tmp_path}:/eoesim-probe:ro"
    assert argv[argv.index("gem5:v24") + 1:] == ["gem5.opt", "-d", "m5out-probe", "/eoesim-probe/probe.py"]
