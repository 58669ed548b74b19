"""Process runner, docker argv builder, the adapter registry and site config."""
import os
import sys
from pathlib import Path

import pytest
from conftest import REPO

from eoesim.errors import ConfigError, SimulatorError, SimulatorUnavailableError
from eoesim.runners import DockerRunner, Runner, docker_argv, run_process
from eoesim.simulators.base import Simulator, get_simulator, register, registry
from eoesim.site import load_site_config


def test_stdin_is_devnull_so_a_reader_does_not_block(tmp_path):
    # MQSim-style cin.get(): with stdin from /dev/null the read returns at once
    res = run_process([sys.executable, "-c", "import sys; sys.stdin.read(); print('done')"], tmp_path, 30)
    assert res.returncode == 0
    assert (tmp_path / "stdout.log").read_text() == "done\n"


def test_stdout_and_stderr_go_to_files_and_exit_code_is_returned(tmp_path):
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    res = run_process([sys.executable, "-c", code], tmp_path, 30)
    assert res.returncode == 3
    assert (tmp_path / "stderr.log").read_text() == "err\n"


def test_timeout_kills_the_whole_process_group(tmp_path):
    code = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    with pytest.raises(SimulatorError, match="timed out after 0.5 s"):
        run_process([sys.executable, "-c", code], tmp_path, 0.5)


def test_missing_binary_is_unavailable_not_a_crash(tmp_path):
    with pytest.raises(SimulatorUnavailableError, match="cannot start '/nonexistent/gem5.opt'"):
        run_process(["/nonexistent/gem5.opt"], tmp_path, 5)


def test_docker_argv_has_no_network_runs_as_user_and_mounts_the_run_dir(tmp_path):
    argv = docker_argv("sim:1", ["ramulator2", "-f", "config.yaml"], tmp_path)
    assert argv[:3] == ["docker", "run", "--rm"] and argv[argv.index("--network") + 1] == "none"
    expected_user = "65534:65534" if os.getuid() == 0 else f"{os.getuid()}:{os.getgid()}"
    assert argv[argv.index("--user") + 1] == expected_user  # never root inside, even for a root harness
    assert argv[argv.index("-v") + 1] == f"{tmp_path.resolve()}:/run"
    assert argv[argv.index("-w") + 1] == "/run"
    assert argv[-4:] == ["sim:1", "ramulator2", "-f", "config.yaml"]
    runner = DockerRunner(mode="docker", image="sim:1")
    assert runner.command(["x"], tmp_path) == docker_argv("sim:1", ["x"], tmp_path)
    assert Runner(mode="native").command(["a", Path("b")], tmp_path) == ["a", "b"]


def test_docker_argv_mounts_rendered_inputs_read_only(tmp_path):
    (tmp_path / "sub").mkdir()
    inputs = [tmp_path / "scale.cfg", tmp_path / "sub" / "topology.csv"]
    argv = DockerRunner(mode="docker", image="sim:1").command(["x"], tmp_path, inputs)
    mounts = [argv[i + 1] for i, a in enumerate(argv) if a == "-v"]
    root = tmp_path.resolve()
    assert mounts == [f"{root}:/run", f"{root}/scale.cfg:/run/scale.cfg:ro",
                      f"{root}/sub/topology.csv:/run/sub/topology.csv:ro"]
    assert argv.index("-w") > argv.index(mounts[-1])  # the read-only mounts shadow the run dir's files


def test_registry_rejects_incomplete_and_duplicate_adapters():
    class Incomplete(Simulator):
        name = "incomplete"

    with pytest.raises(TypeError, match="does not implement"):
        register(Incomplete)
    scalesim_cls = registry()["scalesim"]

    class Impostor(scalesim_cls):
        name = "scalesim"

    with pytest.raises(TypeError, match="registered twice"):
        register(Impostor)
    assert registry()["scalesim"] is scalesim_cls


def test_unknown_simulator_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"'gem6' is not a known simulator; allowed: \[.*'scalesim'"):
        get_simulator("gem6")


def test_site_config_defaults_and_errors(tmp_path, monkeypatch):
    site = load_site_config(tmp_path / "absent.yaml")
    assert site["scalesim"] == {"mode": "python", "image": None, "timeout_s": 3600}
    bad = tmp_path / "site.yaml"
    bad.write_text("scalesim: {mode: cluster}\n")
    with pytest.raises(ConfigError,
                       match=r"scalesim.mode: 'cluster' is not allowed; allowed: one of \['python', 'docker'\]"):
        load_site_config(bad)
    monkeypatch.setenv("EOESIM_SIMULATORS", str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="EOESIM_SIMULATORS=.*does not exist"):
        load_site_config()


def test_docker_mode_without_image_says_which_key_to_set():
    sim = get_simulator("scalesim", {"mode": "docker", "image": None})
    with pytest.raises(SimulatorUnavailableError, match="set scalesim.image"):
        sim.runner()
    assert sim.availability().available is False


def test_every_adapter_has_a_pinned_upstream_and_an_image_contract_where_it_runs_images():
    """An adapter whose site config offers mode docker states what a configured image must hold (CACTI runs
    natively only: its site schema's mode is [native])."""
    import yaml

    from eoesim.contracts import load_contracts

    contracts = load_contracts()
    assert set(contracts) == set(registry())
    for name, entry in contracts.items():
        assert entry["upstream"] and entry["version"] and entry["license"] and entry["contract"], name
        schema = yaml.safe_load((REPO / "workflow" / "schemas" / "simulators" / f"{name}.schema.yaml").read_text())
        modes = schema["$defs"]["site"]["properties"].get("mode", {}).get("enum", [])
        if "docker" in modes:
            assert entry["image_check"] and all(isinstance(cmd, list) and cmd for cmd in entry["image_check"]), name
        else:
            assert "image_check" not in entry, name
