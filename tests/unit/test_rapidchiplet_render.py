"""Rendering RapidChiplet inputs: equivalence with RapidChiplet's own generator, structural validity of the
rendered packages (checked by our own code), the working copy, and the experiment-file route."""
import json
import os

import pytest

from eoesim.config import build_study
from eoesim.errors import RenderError, SimulatorUnavailableError
from eoesim.simulators import rapidchiplet_json as rj
from eoesim.simulators.base import get_simulator
from eoesim.simulators.rapidchiplet import DESIGN_FILE, EXPERIMENT_FILE, FILES, RUN_META, SEEDED_RUN
from eoesim.simulators.rapidchiplet_package import build_package
from eoesim.simulators.rapidchiplet_routing import iter_paths
from eoesim.simulators.rapidchiplet_validate import check_inputs, check_routing, check_topology
from eoesim.simulators.rapidchiplet_workcopy import BOOKSIM_BINARY, MODULES, WRITABLE_DIRS

GENERATED = "rapidchiplet/booksim/generated_inputs"


#: RapidChiplet's example compute chiplet (its experiments' base_chiplet_area/power); without it the compute
#: chiplet's area and power come from hardware.chiplet (eoesim.eoe.chiplet_budget)
EXAMPLE_CHIPLETS = {"compute": {"area_mm2": 74, "power_w": 20}}


def make_point(seed=1, **workload):
    workload.setdefault("chiplets", EXAMPLE_CHIPLETS)
    study = build_study({"seed": seed, "workload": {"rapidchiplet": workload}})
    return get_simulator("rapidchiplet", {}).point_params(study.points[0].params)


def render(tmp_path, site=None, **workload):
    sim = get_simulator("rapidchiplet", site or {})
    point = make_point(**workload)
    files = sim.render(point, tmp_path)
    return sim, point, files


def docs(rundir):
    return {key: rj.read(rundir / rel) for key, rel in FILES.items()}


def test_default_2x2_mesh_equals_rapidchiplets_own_generator(tmp_path, golden):
    """The sample experiment's parameters are our defaults: same chiplet, placement, links, routes, traffic."""
    render(tmp_path)
    ref = golden / GENERATED
    chiplets = json.loads((tmp_path / FILES["chiplets"]).read_text())
    ref_chiplets = json.loads((ref / "chiplets_sample_exp_2x2.json").read_text())
    assert chiplets == {"compute": ref_chiplets["sample_exp_2x2"]}
    placement = json.loads((tmp_path / FILES["placement"]).read_text())
    ref_placement = json.loads((ref / "placement_sample_exp_2x2.json").read_text())
    for c in ref_placement["chiplets"]:
        c["name"] = "compute"
    assert placement == ref_placement

    def ends(links):
        return sorted((ln["ep1"]["outer_id"], ln["ep1"]["inner_id"], ln["ep2"]["outer_id"], ln["ep2"]["inner_id"],
                       ln["color"]) for ln in links)

    assert ends(json.loads((tmp_path / FILES["topology"]).read_text())) == \
        ends(json.loads((ref / "topology_sample_exp_2x2.json").read_text()))
    for mine, theirs in (("routing_table", "routing_table"), ("traffic_by_unit", "traffic_by_unit"),
                         ("traffic_by_chiplet", "traffic_by_chiplet")):
        assert (tmp_path / FILES[mine]).read_text() == (ref / f"{theirs}_sample_exp_2x2.json").read_text(), mine
    assert json.loads((tmp_path / FILES["booksim_config"]).read_text()) == \
        json.loads((ref / "booksim_config_sample_exp_2x2.json").read_text())


def test_design_file_points_at_every_rendered_input(tmp_path):
    _, point, files = render(tmp_path)
    design = json.loads((tmp_path / DESIGN_FILE).read_text())
    assert design["design_name"].startswith("eoe_") and design["trace"] == "none"
    for key, rel in FILES.items():
        assert design[key] == rel and (tmp_path / rel).is_file()
    assert {str(f.relative_to(tmp_path)) for f in files} == set(FILES.values()) | {DESIGN_FILE, RUN_META}
    packaging = json.loads((tmp_path / FILES["packaging"]).read_text())
    assert packaging["link_latency_type"] == "function" and packaging["link_latency"] == "lambda x : 0.25 * x"
    assert packaging["link_power_type"] == "constant" and packaging["link_power"] == 1
    technologies = json.loads((tmp_path / FILES["technologies"]).read_text())
    assert technologies["tech_3"] == {"phy_latency": 12, "wafer_radius": 250, "wafer_cost": 1100,
                                      "defect_density": 0.0005}


@pytest.mark.parametrize("grid", [[2, 2], [4, 4]])
def test_rendered_mesh_is_structurally_valid(tmp_path, grid):
    render(tmp_path, grid=grid)
    d = docs(tmp_path)
    assert check_inputs(d) == []
    n = grid[0] * grid[1]
    n_phys = len(d["chiplets"]["compute"]["phys"])
    # every link endpoint exists and every PHY index is in range, each PHY used once
    used = []
    for link in d["topology"]:
        for ep in (link["ep1"], link["ep2"]):
            assert ep["type"] == "chiplet" and 0 <= ep["outer_id"] < n and 0 <= ep["inner_id"] < n_phys
            used.append((ep["outer_id"], ep["inner_id"]))
    assert len(used) == len(set(used)) == 2 * (grid[0] * (grid[1] - 1) + grid[1] * (grid[0] - 1))
    # the routing table covers every source/destination pair and every route arrives
    table = d["routing_table"]["table"]
    assert set(table) == {("chiplet", i) for i in range(n)}
    assert all(set(row) == {("chiplet", j) for j in range(n)} for row in table.values())
    paths = list(iter_paths(table))
    assert len(paths) == n * (n - 1)
    # shortest paths on a mesh: hops = manhattan distance of the grid positions
    cols = grid[1]
    for src, dst, path in paths:
        assert len(path) - 1 == abs(src // cols - dst // cols) + abs(src % cols - dst % cols)
    # every chiplet talks to every other (random uniform), 4 units each
    assert len(d["traffic_by_unit"]) == n * 4 * (n - 1) * 4
    assert sorted(d["traffic_by_chiplet"]) == [(s, t) for s in range(n) for t in range(n) if s != t]


def test_structural_checks_catch_broken_inputs(tmp_path):
    render(tmp_path, grid=[2, 2])
    d = docs(tmp_path)
    d["topology"][0]["ep1"]["inner_id"] = 7
    d["topology"][1]["ep2"]["outer_id"] = 9
    problems = check_topology(d["topology"], d["placement"], d["chiplets"])
    assert any("uses PHY 7 of chiplet" in p and "PHYs 0..3" in p for p in problems)
    assert any("names chiplet 9" in p for p in problems)
    d = docs(tmp_path)
    del d["routing_table"]["table"][("chiplet", 1)][("chiplet", 2)]
    d["routing_table"]["table"][("chiplet", 0)][("chiplet", 3)] = ("chiplet", 3)  # no link 0-3 in a 2x2 mesh
    problems = check_routing(d["routing_table"], d["topology"], d["placement"], d["chiplets"])
    assert "routing table: no next hop from ('chiplet', 1) to ('chiplet', 2)" in problems
    assert any("next hop ('chiplet', 3) of ('chiplet', 0)" in p and "not linked" in p for p in problems)
    d = docs(tmp_path)
    d["routing_table"]["table"][("chiplet", 0)][("chiplet", 3)] = ("chiplet", 2)
    d["routing_table"]["table"][("chiplet", 2)][("chiplet", 3)] = ("chiplet", 0)
    assert any("loops" in p for p in check_inputs(d))


def test_torus_and_folded_torus_links(tmp_path):
    render(tmp_path / "t", topology="torus", grid=[3, 3])
    d = docs(tmp_path / "t")
    assert check_inputs(d) == []
    assert len(d["topology"]) == 18  # 2 x 3 rings of 3
    wrap = [ln for ln in d["topology"] if {ln["ep1"]["outer_id"], ln["ep2"]["outer_id"]} == {0, 2}]
    assert wrap == [{"ep1": {"type": "chiplet", "outer_id": 0, "inner_id": 0},
                     "ep2": {"type": "chiplet", "outer_id": 2, "inner_id": 2}, "color": "#000099"}]
    render(tmp_path / "f", topology="folded_torus", grid=[5, 4])
    d = docs(tmp_path / "f")
    assert check_inputs(d) == []
    pkg = build_package(make_point(topology="folded_torus", grid=[5, 4]))
    row0 = sorted(tuple(sorted((ln.c1, ln.c2))) for ln in pkg.links if ln.horizontal and ln.c1 < 4)
    assert row0 == [(0, 1), (0, 2), (1, 3), (2, 3)]
    # folded: no link spans more than two sites
    spacing = pkg.sites[1].x_mm - pkg.sites[0].x_mm
    assert max(pkg.link_lengths_mm()) < 2 * spacing + 1e-9


def test_edge_columns_memory_and_io(tmp_path):
    render(tmp_path, grid=[3, 2], edge_columns={"west": "memory", "east": "io"}, routing="xy",
           traffic={"pattern": "random_uniform", "senders": ["compute"], "receivers": ["memory", "io"]})
    d = docs(tmp_path)
    assert check_inputs(d) == []
    names = [c["name"] for c in d["placement"]["chiplets"]]
    assert names == ["memory", "compute", "compute", "io"] * 3
    assert set(d["chiplets"]) == {"compute", "memory", "io"}
    assert d["chiplets"]["memory"]["type"] == "memory" and d["chiplets"]["memory"]["unit_count"] == 8
    assert d["chiplets"]["memory"]["dimensions"]["x"] == pytest.approx((110 + 4 * 0.85) ** 0.5)
    # traffic only from compute chiplets to memory/io chiplets
    sources = {s for s, _ in d["traffic_by_chiplet"]}
    dests = {t for _, t in d["traffic_by_chiplet"]}
    assert sources == {1, 2, 5, 6, 9, 10} and dests == {0, 3, 4, 7, 8, 11}
    # each compute unit injects a total share of 1
    per_unit = {}
    for (src, _), load in d["traffic_by_unit"].items():
        per_unit[src] = per_unit.get(src, 0) + load
    assert all(v == pytest.approx(1.0) for v in per_unit.values()) and len(per_unit) == 6 * 4
    # xy: horizontal moves first
    table = d["routing_table"]["table"]
    assert table[("chiplet", 0)][("chiplet", 11)] == ("chiplet", 1)
    assert table[("chiplet", 3)][("chiplet", 8)] == ("chiplet", 2)
    assert table[("chiplet", 0)][("chiplet", 8)] == ("chiplet", 4)


def test_matrix_hotspot_and_permutation_traffic(tmp_path):
    matrix = [[0, 3, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 2, 0]]
    render(tmp_path / "m", traffic={"pattern": "matrix", "matrix": matrix})
    by_chiplet = rj.read(tmp_path / "m" / FILES["traffic_by_chiplet"])
    assert by_chiplet == pytest.approx({(0, 1): 4 * 0.75, (0, 3): 4 * 0.25, (2, 0): 4.0, (3, 2): 4.0})
    render(tmp_path / "h", grid=[3, 3], traffic={"pattern": "hotspot", "hotspots": [4], "hotspot_fraction": 0.5})
    by_chiplet = rj.read(tmp_path / "h" / FILES["traffic_by_chiplet"])
    assert by_chiplet[(0, 4)] == pytest.approx(4 * 0.5) and by_chiplet[(0, 1)] == pytest.approx(4 * 0.5 / 7)
    assert by_chiplet[(4, 0)] == pytest.approx(4 / 8)
    a = make_point(seed=7, grid=[3, 3], traffic={"pattern": "permutation"})
    b = make_point(seed=8, grid=[3, 3], traffic={"pattern": "permutation"})
    assert a["seed"] == 7 and make_point(seed=7)["seed"] is None  # the seed only matters for random traffic
    sim = get_simulator("rapidchiplet", {})
    sim.render(a, tmp_path / "p1")
    sim.render(a, tmp_path / "p2")
    sim.render(b, tmp_path / "p3")
    texts = [(tmp_path / d / FILES["traffic_by_chiplet"]).read_text() for d in ("p1", "p2", "p3")]
    assert texts[0] == texts[1] != texts[2]
    perm = rj.loads(texts[0])
    assert sorted(s for s, _ in perm) == list(range(9)) and all(s != t for s, t in perm)


def test_inconsistent_rendered_inputs_are_a_render_error(tmp_path, monkeypatch):
    import eoesim.simulators.rapidchiplet as adapter

    original = adapter.routing_table

    def broken(pkg, algorithm):
        table = original(pkg, algorithm)
        del table["table"][("chiplet", 0)][("chiplet", 3)]
        return table

    monkeypatch.setattr(adapter, "routing_table", broken)
    with pytest.raises(RenderError, match=r"no next hop from \('chiplet', 0\) to \('chiplet', 3\)"):
        render(tmp_path)


def test_experiment_route_renders_one_design_like_the_sample(tmp_path, golden):
    sim, point, files = render(tmp_path, route="experiment", booksim={"enabled": True})
    exp = json.loads((tmp_path / EXPERIMENT_FILE).read_text())
    sample = json.loads((golden / "rapidchiplet/booksim/experiment_sample_exp_2x2.json").read_text())
    assert exp["exp_name"] == json.loads((tmp_path / RUN_META).read_text())["design_name"]
    for key in ("exp_name", "technologies_file", "packaging_file", "booksim_config_file"):
        del exp[key], sample[key]
    assert exp == sample  # same parameters, every list of one element -> exactly one design
    assert sim.argv(tmp_path) == ["python3", SEEDED_RUN, "run_experiment.py", "-e", EXPERIMENT_FILE]
    assert "SEED = 0" in (tmp_path / SEEDED_RUN).read_text()
    hexa = make_point(seed=3, route="experiment", topology="hexamesh", hex_radius=2, traffic={"pattern": "hotspot"})
    sim.render(hexa, tmp_path / "hex")
    exp = json.loads((tmp_path / "hex" / EXPERIMENT_FILE).read_text())
    assert exp["hex_scale"] == [2] and "grid_scale" not in exp and exp["traffic_pattern"] == ["hotspot"]
    assert exp["metrics"] == ["area_summary", "power_summary", "link_summary", "cost", "latency", "throughput"]
    assert "SEED = 3" in (tmp_path / "hex" / SEEDED_RUN).read_text()


def test_argv_of_the_design_route(tmp_path):
    sim = get_simulator("rapidchiplet", {"python": "/opt/py/bin/python"})
    point = make_point(booksim={"enabled": True})
    sim.render(point, tmp_path / "a")
    name = json.loads((tmp_path / "a" / DESIGN_FILE).read_text())["design_name"]
    assert sim.argv(tmp_path / "a") == ["/opt/py/bin/python", "rapidchiplet.py", "-df", DESIGN_FILE, "-rf", name,
                                  "-as", "-ps", "-ls", "-c", "-l", "-t", "-bs"]
    other = tmp_path / "b"
    sim.render(make_point(grid=[3, 3]), other)
    assert json.loads((other / DESIGN_FILE).read_text())["design_name"] != name


def fake_checkout(root, booksim=True):
    for rel in MODULES + ((BOOKSIM_BINARY,) if booksim else ()):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("# stand-in file of a RapidChiplet checkout (tests only)\n")
    return root


def test_each_run_directory_is_a_private_working_copy(tmp_path):
    checkout = fake_checkout(tmp_path / "checkout")
    sim = get_simulator("rapidchiplet", {"checkout": str(checkout)})
    point = make_point(booksim={"enabled": True})
    for run in ("a", "b"):
        sim.render(point, tmp_path / run)
    for run in ("a", "b"):
        rundir = tmp_path / run
        for rel in MODULES + (BOOKSIM_BINARY,):
            assert (rundir / rel).is_symlink() and os.readlink(rundir / rel) == f"{checkout.resolve()}/{rel}"
        for rel in WRITABLE_DIRS:
            assert (rundir / rel).is_dir() and not (rundir / rel).is_symlink()
    assert not (checkout / "results").exists()
    avail = sim.availability()
    assert avail.available and avail.version == "unknown commit" and "BookSim built" in avail.detail
    ident = sim.identity()
    assert ident["mode"] == "native" and ident["checkout"] == str(checkout.resolve())
    assert len(ident["booksim_sha256"]) == 64


def test_resources_grow_with_the_booksim_sweep():
    sim = get_simulator("rapidchiplet", {})
    assert sim.resources(make_point()).runtime_min == 5
    small = sim.resources(make_point(booksim={"enabled": True}))
    big = sim.resources(make_point(grid=[8, 8], booksim={"enabled": True}))
    assert 10 <= small.runtime_min < big.runtime_min


def test_docker_links_point_into_the_image(tmp_path):
    sim = get_simulator("rapidchiplet", {"mode": "docker", "image": "rc:1", "container_checkout": "/opt/rc"})
    sim.render(make_point(), tmp_path)
    assert os.readlink(tmp_path / "rapidchiplet.py") == "/opt/rc/rapidchiplet.py"
    assert sim.argv(tmp_path)[0] == "python3"
    cmd = sim.runner().command(sim.argv(tmp_path), tmp_path)
    assert cmd[:2] == ["docker", "run"] and "rc:1" in cmd and "PYTHONDONTWRITEBYTECODE=1" in cmd


def test_missing_booksim_or_checkout(tmp_path):
    checkout = fake_checkout(tmp_path / "checkout", booksim=False)
    sim = get_simulator("rapidchiplet", {"checkout": str(checkout)})
    sim.render(make_point(), tmp_path / "analytic")  # analytic runs do not need BookSim
    with pytest.raises(SimulatorUnavailableError, match="booksim2/src/booksim.*make in booksim2/src"):
        sim.render(make_point(booksim={"enabled": True}), tmp_path / "bs")
    assert "BookSim NOT built" in sim.availability().detail
    absent = get_simulator("rapidchiplet", {}).availability()
    assert not absent.available and "rapidchiplet.checkout" in absent.detail
    broken = get_simulator("rapidchiplet", {"checkout": str(tmp_path / "nowhere")}).availability()
    assert not broken.available and "rapidchiplet.py" in broken.detail
