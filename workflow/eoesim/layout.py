"""The layout of ``results/<study>/``, defined once.

The CLI and library code build concrete paths (``ResultPaths(Path("results"), study.name)``); the
Snakemake rules build their patterns from the same class with wildcards for names
(``ResultPaths(Path("results"), "{study}").table("{simulator}")``), so a rule's output and the code
that reads it cannot disagree on where a file lives.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eoesim.reuse import cache_root

#: every figure is saved as these three files (eoesim.figures.style.save_figure)
FIGURE_SUFFIXES = (".pdf", ".png", ".csv")


@dataclass(frozen=True)
class ResultPaths:
    """The layout of ``results/<study>/`` (docs/design.md, "Results layout")."""

    root: Path
    study: str

    @property
    def base(self) -> Path:
        return Path(self.root) / self.study

    @property
    def points_csv(self) -> Path:
        return self.base / "points.csv"

    def run_dir(self, sim: str, run_id: str) -> Path:
        return self.base / "runs" / sim / run_id

    def logs_dir(self, sim: str, run_id: str) -> Path:
        return self.base / "logs" / sim / run_id

    def log(self, name: str) -> Path:
        """A rule's log ``logs/<name>.log`` (``name`` may name a subfolder: ``stitch_e2e/{point}``)."""
        return self.base / "logs" / f"{name}.log"

    def table(self, sim: str) -> Path:
        return self.base / "tables" / f"{sim}.csv"

    def e2e_dir(self, point_id: str) -> Path:
        return self.base / "e2e" / point_id

    @property
    def e2e_summary_csv(self) -> Path:
        return self.base / "e2e" / "summary.csv"

    def figure(self, name: str, suffix: str) -> Path:
        return self.base / "figures" / f"{name}{suffix}"

    def figure_files(self, name: str) -> list[Path]:
        """The pdf, png and csv of figure ``name``."""
        return [self.figure(name, suffix) for suffix in FIGURE_SUFFIXES]

    def surrogate_fit(self, sim: str) -> Path:
        """A surrogate refitted on the study's own runs."""
        return self.base / "surrogates" / f"{sim}.json"

    def study_pack(self, pack: str) -> Path:
        """A calibration pack refitted with the study's runs added to its dataset."""
        return self.base / "packs" / f"{pack}.json"

    def study_pack_dataset(self, pack: str) -> Path:
        return self.base / "packs" / f"{pack}.dataset.csv"

    def workloads_dir(self, point_id: str) -> Path:
        """The native workload files lowered from a design point's schedule."""
        return self.base / "workloads" / point_id

    @property
    def coupling_dir(self) -> Path:
        """Trace-level SCALE-Sim -> Ramulator memory coupling."""
        return self.base / "coupling"

    @property
    def sanity_dir(self) -> Path:
        return self.base / "sanity"

    def training_dir(self, point_id: str) -> Path:
        return self.base / "training" / point_id

    @property
    def training_summary_csv(self) -> Path:
        return self.base / "training" / "summary.csv"

    @property
    def dse_dir(self) -> Path:
        return self.base / "dse"

    @property
    def refined(self) -> ResultPaths:
        """The DSE's refined (re-simulated) points: the same layout under ``dse/refined/``."""
        return ResultPaths(self.dse_dir, "refined")

    @property
    def study_record(self) -> Path:
        return self.base / "study.yaml"

    @property
    def fidelity_csv(self) -> Path:
        return self.base / "fidelity.csv"

    @property
    def cache(self) -> Path | None:
        """The shared run cache (across studies): ``$EOESIM_CACHE`` or ``<results root>/.cache``."""
        return cache_root(Path(self.root))
