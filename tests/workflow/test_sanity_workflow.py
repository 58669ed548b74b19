"""Rule sanity_check on the tiny study with real SCALE-Sim runs: all checks pass; a corrupted table fails it."""
import pandas as pd
import pytest
from snakemake_runner import TINY, TINY_GEMMS, snakemake, write_study

pytestmark = pytest.mark.slow
CHECKS = "results/tiny/sanity/checks.csv"


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sanity")
    write_study(workdir, TINY)
    proc = snakemake(workdir, CHECKS, "results/tiny/sanity/summary.html")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir


def test_real_scalesim_tables_pass_every_check(checked):
    results = pd.read_csv(checked / CHECKS)
    scalesim = results[results["simulator"] == "scalesim"]
    assert set(scalesim["status"]) == {"pass"}, scalesim
    assert {"scalesim_config_echo", "negative_value", "metric_does_not_move",
            "rendered_input_overwritten"} <= set(scalesim["check"])
    assert (scalesim["rows_checked"] == 2 * TINY_GEMMS).all()  # 2 design points, all simulated
    assert "fail" not in set(results["status"])
    assert "Sanity checks of study tiny" in (checked / "results/tiny/sanity/summary.html").read_text()


def test_injected_negative_latency_fails_the_workflow_naming_the_check(checked):
    table_path = checked / "results/tiny/tables/scalesim.csv"
    table = pd.read_csv(table_path)
    run_id, layer = table.loc[3, "run_id"], table.loc[3, "layer_id"]
    table.loc[3, "compute_latency_ns"] = -5.0
    table.to_csv(table_path, index=False)
    proc = snakemake(checked, CHECKS)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    log = (checked / "results/tiny/logs/sanity_check.log").read_text()
    for text in (output + log, log):
        assert "negative_value [scalesim]" in text
    assert f"{run_id}:layer_id={layer}" in log and "compute_latency_ns is negative" in log and "Hint:" in log
    assert not (checked / CHECKS).exists()  # a failed check writes no outputs
