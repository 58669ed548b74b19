"""The bad-input corpus: every study under tests/bad_inputs/ is rejected before any job runs.

Each file's first line is ``# expect: a | b | c``: fragments the error must contain - the key path, the
bad value and what is allowed. Rejection happens in build_study + plan_study, i.e. exactly what
Snakemake's common.smk runs at DAG-build time (and `eoesim validate`), before any job is scheduled.
"""
from pathlib import Path

import pytest
import yaml

from eoesim.config import build_study
from eoesim.errors import ConfigError
from eoesim.plan import plan_study

CORPUS = sorted((Path(__file__).resolve().parents[1] / "bad_inputs").glob("*.yaml"))


def test_the_corpus_has_at_least_40_invalid_studies():
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_bad_input_is_rejected_naming_key_value_and_allowed(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: first line must list the expected fragments"
    expected = [part.strip() for part in first[len("# expect: "):].split(" | ")]
    with pytest.raises(ConfigError) as info:
        plan_study(build_study(yaml.safe_load(path.read_text()), path.name), {})
    message = str(info.value)
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in: {message}"
