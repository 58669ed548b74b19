"""The bad-input corpus: `eoesim validate` rejects every study under tests/bad_inputs/ in one line.

Each file's first line is ``# expect: a | b | c``: fragments one line of the error must hold together - the
key path, the bad value and what is allowed. `eoesim validate` runs eoesim.preflight, exactly what
Snakemake's common.smk runs at DAG-build time (tests/workflow/test_validate_agrees_with_snakemake.py
dry-runs Snakemake on a sample of the corpus), so a study rejected here never starts a job. Relative
trace paths in the corpus are relative to the repository root, the directory Snakemake would run in.
"""
from pathlib import Path

import pytest

from eoesim.cli import main

REPO = Path(__file__).resolve().parents[2]
CORPUS = sorted((REPO / "tests" / "bad_inputs").glob("*.yaml"))


def expected_fragments(path: Path) -> list[str]:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    assert first.startswith("# expect: "), f"{path.name}: first line must list the expected fragments"
    return [part.strip() for part in first[len("# expect: "):].split(" | ")]


@pytest.fixture
def validate(tmp_path, monkeypatch, capsys):
    """`eoesim validate PATH` with an empty site config, run from the repository root: (exit code, stderr)."""
    site = tmp_path / "site.yaml"
    site.write_text("{}\n")
    monkeypatch.chdir(REPO)

    def run(path: Path) -> tuple[int, str]:
        code = main(["--site", str(site), "validate", str(path)])
        return code, capsys.readouterr().err

    return run


def test_the_corpus_has_at_least_100_invalid_studies():
    assert len(CORPUS) >= 100


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_bad_input_is_rejected_in_one_line_naming_key_value_and_allowed(path, validate):
    expected = expected_fragments(path)
    code, err = validate(path)
    assert code == 2 and err.startswith("eoesim: error: "), err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if all(fragment in line for fragment in expected)]
    assert lines, f"no one line of the error holds all of {expected}:\n{err}"
