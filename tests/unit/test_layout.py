"""The results layout is defined once: concrete paths for code, the same calls with wildcards for the rules."""
from pathlib import Path

from eoesim.layout import ResultPaths


def test_wildcard_patterns_and_concrete_paths_come_from_the_same_methods():
    patterns = ResultPaths(Path("results"), "{study}")
    concrete = ResultPaths(Path("results"), "demo")
    assert str(patterns.table("{simulator}")) == "results/{study}/tables/{simulator}.csv"
    assert concrete.table("garnet") == Path("results/demo/tables/garnet.csv")
    assert str(patterns.log("stitch_e2e/{point}")) == "results/{study}/logs/stitch_e2e/{point}.log"
    assert [p.name for p in concrete.figure_files("timeline")] == ["timeline.pdf", "timeline.png", "timeline.csv"]


def test_refined_points_keep_the_study_layout_under_dse_refined():
    paths = ResultPaths(Path("results"), "demo")
    assert paths.refined.table("scalesim") == Path("results/demo/dse/refined/tables/scalesim.csv")
    assert paths.refined.e2e_dir("abc") == Path("results/demo/dse/refined/e2e/abc")
