"""Rule calibrate_pack end to end: real SCALE-Sim runs of a tiny study -> a scalesim pack like analysis/packs/."""
import json

import pandas as pd
import pytest
from snakemake_runner import snakemake, write_study

from eoesim.analysis.calibrate import write_pack
from eoesim.provenance import sha256_file

pytestmark = pytest.mark.slow

STUDY = {
    "study": "tinycal",
    "eoe": {"experts": [{"name": "t", "layers": 1, "d_model": 32, "heads": 2, "kv_heads": 2, "d_ff": 64,
                         "vocab": 100}]},
    "workload": {"scalesim": {"phase": "prefill", "seq_len": 16, "batch": 1}},
    "sweep": {"grid": {"hardware.chiplet.array": [[8, 16], [16, 8], [16, 16]],
                       "hardware.chiplet.dataflow": ["os", "ws", "is"]}},
}
PACK = "results/tinycal/packs/scalesim.json"


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cal")
    write_study(workdir, STUDY)
    proc = snakemake(workdir, PACK)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir


def test_pack_regenerated_from_real_runs_has_the_shipped_form_and_coefficients(calibrated, repo):
    new = json.loads((calibrated / PACK).read_text())
    shipped = json.loads((repo / "analysis/packs/scalesim.json").read_text())
    assert list(new) == list(shipped)
    for key in ("form", "inputs", "categorical_inputs", "outputs", "primary"):
        assert new[key] == shipped[key]
    assert new["params"] == pytest.approx(shipped["params"], abs=1e-4)
    assert new["validation"]["cv"]["all_rows"]["total_cycles"]["mape_pct"] == 0.0
    table = pd.read_csv(calibrated / "results/tinycal/tables/scalesim.csv")
    dataset = pd.read_csv(calibrated / "results/tinycal/packs/scalesim.dataset.csv")
    assert (table["fidelity"] == "simulate").all()
    assert set(dataset["total_cycles"]) == set(table["total_cycles"])
    assert new["training"]["n_rows"] == len(dataset)


def test_the_pack_is_reproducible_from_its_dataset_csv(calibrated, tmp_path):
    csv = calibrated / "results/tinycal/packs/scalesim.dataset.csv"
    new = json.loads((calibrated / PACK).read_text())
    assert new["training"]["sha256"] == sha256_file(csv)
    again = json.loads(write_pack("scalesim", csv, tmp_path / "again.json").read_text())
    assert again["params"] == new["params"] and again["validation"] == new["validation"]


def test_a_pack_of_a_surrogate_simulator_is_refused_naming_how_to_provide_it(calibrated):
    proc = snakemake(calibrated, "-n", "results/tinycal/packs/garnet.json")
    assert proc.returncode != 0
    assert "calibrate garnet: the study does not run garnet for real" in proc.stderr + proc.stdout
    assert "set garnet.binary" in proc.stderr + proc.stdout
