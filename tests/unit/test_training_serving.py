"""The serving side of a package shared with or split from training: the serving engine with the training's
background load."""
import json

import pytest
from training_cases import hand_model, point

from eoesim.errors import ConfigError
from eoesim.stitch.e2e import stitch_point
from eoesim.training.point_job import run_training_point
from eoesim.training.serving_side import background_from_summary, serve_beside_training

REQUESTS = {"count": 40, "rate_per_s": 50}


def serve(tmp_path, training):
    tmp_path.mkdir(parents=True, exist_ok=True)
    p = point({"dataset_tokens": 10240, **training}, requests=REQUESTS)
    run_training_point(p, hand_model(), tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    return p, summary, serve_beside_training(p, hand_model(), summary, tmp_path / "serving.json")


def test_background_load_round_trips_through_the_summary(tmp_path):
    _, summary, _ = serve(tmp_path, {"share": 0.25})
    load = background_from_summary(summary)
    assert dict(load.chiplet_busy_fraction) == {0: 0.25, 1: 0.25, 3: 0.25, 2: 0.25}
    assert load.device_bytes_per_s["hbm0"] > 0 and load.label == "training"


def test_sharing_the_chiplets_slows_serving_by_the_training_share(tmp_path):
    """The expert serves on chiplet 0; training holding half of its time doubles every iteration there."""
    p, _, shared = serve(tmp_path, {"share": 0.5})
    alone = stitch_point(p, hand_model()).summary
    assert shared["serving_chiplets_used"] == [0]
    assert shared["ttft_s"]["p50"] > 1.5 * alone["ttft_s"]["p50"]
    assert shared["goodput"]["fraction"] == 1.0  # no serving.slo bound set: every request meets it
    assert (tmp_path / "serving.json").exists()


def test_a_split_package_serves_on_the_chiplets_training_leaves(tmp_path):
    _, _, split = serve(tmp_path / "split", {"chiplets": 2})  # training: the snake's end (3, 2); serving: 0
    _, _, shared = serve(tmp_path / "shared", {"share": 0.5})
    assert split["serving_chiplets_used"] == [0]
    assert split["background_chiplet_busy_fraction"] == {}
    assert split["ttft_s"]["p50"] < shared["ttft_s"]["p50"]


def test_a_split_package_must_not_serve_on_training_chiplets(tmp_path):
    with pytest.raises(ConfigError, match=r"mapping: the serving instances use chiplets \[0\], which train only"):
        serve(tmp_path, {"chiplets": 4})
