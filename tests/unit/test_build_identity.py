"""Which upstream commit a simulator build is reported as (issue 15.7): the checkout's git commit, an
image's revision label, or 'unknown commit' - never a bare binary hash presented as the version."""
import subprocess

import pytest

from eoesim.simulators import base, mqsim
from eoesim.simulators.base import get_simulator
from eoesim.simulators.build_identity import git_commit


def git(path, *args):
    return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def mqsim_checkout(tmp_path):
    """A git work tree laid out like an MQSim checkout (src/ssd/FTL.cpp) with an executable ./MQSim."""
    checkout = tmp_path / "MQSim"
    (checkout / "src" / "ssd").mkdir(parents=True)
    (checkout / "src" / "ssd" / "FTL.cpp").write_text("// stand-in source file\n")
    git(tmp_path, "init", "-q", str(checkout))
    git(checkout, "add", "-A")
    git(checkout, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "stand-in")
    binary = checkout / "MQSim"  # a build output: untracked, as after `make`
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    return checkout


def test_native_mqsim_reports_its_checkouts_commit(mqsim_checkout):
    avail = get_simulator("mqsim", {"binary": str(mqsim_checkout / "MQSim")}).availability()
    assert avail.available and avail.version == git(mqsim_checkout, "rev-parse", "HEAD")
    (mqsim_checkout / "src" / "ssd" / "FTL.cpp").write_text("// edited\n")
    edited = get_simulator("mqsim", {"binary": str(mqsim_checkout / "MQSim")}).availability()
    assert edited.version == avail.version + "+modified"


def test_site_commit_wins_and_a_binary_outside_a_checkout_is_unknown(tmp_path, mqsim_checkout):
    stated = get_simulator("mqsim", {"binary": str(mqsim_checkout / "MQSim"), "commit": "7ec40e3"}).availability()
    assert stated.version == "7ec40e3"
    loose = tmp_path / "bin" / "MQSim"
    loose.parent.mkdir()
    loose.write_bytes((mqsim_checkout / "MQSim").read_bytes())
    loose.chmod(0o755)
    avail = get_simulator("mqsim", {"binary": str(loose)}).availability()
    assert avail.available and avail.version == "unknown commit" and "set mqsim.commit" in avail.detail


def test_a_binary_inside_another_repository_does_not_take_its_commit(tmp_path, mqsim_checkout):
    (mqsim_checkout / "src" / "ssd" / "FTL.cpp").unlink()  # now just some git repository
    assert git_commit(mqsim_checkout / "MQSim", "src/ssd/FTL.cpp") is None


def test_docker_mqsim_reports_the_images_revision_label(monkeypatch):
    monkeypatch.setattr(mqsim, "docker_image_id", lambda image: "sha256:" + "ab" * 32)
    monkeypatch.setattr(mqsim, "image_commit", lambda image: "7ec40e3b198e8bd117f992f051cd610e330e079e")
    avail = get_simulator("mqsim", {"mode": "docker", "image": "eoesim-mqsim:7ec40e3"}).availability()
    assert avail.version == "7ec40e3b198e8bd117f992f051cd610e330e079e"
    monkeypatch.setattr(mqsim, "image_commit", lambda image: None)
    avail = get_simulator("mqsim", {"mode": "docker", "image": "x"}).availability()
    assert avail.version == "unknown commit" and "set mqsim.commit" in avail.detail


def test_other_docker_simulators_report_the_label_or_say_it_is_missing(monkeypatch):
    monkeypatch.setattr(base, "docker_image_id", lambda image: "sha256:" + "cd" * 32)
    monkeypatch.setattr(base, "image_commit", lambda image: "66e63e59419cbcfc989c9e59d65a3549e8f47657")
    avail = get_simulator("rapidchiplet", {"mode": "docker", "image": "eoesim-rapidchiplet:66e63e5"}).availability()
    assert avail.version == "66e63e59419cbcfc989c9e59d65a3549e8f47657"
    monkeypatch.setattr(base, "image_commit", lambda image: None)
    avail = get_simulator("rapidchiplet", {"mode": "docker", "image": "x"}).availability()
    assert avail.version.startswith("image sha256:cdcd") and "org.opencontainers.image.revision" in avail.detail
