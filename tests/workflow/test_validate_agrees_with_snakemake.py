"""`eoesim validate` and `snakemake -n` accept and reject the same studies, with the same message.

Both run eoesim.preflight (common.smk calls it; no rules file checks anything else at DAG-build time), so
this dry-runs Snakemake in this process (one import of Snakemake and the harness for every study) on
every valid example (config/config.yaml, config/studies/*.yaml, and a study whose requests come from a
trace, which a default figure once made unrunnable) and on one bad study per stage of the checks; the
whole corpus goes through `eoesim validate` in tests/unit/test_bad_inputs.py.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from eoesim.cli import main

pytestmark = pytest.mark.slow

VALID = [REPO / "config" / "config.yaml", *sorted((REPO / "config" / "studies").glob("*.yaml"))]
#: one bad study per stage: schema, sweep values, sweep size, YAML reading, an adapter's cross-field
#: rules, the e2e model's, a figure's settings against the points, a figure's budget
BAD = [REPO / "tests" / "bad_inputs" / name for name in (
    "11_study.yaml", "24_sweep.grid.hardware.chiplet.dataflow.yaml", "rel_sweep_ten_billion_points.yaml",
    "rel_yaml_duplicate_top_level.yaml", "rel_yaml_duplicate_nested.yaml", "33_garnet_rows_do_not_divide_cpus.yaml",
    "44_morphology_names_unknown_expert.yaml", "rel_graph_manager_in_a_branch.yaml",
    "rel_timeline_point_out_of_range.yaml", "figures_expert_load_hbm_experts.yaml",
)]


@pytest.fixture(scope="module")
def trace_study(tmp_path_factory) -> Path:
    """A valid study whose every request comes from a trace (the default cache figure cannot use it)."""
    folder = tmp_path_factory.mktemp("trace_study")
    trace = folder / "trace.csv"
    trace.write_text("arrival_s,domain,prompt_tokens,output_tokens\n0.0,0,64,16\n0.05,1,128,32\n0.1,0,32,8\n")
    study = folder / "study.yaml"
    study.write_text(yaml.safe_dump({
        "study": "trace_study",
        "eoe": {"experts": [{"name": "code", "preset": "tiny-25m"}, {"name": "math", "preset": "tiny-25m"}],
                "requests": {"arrival": "trace", "trace_file": str(trace), "domains": 2}},
    }))
    return study


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """Where Snakemake runs: a project directory, with the shipped request traces the studies name."""
    folder = tmp_path_factory.mktemp("workdir")
    (folder / "config").mkdir()
    (folder / "config" / "traces").symlink_to(REPO / "config" / "traces")
    return folder


def snakemake_dry_run(configfile: Path, workdir: Path) -> str | None:
    """None when `snakemake -n --configfile FILE` builds its DAG, else its error message."""
    from snakemake.api import SnakemakeApi
    from snakemake.exceptions import WorkflowError
    from snakemake.settings.enums import Quietness
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings

    cwd = os.getcwd()
    try:
        with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
            workflow = api.workflow(
                resource_settings=ResourceSettings(cores=1), snakefile=REPO / "Snakefile", workdir=workdir,
                config_settings=ConfigSettings(configfiles=[configfile], replace_workflow_config=True))
            workflow.dag(dag_settings=DAGSettings()).execute_workflow(executor="dryrun")
        return None
    except (WorkflowError, UnicodeDecodeError) as exc:  # the Snakefile's errors, its reading of --configfile
        return str(exc)
    finally:
        os.chdir(cwd)


def validate(configfile: Path, workdir: Path, capsys) -> str | None:
    """None when `eoesim validate FILE` (run where Snakemake runs) accepts the study, else its error."""
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        code = main(["validate", str(configfile)])
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    return None if code == 0 else err.removeprefix("eoesim: error: ").strip()


@pytest.mark.parametrize("study", VALID, ids=[p.stem for p in VALID])
def test_a_valid_example_is_accepted_by_both(study, workdir, capsys):
    assert validate(study, workdir, capsys) is None
    assert snakemake_dry_run(study, workdir) is None


def test_a_study_reading_a_trace_is_accepted_by_both(trace_study, workdir, capsys):
    assert validate(trace_study, workdir, capsys) is None
    assert snakemake_dry_run(trace_study, workdir) is None


@pytest.mark.parametrize("study", BAD, ids=[p.stem for p in BAD])
def test_a_bad_study_is_rejected_by_both_with_the_same_message(study, workdir, capsys):
    rejected = validate(study, workdir, capsys)
    assert rejected is not None
    assert rejected in snakemake_dry_run(study, workdir)


def test_a_study_file_that_is_not_utf8_is_rejected_by_both(workdir, capsys):
    study = REPO / "tests" / "bad_inputs" / "rel_not_utf8.yaml"
    assert "is not UTF-8 text" in validate(study, workdir, capsys)
    assert snakemake_dry_run(study, workdir) is not None  # Snakemake reads --configfile itself, first
