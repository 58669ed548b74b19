"""`eoesim saturation`: bisection over injection rates, evaluated with the calibrated Garnet surrogate here."""
import math
import warnings

import pandas as pd
import yaml

from eoesim.cli import main


def test_saturation_search_bisects_with_the_surrogate(tmp_path, capsys):
    config = tmp_path / "noc.yaml"
    config.write_text(yaml.safe_dump({"study": "noc", "fidelity": {"garnet": "surrogate"},
                                      "workload": {"garnet": {"num_cpus": 16, "num_dirs": 16, "mesh_rows": 4}}}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["saturation", str(config), "--results", str(tmp_path), "--start", "0.02", "--stop", "0.9",
                     "--step", "0.02"]) == 0
    out = capsys.readouterr().out
    (csv,) = (tmp_path / "noc" / "saturation").glob("garnet_*.csv")
    evals = pd.read_csv(csv)
    assert len(evals) <= math.ceil(math.log2(45)) + 2
    assert (evals["fidelity"] == "surrogate").all()
    zero_load = evals["average_packet_latency_cycles"].iloc[0]
    saturated = evals[~(evals["average_packet_latency_cycles"] <= 3 * zero_load)]["injection_rate"]
    unsaturated = evals[evals["average_packet_latency_cycles"] <= 3 * zero_load]["injection_rate"]
    first_saturated = saturated.min()
    assert unsaturated.max() < first_saturated
    assert round(first_saturated - unsaturated.max(), 6) == 0.02  # bisection closed the bracket to one step
    assert f"saturation rate {first_saturated}" in out
