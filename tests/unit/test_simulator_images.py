"""The simulator image recipes (containers/simulators/<sim>/): each builds the commit external/simulators.yaml
pins, in a builder stage and a separate runtime stage on the local Debian base, labels the image with that
commit and runs as a non-root user; the build script refuses bad arguments with one clear line."""
import re
import subprocess

import pytest
import yaml
from conftest import REPO

RECIPES = REPO / "containers" / "simulators"
#: recipe directory -> the section of external/simulators.yaml it builds
SECTIONS = {"gem5": "garnet", "mqsim": "mqsim", "ramulator": "ramulator", "rapidchiplet": "rapidchiplet"}


def source_env(sim):
    return dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', (RECIPES / sim / "source.env").read_text(), re.M))


def pinned_section(section):
    """The raw text of one top-level section of external/simulators.yaml (pins are partly in comments)."""
    text = (REPO / "external" / "simulators.yaml").read_text()
    match = re.search(rf"^{section}:\n(.*?)(?=^\w|\Z)", text, re.M | re.S)
    assert match, section
    return match.group(1)


def test_every_recipe_has_a_simulator_section():
    assert sorted(p.name for p in RECIPES.iterdir() if p.is_dir()) == sorted(SECTIONS)
    assert set(SECTIONS.values()) <= set(yaml.safe_load((REPO / "external" / "simulators.yaml").read_text()))


@pytest.mark.parametrize("sim", sorted(SECTIONS))
def test_recipe_builds_the_pinned_commit(sim):
    env = source_env(sim)
    assert re.fullmatch(r"[0-9a-f]{40}", env["COMMIT"])
    assert env["COMMIT"] in pinned_section(SECTIONS[sim])
    assert env["IMAGE"] == f"eoesim-{sim}"


@pytest.mark.parametrize("sim", sorted(SECTIONS))
def test_dockerfile_is_builder_plus_runtime_labelled_and_non_root(sim):
    text = (RECIPES / sim / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?$", text, re.M)
    assert stages == [("${BASE}", "build"), ("${BASE}", "")]
    runtime = text.split("\nFROM ${BASE}\n", 1)[1]
    users = re.findall(r"^USER (\S+)$", runtime, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "COPY --from=build" in runtime
    assert not re.search(r"apt-get install[^\n]*\b(g\+\+|gcc|make|cmake|scons)\b", runtime)  # no compilers at run time


def test_build_script_labels_every_image_with_its_upstream_commit():
    script = (REPO / "containers" / "build-simulators.sh").read_text()
    for label in ('org.opencontainers.image.revision="$COMMIT"', 'org.opencontainers.image.source="$UPSTREAM"'):
        assert f"--label {label}" in script
    assert all(source_env(sim)["UPSTREAM"].startswith("https://github.com/") for sim in SECTIONS)


@pytest.mark.parametrize("args, message", [
    ([], "nothing to build"),
    (["cacti2=/tmp"], "unknown simulator 'cacti2'; allowed: gem5 mqsim ramulator rapidchiplet"),
    (["--fast"], "unknown argument '--fast'"),
])
def test_build_script_rejects_bad_arguments_in_one_line(args, message):
    proc = subprocess.run([str(REPO / "containers" / "build-simulators.sh"), *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode != 0 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
