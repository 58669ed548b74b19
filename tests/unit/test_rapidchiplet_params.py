"""Cross-field checks of workload.rapidchiplet: ConfigErrors name the key path, the value and what is allowed."""
import pytest

from eoesim.config import build_study
from eoesim.errors import ConfigError
from eoesim.simulators.base import get_simulator


def point(**workload):
    study = build_study({"workload": {"rapidchiplet": workload}})
    return get_simulator("rapidchiplet", {}).point_params(study.points[0].params)


@pytest.mark.parametrize("workload, match", [
    ({"topology": "torus", "grid": [2, 2]},
     r"workload\.rapidchiplet\.grid: \[2, 2\].*every dimension 1 or >= 3 for torus"),
    ({"topology": "folded_torus", "grid": [3, 1], "edge_columns": {"west": "memory"}},
     r"grid: \[3, 1\].*package columns incl\. edge columns: 2"),
    ({"topology": "hexamesh"}, r"topology: 'hexamesh'.*mesh', 'torus', 'folded_torus'.*or route experiment"),
    ({"grid": [1, 1]}, r"grid: \[1, 1\].*at least 2 chiplets"),
    ({"grid": [2, 3], "traffic": {"pattern": "transpose"}}, r"traffic\.pattern: 'transpose'.*square compute grid"),
    ({"traffic": {"pattern": "hotspot", "hotspots": [1, 4]}}, r"traffic\.hotspots: \[1, 4\].*chiplet ids 0\.\.3"),
    ({"traffic": {"pattern": "hotspot", "hotspot_count": 5}}, r"hotspot_count: 5.*at most the 4 chiplets"),
    ({"traffic": {"pattern": "matrix"}}, r"traffic\.matrix: None.*a 4 x 4 matrix"),
    ({"traffic": {"pattern": "matrix", "matrix": [[1, 0], [0, 0]]}}, r"a 4 x 4 matrix"),
    ({"grid": [1, 2], "traffic": {"pattern": "matrix", "matrix": [[1, 1], [1, 0]]}}, r"zero diagonal"),
    ({"traffic": {"matrix": [[0, 1], [1, 0]]}}, r"traffic\.matrix.*null unless traffic\.pattern is matrix"),
    ({"traffic": {"receivers": ["memory"]}},
     r"traffic\.receivers: \['memory'\].*types present in the package \['compute'\]"),
    ({"chiplets": {"compute": {"technology": "n3"}}}, r"chiplets\.compute\.technology: 'n3'.*tech_1"),
    ({"packaging": {"interposer_technology": "glass"}}, r"packaging\.interposer_technology: 'glass'"),
    ({"route": "experiment", "topology": "hexamesh"}, r"hex_radius: None.*integer >= 1 for hexamesh"),
    ({"route": "experiment", "hex_radius": 2}, r"hex_radius: 2.*null for mesh"),
    ({"route": "experiment", "routing": "xy"}, r"routing: 'xy'.*routing_algorithm"),
    ({"route": "experiment", "edge_columns": {"east": "io"}}, r"edge_columns.*none on both sides"),
    ({"route": "experiment", "booksim": {"sample_period": 900}},
     r"booksim\.sample_period: 900.*run_experiment\.py sets"),
    ({"route": "experiment", "topology": "torus", "booksim": {"enabled": True}},
     r"grid: \[2, 2\].*BookSim aborts"),
    ({"route": "experiment", "topology": "hexamesh", "hex_radius": 1, "traffic": {"pattern": "transpose"}},
     r"transpose only on a square grid"),
])
def test_invalid_combinations(workload, match):
    with pytest.raises(ConfigError, match=match):
        point(**workload)


def test_valid_points_and_seed_dependence():
    p = point(topology="torus", grid=[3, 1])
    assert p["topology"] == "torus" and p["seed"] is None
    assert point(route="experiment", topology="torus")["topology"] == "torus"  # analytic 2x2 torus is fine
    assert point(traffic={"pattern": "hotspot"})["seed"] == 1
    assert point(traffic={"pattern": "hotspot", "hotspots": [0]})["seed"] is None


def test_schema_rejects_unknown_keys_and_bad_values():
    with pytest.raises(ConfigError, match=r"workload\.rapidchiplet\.grid\[0\]: 0 is not allowed"):
        point(grid=[0, 2])
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['colour'\]"):
        point(colour="red")
    with pytest.raises(ConfigError, match=r"booksim\.precision: 0\.005 is not allowed"):
        point(booksim={"precision": 0.005})
