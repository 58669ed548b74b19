"""The failure stage in a real snakemake run: a tiny study sweeping the failover policy produces e2e
summaries with a ``failure`` section and figure failure_throughput whose CSV is exactly those summaries'
throughput series."""
import json

import pandas as pd
import pytest
from snakemake_runner import SHORT_REQUESTS, TINY, snakemake, write_study

pytestmark = pytest.mark.slow

STUDY = {**TINY, "study": "tiny_failure",
         # two experts: chiplet 0 (router + expert t) fails; u keeps chiplet 1 in use
         "eoe": {"experts": [TINY["eoe"]["experts"][0], {**TINY["eoe"]["experts"][0], "name": "u"}],
                 "requests": {"rate_per_s": 200, "count": 300, **SHORT_REQUESTS}},
         "failures": {"events": [{"kind": "chiplet", "chiplet": 0, "at_s": 0.5}], "bin_s": 0.1},
         "sweep": {"grid": {"failures.policy": ["spare", "least_loaded"]}}}


def test_failure_study_reports_recovery_and_plots_the_summaries(tmp_path):
    write_study(tmp_path, STUDY)
    proc = snakemake(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    base = tmp_path / "results" / "tiny_failure"
    points = pd.read_csv(base / "points.csv")
    frame = pd.read_csv(base / "figures" / "failure_throughput.csv")
    assert (base / "figures" / "failure_throughput.pdf").stat().st_size > 0
    assert set(frame["point"]) == set(points["point_id"])
    for pid in points["point_id"]:
        failure = json.loads((base / "e2e" / pid / "summary.json").read_text())["failure"]
        assert failure["lost_requests"] == 0 and failure["events"][0]["chiplet"] == 0
        series = failure["throughput_over_time"]
        rows = frame[(frame["point"] == pid) & (frame["series"] == "with_failure")]
        assert rows["throughput_requests_per_s"].tolist() == pytest.approx(series["requests_per_s"])
        assert (rows["bin_start_from_failure_s"] + failure["first_failure_s"]).tolist() == pytest.approx(
            series["bin_start_s"])
        assert sum(series["requests_per_s"]) * failure["bin_s"] == pytest.approx(300)
    replacements = {json.loads((base / "e2e" / p / "summary.json").read_text())["failure"]["events"][0]["replacement"]
                    for p in points["point_id"]}
    assert len(replacements) == 2  # spare (an idle chiplet) and least_loaded (the router chiplet in use) differ
