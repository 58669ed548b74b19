"""Figures 3, 4 and 7 as Snakemake targets of a tiny study (real SCALE-Sim runs, surrogate packs)."""
import json

import pandas as pd
import pytest
from snakemake_runner import TINY, TINY_GEMMS, draw_figures

from eoesim.analysis import calibrate

pytestmark = pytest.mark.slow
FIGURES = ["noc_latency", "memory_load", "surrogate_errors", "parity_scalesim", "parity_garnet",
           "parity_ramulator", "parity_mqsim", "parity_rapidchiplet", "parity_rapidchiplet_booksim", "parity_cacti"]


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    return draw_figures(tmp_path_factory.mktemp("figc"), TINY, FIGURES)


@pytest.mark.parametrize("name", FIGURES)
def test_each_figure_rule_writes_pdf_png_and_csv(figures, name):
    for ext in (".pdf", ".png", ".csv"):
        assert (figures / "figures" / f"{name}{ext}").stat().st_size > 0
    assert not pd.read_csv(figures / "figures" / f"{name}.csv").empty


def test_parity_of_a_shipped_pack_uses_its_calibration_runs(figures):
    parity = pd.read_csv(figures / "figures" / "parity_mqsim.csv")
    frame = calibrate.DATASETS["mqsim"].training_frame(pd.read_csv(calibrate.dataset_path("mqsim")))
    assert list(parity["measured"]) == list(frame.loc[parity["dataset_row"], "response_time_us"])
    assert parity["data_source"].str.contains("analysis/calibration/mqsim/calibration.csv").all()


def test_error_table_has_the_study_refit_and_the_shipped_packs(figures):
    table = pd.read_csv(figures / "figures" / "surrogate_errors.csv")
    refit = json.loads((figures / "surrogates" / "scalesim.json").read_text())
    row = table[(table["pack"] == "scalesim (study fit)") & (table["metric"] == "total_cycles")].iloc[0]
    assert row["cv_mape_pct"] == refit["validation"]["cv"]["in_domain"]["total_cycles"]["mape_pct"]
    assert row["n_cv"] == 2 * TINY_GEMMS
    assert {"garnet", "ramulator", "mqsim", "rapidchiplet", "rapidchiplet_booksim", "scalesim"} <= set(table["pack"])
