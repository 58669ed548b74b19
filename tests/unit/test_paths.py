"""Package data is found through importlib.resources; the project is EOESIM_ROOT, the checkout or the cwd."""
from pathlib import Path

from eoesim import paths


def test_package_data_folders_hold_the_templates_schemas_and_constants():
    assert (paths.templates_dir() / "scalesim").is_dir()
    assert (paths.schemas_dir() / "config.schema.yaml").is_file()
    assert (paths.schemas_dir() / "simulators").is_dir()
    assert paths.package_file("eoesim.stitch", "energy_constants.csv").is_file()
    assert (paths.package_dir("eoesim.analysis") / "packs" / "scalesim.json").is_file()


def test_project_root_is_eoesim_root_when_set(monkeypatch, tmp_path):
    monkeypatch.setenv("EOESIM_ROOT", str(tmp_path))
    assert paths.project_root() == tmp_path.resolve()


def test_project_root_is_the_checkout_else_the_current_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("EOESIM_ROOT", raising=False)
    assert (paths.project_root() / "Snakefile").is_file()
    monkeypatch.setattr(paths, "CHECKOUT_MARKER", "no-such-marker-file")
    monkeypatch.chdir(tmp_path)
    assert paths.project_root() == Path.cwd()
