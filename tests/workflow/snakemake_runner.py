"""Running the real Snakefile on a study in a temporary directory, shared by the workflow tests."""
import re
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

#: one one-layer expert, two chiplet configurations: the smallest study with real SCALE-Sim runs
TINY = {
    "study": "tiny",
    "eoe": {"experts": [{"name": "t", "layers": 1, "d_model": 32, "heads": 2, "kv_heads": 2,
                         "d_ff": 64, "vocab": 100}]},
    "workload": {"scalesim": {"phase": "prefill", "seq_len": 16, "batch": 1}},
    "hardware": {"chiplet": {"dataflow": "os"}},
    "sweep": {"grid": {"hardware.chiplet.array": [[8, 8], [16, 16]]}},
}


#: request lengths for two TINY experts under the cache figures' memory-pressure budget: short enough that the
#: budget's KV room is below one of these tiny experts (else HBM holds both and none is read from the SSD)
SHORT_REQUESTS = {"prompt_tokens": {"dist": "lognormal", "median": 32, "sigma": 0.5, "min": 8, "max": 64},
                  "output_tokens": {"dist": "lognormal", "median": 16, "sigma": 0.5, "min": 1, "max": 32}}
#: SCALE-Sim GEMMs of one design point of a one-layer study (one expert shape) whose prefill is 16 tokens: its
#: six prefill GEMMs, the four linear layers at decode batch 1 (decode batch 16 is the prefill's own shapes)
#: and decode attention (score, value) at two context lengths (eoesim.serving.shapes)
TINY_GEMMS = 6 + 4 + 2 * 2


def snakemake(workdir, *args, **run_kw):
    """Run snakemake on ``workdir/study.yaml`` with the repository's Snakefile (2 cores)."""
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(Path(workdir) / "study.yaml"), "--cores", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, **run_kw)


def job_counts(output):
    """Snakemake's job-stats table as {rule: count}."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", output, re.M)}


def write_study(workdir, study):
    (Path(workdir) / "study.yaml").write_text(yaml.safe_dump(study))


def draw_figures(workdir, study, names, *extra_targets):
    """Run ``study`` in ``workdir`` up to the figures ``names`` (plus any other targets); its results dir."""
    write_study(workdir, study)
    base = f"results/{study['study']}"
    proc = snakemake(workdir, *extra_targets, *(f"{base}/figures/{name}.pdf" for name in names))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Path(workdir) / base
