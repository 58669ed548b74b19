"""The chiplet package as a Garnet network, and the configs overlay that lets gem5 import it.

Geometry. ``chiplet_mesh`` is a grid of chiplets, each a mesh of routers. All routers form one global
row-major 2D mesh (router id = row * cols + col), so gem5's XY routing (which needs ``num_rows`` and
row-major ids) works on it. Links between neighbours of the same chiplet are on-chip links; links that
cross a chiplet edge are interposer links with their own latency and width. Link order, port names and
weights follow gem5's Mesh_XY (East/West weight 1, North/South weight 2, North = next row), so the
weight-based table routing is XY as well and deadlock-free.

Width. Garnet's router/link ``width`` parameter is documented as "bit width" but holds BYTES (it
defaults to ``ni_flit_size`` = --link-width-bits / 8, and the NI cuts messages into ceil(bytes / width)
flits). An interposer link whose width differs from the routers' gets ``src_serdes``/``dst_serdes``,
which makes gem5's NetworkBridge (HeteroGarnet) serialise/deserialise flits at both ends (each bridge
adds gem5's default serdes latency of 1 cycle).

Loading. gem5's Ruby.create_topology does ``import topologies.<name> as Topo`` and instantiates
``Topo.<name>(controllers)``: the module must live in the ``topologies`` package of the configs tree the
script was started from, and its class must be named like the module. ``topologies`` is a regular
package (it has ``__init__.py``), so a second directory on PYTHONPATH (or gem5's ``-p``) cannot add to
it. Instead the run directory gets an overlay ``gem5_configs/`` whose entries are symlinks into gem5's
configs dir, except ``example/`` and ``topologies/``, which are real directories (of symlinks plus the
rendered module). They must be real: gem5's ``addToPath("../")`` takes ``realpath(dirname(script) +
"/..")``, which would lead back into the original tree if ``example`` were a symlinked directory.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from eoesim.errors import RenderError

#: module and class name of the rendered topology (gem5 needs both equal)
CHIPLET_TOPOLOGY = "EoeChipletMesh"
OVERLAY_DIR = "gem5_configs"
SCRIPT = "example/garnet_synth_traffic.py"
#: what the overlay links when gem5's configs dir cannot be listed (docker: it is inside the image);
#: the packages garnet_synth_traffic.py imports, and the topology modules of gem5 v24.0.0.1
FIXED_TOP_LEVEL = ("common", "network", "ruby")
FIXED_TOPOLOGIES = (
    "__init__.py", "BaseTopology.py", "Cluster.py", "Crossbar.py", "CrossbarGarnet.py", "CustomMesh.py",
    "MeshDirCorners_XY.py", "Mesh_XY.py", "Mesh_westfirst.py", "Pt2Pt.py",
)


@dataclass(frozen=True)
class IntLink:
    """One unidirectional router-to-router link as the topology module will create it."""

    src: int
    dst: int
    src_outport: str
    dst_inport: str
    latency_cycles: int
    weight: int
    width_bits: int
    kind: str  # "onchip" | "interposer"


@dataclass(frozen=True)
class ChipletMesh:
    """A grid of chiplets of router meshes (all sizes as [rows, cols])."""

    chiplet_rows: int
    chiplet_cols: int
    router_rows: int  # per chiplet
    router_cols: int  # per chiplet
    router_latency_cycles: int
    link_latency_cycles: int
    link_width_bits: int
    interposer_link_latency_cycles: int
    interposer_link_width_bits: int

    @property
    def rows(self) -> int:
        return self.chiplet_rows * self.router_rows

    @property
    def cols(self) -> int:
        return self.chiplet_cols * self.router_cols

    @property
    def num_routers(self) -> int:
        return self.rows * self.cols

    def chiplet_of(self, router: int) -> int:
        """Row-major index of the chiplet that holds ``router``."""
        row, col = divmod(router, self.cols)
        return (row // self.router_rows) * self.chiplet_cols + col // self.router_cols

    def _link(self, src: int, dst: int, out: str, inp: str, weight: int) -> IntLink:
        if self.chiplet_of(src) == self.chiplet_of(dst):
            return IntLink(src, dst, out, inp, self.link_latency_cycles, weight, self.link_width_bits, "onchip")
        return IntLink(src, dst, out, inp, self.interposer_link_latency_cycles, weight,
                       self.interposer_link_width_bits, "interposer")

    def int_links(self) -> list[IntLink]:
        """Every unidirectional link, in Mesh_XY's order: E->W, W->E, N->S, S->N."""
        rows, cols = self.rows, self.cols
        links = []
        for row in range(rows):
            for col in range(cols - 1):
                links.append(self._link(row * cols + col, row * cols + col + 1, "East", "West", 1))
        for row in range(rows):
            for col in range(cols - 1):
                links.append(self._link(row * cols + col + 1, row * cols + col, "West", "East", 1))
        for col in range(cols):
            for row in range(rows - 1):
                links.append(self._link(row * cols + col, (row + 1) * cols + col, "North", "South", 2))
        for col in range(cols):
            for row in range(rows - 1):
                links.append(self._link((row + 1) * cols + col, row * cols + col, "South", "North", 2))
        return links

    def template_context(self) -> dict:
        """What templates/garnet/EoeChipletMesh.py.j2 needs (widths in gem5's byte units)."""
        router_width_bytes = self.link_width_bits // 8
        links = []
        for link in self.int_links():
            width_bytes = link.width_bits // 8
            links.append({
                "src": link.src, "dst": link.dst, "src_outport": link.src_outport, "dst_inport": link.dst_inport,
                "latency": link.latency_cycles, "weight": link.weight, "kind": link.kind,
                "width_bytes": width_bytes, "serdes": width_bytes != router_width_bytes,
            })
        return {
            "class_name": CHIPLET_TOPOLOGY,
            "chiplets": [self.chiplet_rows, self.chiplet_cols],
            "routers_per_chiplet": [self.router_rows, self.router_cols],
            "mesh_rows": self.rows,
            "mesh_cols": self.cols,
            "num_routers": self.num_routers,
            "router_chiplet": [self.chiplet_of(r) for r in range(self.num_routers)],
            "router_latency": self.router_latency_cycles,
            "ext_link_latency": self.link_latency_cycles,
            "router_width_bytes": router_width_bytes,
            "int_links": links,
        }


def _symlink(target: str, link: Path) -> None:
    link.symlink_to(target)


def build_overlay(rundir: Path, configs: str, listable: bool) -> Path:
    """Create ``rundir/gem5_configs`` mirroring gem5's ``configs`` dir by symlinks; return its path.

    ``configs`` is the configs dir as the gem5 process will see it (a host path natively, a path inside
    the image in docker mode). ``listable`` - the path is on this host: link every entry (so whatever the
    scripts import is there) and fail early when the script is missing; otherwise link the fixed set of
    packages garnet_synth_traffic.py needs.
    """
    overlay = Path(rundir) / OVERLAY_DIR
    (overlay / "example").mkdir(parents=True)
    (overlay / "topologies").mkdir()
    if listable:
        root = Path(configs)
        if not (root / SCRIPT).is_file():
            raise RenderError(
                f"garnet: {root / SCRIPT} does not exist; set garnet.configs in the site config to gem5's "
                "configs/ directory"
            )
        top = sorted(p.name for p in root.iterdir() if p.name not in ("example", "topologies"))
        topo = sorted(p.name for p in (root / "topologies").iterdir() if p.suffix == ".py")
    else:
        top, topo = list(FIXED_TOP_LEVEL), list(FIXED_TOPOLOGIES)
    for name in top:
        _symlink(os.path.join(configs, name), overlay / name)
    for name in topo:
        _symlink(os.path.join(configs, "topologies", name), overlay / "topologies" / name)
    _symlink(os.path.join(configs, SCRIPT), overlay / SCRIPT)
    return overlay
