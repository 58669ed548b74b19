"""`snakemake --report` on a finished tiny study: every figure, table and caption of the run is in it."""
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from snakemake_runner import SHORT_REQUESTS, TINY, snakemake

pytestmark = pytest.mark.slow
REPORT_DIR = REPO / "workflow" / "report"
#: two experts (so the cache figures have something to show), a chiplet failure and training sharing the
#: package (one point shared, one split): every figure is drawn
STUDY = {**TINY, "eoe": {"experts": [TINY["eoe"]["experts"][0], {**TINY["eoe"]["experts"][0], "name": "u"}],
                         "requests": {"count": 50, "rate_per_s": 100, **SHORT_REQUESTS}},
         "failures": {"events": [{"kind": "chiplet", "chiplet": 1, "at_s": 0.1}]},
         "training": {"seq_len": 16, "global_batch_tokens": 256, "dataset_tokens": 2560, "scalesim_max_cycles": 0},
         "sweep": {"zip": {**TINY["sweep"]["grid"], "training.share": [0.5, 1.0], "training.chiplets": [None, 8]}},
         "figures": {"cache_sensitivity": {"repeats": 1}}}  # one request stream: the figure is drawn, not studied


def first_sentence(rst: Path) -> str:
    """The caption's first words, as plain text (no rst markup), to find in the rendered report."""
    text = " ".join(rst.read_text().split())
    return re.split(r"[`*{:(]", text, maxsplit=1)[0].strip()[:40]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("report")
    (workdir / "study.yaml").write_text(yaml.safe_dump(STUDY))
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    built = snakemake(workdir, "--report", "results/report.html")
    assert built.returncode == 0, built.stderr[-3000:]
    return workdir, (workdir / "results" / "report.html").read_text()


def test_report_holds_every_figure_with_its_caption(report):
    workdir, html = report
    figures = sorted((workdir / "results" / "tiny" / "figures").glob("*.pdf"))
    assert figures, "the study drew no figures"
    for pdf in figures:
        assert pdf.name in html or pdf.with_suffix(".png").name in html, pdf.name
    assert {"failure_throughput.pdf", "cache_sensitivity.pdf", "expert_load_cdf.pdf", "training_time.pdf",
            "training_colocation.pdf"} <= {p.name for p in figures}
    captions = [c for c in REPORT_DIR.glob("*.rst") if c.name != "workflow.rst"]
    assert [c.name for c in captions if first_sentence(c) not in html] == []


def test_report_holds_config_fidelity_and_run_statistics(report):
    workdir, html = report
    for name in ("study.yaml", "fidelity.csv", "summary.csv"):
        assert name in html
    assert "Statistics" in html
    assert first_sentence(REPORT_DIR / "workflow.rst").split("**")[0] in html
    record = yaml.safe_load((workdir / "results" / "tiny" / "study.yaml").read_text())
    assert record["eoe"]["requests"]["count"] == 50 and record["study"] == "tiny"
    fidelity = (workdir / "results" / "tiny" / "fidelity.csv").read_text().splitlines()
    assert fidelity[0] == "simulator,requested,chosen,reason"
    assert any(line.startswith("scalesim,simulate,simulate,") for line in fidelity)
