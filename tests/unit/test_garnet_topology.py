"""The rendered chiplet topology module and the gem5 configs overlay it is loaded from.

gem5's Python (m5) is not installed here, so these tests build a FAKE gem5 configs tree in tmp_path whose
``topologies/BaseTopology.py`` is a minimal stand-in for gem5's ``SimpleTopology`` (constructor taking the
controller list), and pass fake Router/IntLink/ExtLink classes that only record their keyword arguments.
They then load the rendered module exactly as gem5's configs/ruby/Ruby.py ``create_topology`` does
(``import topologies.<name> as Topo``; ``Topo.<name>(controllers)``; ``makeTopology(options, network,
IntLink, ExtLink, Router)``) through the overlay the adapter builds in the run directory.
"""
from __future__ import annotations

import os
import py_compile
import sys
from types import SimpleNamespace

import pytest

from eoesim.errors import RenderError
from eoesim.schema import load_schema, validate_against
from eoesim.simulators.garnet import Garnet, resolve_point
from eoesim.simulators.garnet_topology import CHIPLET_TOPOLOGY, OVERLAY_DIR, ChipletMesh

FAKE_BASE_TOPOLOGY = '''"""Test stand-in for gem5's configs/topologies/BaseTopology.py (not gem5 code)."""
class BaseTopology:
    description = "BaseTopology"


class SimpleTopology(BaseTopology):
    description = "SimpleTopology"

    def __init__(self, controllers):
        self.nodes = controllers
'''


@pytest.fixture
def fake_configs(tmp_path):
    """A fake gem5 configs/ tree with the entries the overlay links (no gem5 code)."""
    root = tmp_path / "gem5" / "configs"
    for pkg in ("common", "ruby", "network", "topologies", "example"):
        (root / pkg).mkdir(parents=True)
    for pkg in ("common", "ruby", "network", "topologies"):
        (root / pkg / "__init__.py").write_text("")
    (root / "topologies" / "BaseTopology.py").write_text(FAKE_BASE_TOPOLOGY)
    (root / "example" / "garnet_synth_traffic.py").write_text("# stand-in for gem5's script; never run\n")
    return root


class Recorder:
    """Fake gem5 SimObject class: keeps the keyword arguments it was created with."""

    def __init__(self, **kwargs):
        self.kw = kwargs


class FakeRouter(Recorder):
    pass


class FakeIntLink(Recorder):
    pass


class FakeExtLink(Recorder):
    pass


def garnet_point(**workload):
    wl = validate_against(workload, load_schema()["properties"]["workload"]["properties"]["garnet"], "test", "garnet")
    return resolve_point(wl)


def load_like_gem5(overlay, controllers):
    """Do what gem5's Ruby.create_topology + create_system do with --topology=EoeChipletMesh."""
    for mod in [m for m in sys.modules if m == "topologies" or m.startswith("topologies.")]:
        del sys.modules[mod]
    sys.path.insert(0, str(overlay))
    try:
        scope: dict = {"controllers": controllers}
        exec(f"import topologies.{CHIPLET_TOPOLOGY} as Topo", scope)
        topology = eval(f"Topo.{CHIPLET_TOPOLOGY}(controllers)", scope)
        network = SimpleNamespace()
        topology.makeTopology(SimpleNamespace(), network, FakeIntLink, FakeExtLink, FakeRouter)
        return scope["Topo"], topology, network
    finally:
        sys.path.remove(str(overlay))
        for mod in [m for m in sys.modules if m == "topologies" or m.startswith("topologies.")]:
            del sys.modules[mod]


def controllers(n_routers):
    l1 = [SimpleNamespace(type="L1Cache_Controller", i=i) for i in range(n_routers)]
    dirs = [SimpleNamespace(type="Directory_Controller", i=i) for i in range(n_routers)]
    return l1 + dirs


def expected_chiplet(router, cols, rpc_rows, rpc_cols, chiplet_cols):
    row, col = divmod(router, cols)
    return (row // rpc_rows) * chiplet_cols + col // rpc_cols


def render_chiplet(tmp_path, fake_configs, **package):
    point = garnet_point(topology="chiplet_mesh", router_latency_cycles=2, link_latency_cycles=1,
                         link_width_bits=128, chiplet_mesh=package)
    rundir = tmp_path / "run"
    rundir.mkdir()
    files = Garnet({"configs": str(fake_configs)}).render(point, rundir)
    return point, rundir, files


def test_rendered_module_loads_like_gem5_with_package_counts_and_latencies(tmp_path, fake_configs):
    point, rundir, files = render_chiplet(
        tmp_path, fake_configs, chiplets=[2, 2], routers_per_chiplet=[2, 2],
        interposer_link_latency_cycles=4, interposer_link_width_bits=128,
    )
    module_path = rundir / OVERLAY_DIR / "topologies" / f"{CHIPLET_TOPOLOGY}.py"
    assert module_path in files
    py_compile.compile(str(module_path), doraise=True)

    nodes = controllers(16)
    module, topology, network = load_like_gem5(rundir / OVERLAY_DIR, nodes)
    assert module.__file__ == str(module_path)
    assert type(topology).__name__ == CHIPLET_TOPOLOGY
    assert topology.description == CHIPLET_TOPOLOGY
    assert type(topology).__mro__[1].__name__ == "SimpleTopology"

    # 2x2 chiplets of 2x2 routers = a 4x4 router mesh
    assert [r.kw["router_id"] for r in network.routers] == list(range(16))
    assert {r.kw["latency"] for r in network.routers} == {2}
    # every controller (16 L1 + 16 directories) on router i % 16, over NI links of the on-chip latency
    assert len(network.ext_links) == 32
    assert [network.routers.index(e.kw["int_node"]) for e in network.ext_links] == [i % 16 for i in range(32)]
    assert [e.kw["ext_node"] for e in network.ext_links] == nodes
    assert {e.kw["latency"] for e in network.ext_links} == {1}

    links = network.int_links
    assert len(links) == 2 * 2 * 4 * 3  # 4x4 mesh: 24 bidirectional neighbour pairs
    ids = [ln.kw["link_id"] for ln in list(network.ext_links) + list(links)]
    assert ids == list(range(len(ids)))
    interposer = onchip = 0
    for ln in links:
        src = network.routers.index(ln.kw["src_node"])
        dst = network.routers.index(ln.kw["dst_node"])
        step = {"East": 1, "West": -1, "North": 4, "South": -4}[ln.kw["src_outport"]]
        assert dst - src == step
        assert ln.kw["dst_inport"] == {"East": "West", "West": "East", "North": "South", "South": "North"}[
            ln.kw["src_outport"]]
        assert ln.kw["weight"] == (1 if ln.kw["src_outport"] in ("East", "West") else 2)
        crosses = expected_chiplet(src, 4, 2, 2, 2) != expected_chiplet(dst, 4, 2, 2, 2)
        assert ln.kw["latency"] == (4 if crosses else 1)
        assert "width" not in ln.kw and "src_serdes" not in ln.kw  # same width as the routers
        interposer += crosses
        onchip += not crosses
    assert (onchip, interposer) == (4 * 8, 16)
    # router 1 (chiplet 0) -> 2 (chiplet 1) and 4 (chiplet 0) -> 8 (chiplet 2) cross the interposer;
    # 0 -> 1 and 0 -> 4 stay on chiplet 0
    latency = {(network.routers.index(ln.kw["src_node"]), network.routers.index(ln.kw["dst_node"])): ln.kw["latency"]
               for ln in links}
    assert latency[(1, 2)] == 4 and latency[(4, 8)] == 4 and latency[(9, 5)] == 4
    assert latency[(0, 1)] == 1 and latency[(0, 4)] == 1 and latency[(15, 11)] == 1


def test_interposer_width_differs_enables_serdes_in_gem5_byte_units(tmp_path, fake_configs):
    _, rundir, _ = render_chiplet(
        tmp_path, fake_configs, chiplets=[2, 4], routers_per_chiplet=[4, 2],
        interposer_link_latency_cycles=7, interposer_link_width_bits=64,
    )
    _, _, network = load_like_gem5(rundir / OVERLAY_DIR, controllers(64))
    assert len(network.routers) == 64
    rows = cols = 8
    assert len(network.int_links) == 2 * (rows * (cols - 1) + cols * (rows - 1))
    crossing = [ln for ln in network.int_links if ln.kw["latency"] == 7]
    # 3 vertical chiplet edges x 8 rows + 1 horizontal edge x 8 cols, both directions
    assert len(crossing) == 2 * (3 * 8 + 1 * 8)
    for ln in crossing:
        assert ln.kw["width"] == 8  # 64 bits = 8 bytes (gem5's width unit is the flit size in bytes)
        assert ln.kw["src_serdes"] is True and ln.kw["dst_serdes"] is True
    for ln in network.int_links:
        if ln.kw["latency"] != 7:
            assert "width" not in ln.kw


def test_module_rejects_controllers_that_do_not_spread_evenly(tmp_path, fake_configs):
    _, rundir, _ = render_chiplet(tmp_path, fake_configs, chiplets=[1, 2], routers_per_chiplet=[2, 2])
    with pytest.raises(ValueError, match="cannot be spread evenly over 8 routers"):
        load_like_gem5(rundir / OVERLAY_DIR, controllers(8)[:-3])


def test_geometry_matches_template_context():
    geom = ChipletMesh(2, 2, 2, 2, 1, 1, 128, 4, 256)
    ctx = geom.template_context()
    assert ctx["num_routers"] == 16 and ctx["mesh_rows"] == 4 and ctx["router_width_bytes"] == 16
    assert ctx["router_chiplet"] == [0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3]
    kinds = [ln["kind"] for ln in ctx["int_links"]]
    assert kinds.count("interposer") == 16 and kinds.count("onchip") == 32
    assert all(ln["serdes"] and ln["width_bytes"] == 32 for ln in ctx["int_links"] if ln["kind"] == "interposer")


def test_overlay_is_importable_the_way_gem5_add_to_path_resolves_it(tmp_path, fake_configs):
    point = garnet_point()  # Mesh_XY: only the args file is rendered, the overlay is still used
    rundir = tmp_path / "run"
    rundir.mkdir()
    files = Garnet({"configs": str(fake_configs)}).render(point, rundir)
    assert [f.name for f in files] == ["garnet_synth_traffic.args"]
    overlay = rundir / OVERLAY_DIR
    script = overlay / "example" / "garnet_synth_traffic.py"
    assert script.is_symlink() and script.resolve() == (fake_configs / "example" / "garnet_synth_traffic.py")
    # gem5: sys.path[0] = dirname(script); addToPath("../") inserts realpath(sys.path[0] + "/../")
    assert os.path.realpath(os.path.join(os.path.dirname(str(script)), "../")) == str(overlay.resolve())
    assert not (overlay / "example").is_symlink() and not (overlay / "topologies").is_symlink()
    for pkg in ("common", "ruby", "network"):
        assert (overlay / pkg).is_symlink() and (overlay / pkg).resolve() == fake_configs / pkg
    assert (overlay / "topologies" / "BaseTopology.py").resolve() == fake_configs / "topologies" / "BaseTopology.py"
    assert not (overlay / "topologies" / f"{CHIPLET_TOPOLOGY}.py").exists()


def test_docker_overlay_links_fixed_entries_inside_the_image(tmp_path):
    point = garnet_point(topology="chiplet_mesh")
    rundir = tmp_path / "run"
    rundir.mkdir()
    Garnet({"mode": "docker", "configs": "/opt/gem5/configs", "image": "gem5:test"}).render(point, rundir)
    overlay = rundir / OVERLAY_DIR
    assert os.readlink(overlay / "ruby") == "/opt/gem5/configs/ruby"
    assert os.readlink(overlay / "topologies" / "Mesh_XY.py") == "/opt/gem5/configs/topologies/Mesh_XY.py"
    assert os.readlink(overlay / "example" / "garnet_synth_traffic.py") == \
        "/opt/gem5/configs/example/garnet_synth_traffic.py"
    assert (overlay / "topologies" / f"{CHIPLET_TOPOLOGY}.py").is_file()


def test_render_without_configs_names_the_site_key(tmp_path):
    with pytest.raises(RenderError, match=r"set garnet\.configs"):
        Garnet({}).render(garnet_point(), tmp_path)


def test_render_with_wrong_configs_dir_names_the_site_key(tmp_path):
    (tmp_path / "notconfigs").mkdir()
    with pytest.raises(RenderError, match=r"garnet_synth_traffic\.py does not exist; set garnet\.configs"):
        Garnet({"configs": str(tmp_path / "notconfigs")}).render(garnet_point(), tmp_path)
