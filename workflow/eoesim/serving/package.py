"""The package as the serving engine sees it: devices that carry bytes and the routes between them.

Devices (each one ``Fluid`` device with a capacity and a latency-vs-utilization curve):

- one per HBM stack (``hardware.memory.hbm.stacks``): each stack serves a set of chiplets
  (``hardware.memory.hbm.serves``, default: the grid cut into ``stacks`` rectangular blocks) that reach
  it without crossing a package link (it sits beside them on the interposer); a chiplet reading another
  stack crosses the links from the nearest chiplet that stack serves;
- ``ddr``: the DDR channels, attached at ``hardware.memory.ddr.attach_chiplet`` (the package's I/O
  edge); the SSD hangs off the same host interface;
- ``ssd``;
- one per direction of every link between adjacent chiplets (mesh, or torus with its wrap links),
  routed dimension-order (X then Y).

A transfer's path is the ordered devices it crosses: e.g. an expert load DDR -> HBM stack 2 is
``ddr``, the links from the DDR's chiplet to stack 2's nearest chiplet, then ``hbm2``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from eoesim.eoe.hardware import Hardware
from eoesim.errors import ConfigError
from eoesim.stitch.components import LoadCurve


@dataclass(frozen=True)
class Device:
    name: str
    kind: str  # hbm | ddr | ssd | link
    curve: LoadCurve


def stack_regions(rows: int, cols: int, stacks: int, serves: Sequence[Sequence[int]] | None,
                  path: str = "hardware.memory.hbm") -> list[tuple[int, ...]]:
    """The chiplets each HBM stack serves: ``serves`` when given (every chiplet exactly once), else the grid
    cut into ``sr x sc = stacks`` blocks (the factorisation closest to the grid's aspect ratio)."""
    n = rows * cols
    if serves:
        if len(serves) != stacks:
            raise ConfigError(f"{path}.serves: {len(serves)} lists for {stacks} stacks; allowed: one list of "
                              "chiplet ids per stack")
        seen: dict[int, int] = {}
        for i, group in enumerate(serves):
            for c in group:
                if not 0 <= int(c) < n:
                    raise ConfigError(f"{path}.serves[{i}]: chiplet {c} is not allowed; allowed: 0..{n - 1}")
                if int(c) in seen:
                    raise ConfigError(f"{path}.serves[{i}]: chiplet {c} is already served by stack {seen[int(c)]}; "
                                      "allowed: every chiplet in exactly one list")
                seen[int(c)] = i
        missing = sorted(set(range(n)) - set(seen))
        if missing:
            raise ConfigError(f"{path}.serves: chiplets {missing} are served by no stack; allowed: every chiplet "
                              "in exactly one list")
        return [tuple(sorted(int(c) for c in g)) for g in serves]
    best = None
    for sr in range(1, stacks + 1):
        if stacks % sr:
            continue
        sc = stacks // sr
        if sr <= rows and sc <= cols:
            score = abs(rows / sr - cols / sc)
            if best is None or score < best[0]:
                best = (score, sr, sc)
    if best is None:
        raise ConfigError(f"{path}.stacks: {stacks} stacks cannot split a {rows}x{cols} grid into blocks; allowed: "
                          f"a count with a factorisation sr x sc (sr <= {rows}, sc <= {cols}), or give {path}.serves")
    _, sr, sc = best
    regions: list[list[int]] = [[] for _ in range(stacks)]
    for c in range(n):
        r, k = divmod(c, cols)
        regions[(r * sr // rows) * sc + (k * sc // cols)].append(c)
    return [tuple(g) for g in regions]


class Package:
    """Devices, routes and stack membership of one design point's hardware."""

    def __init__(self, hw: Hardware, memory_cfg: Mapping[str, Any], hbm_curve: LoadCurve, ddr_curve: LoadCurve,
                 ssd_curve: LoadCurve, link_curve: LoadCurve) -> None:
        self.hw = hw
        hbm = memory_cfg.get("hbm") or {}
        ddr = memory_cfg.get("ddr") or {}
        self.n_stacks = int(hbm.get("stacks") or 1)
        if self.n_stacks < 1:
            raise ConfigError(f"hardware.memory.hbm.stacks: {self.n_stacks} is not allowed; allowed: an integer >= 1")
        self.regions = stack_regions(hw.grid_rows, hw.grid_cols, self.n_stacks, hbm.get("serves"))
        self.stack_of = [0] * hw.n_chiplets
        for s, group in enumerate(self.regions):
            for c in group:
                self.stack_of[c] = s
        self.stack_capacity_bytes = hw.hbm.capacity_bytes  # per stack
        self.ddr_chiplet = int(ddr.get("attach_chiplet") or 0)
        if not 0 <= self.ddr_chiplet < hw.n_chiplets:
            raise ConfigError(f"hardware.memory.ddr.attach_chiplet: {self.ddr_chiplet} is not allowed; allowed: "
                              f"0..{hw.n_chiplets - 1}")
        self.devices: list[Device] = [Device(f"hbm{s}", "hbm", hbm_curve) for s in range(self.n_stacks)]
        self.DDR = len(self.devices)
        self.devices.append(Device("ddr", "ddr", ddr_curve))
        self.SSD = len(self.devices)
        self.devices.append(Device("ssd", "ssd", ssd_curve))
        self.link: dict[tuple[int, int], int] = {}
        for a in range(hw.n_chiplets):
            for b in self._neighbours(a):
                self.link[(a, b)] = len(self.devices)
                self.devices.append(Device(f"link {a}->{b}", "link", link_curve))
        self._routes: dict[tuple[int, int], tuple[int, ...]] = {}

    def _neighbours(self, a: int) -> list[int]:
        hw = self.hw
        r, c = hw.coords(a)
        out = []
        for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            rr, cc = r + dr, c + dc
            if hw.topology == "torus":
                rr, cc = rr % hw.grid_rows, cc % hw.grid_cols
            if 0 <= rr < hw.grid_rows and 0 <= cc < hw.grid_cols:
                b = rr * hw.grid_cols + cc
                if b != a and b not in out:
                    out.append(b)
        return out

    def stack_device(self, stack: int) -> int:
        return stack

    def route(self, a: int, b: int) -> tuple[int, ...]:
        """Link devices from chiplet ``a`` to ``b``, X (columns) first, then Y (rows); shortest way round on
        a torus."""
        key = (a, b)
        r = self._routes.get(key)
        if r is None:
            hw = self.hw
            path: list[int] = []
            (ra, ca), (rb, cb) = hw.coords(a), hw.coords(b)
            torus = hw.topology == "torus"
            pos = [ra, ca]
            for axis, size, target in ((1, hw.grid_cols, cb), (0, hw.grid_rows, rb)):
                if torus:
                    fwd = (target - pos[axis]) % size
                    step = 1 if fwd <= size - fwd else -1
                else:
                    step = 1 if target > pos[axis] else -1
                while pos[axis] != target:
                    src = pos[0] * hw.grid_cols + pos[1]
                    pos[axis] = (pos[axis] + step) % size if torus else pos[axis] + step
                    path.append(self.link[(src, pos[0] * hw.grid_cols + pos[1])])
            r = self._routes[key] = tuple(path)
        return r

    def hops(self, a: int, b: int) -> int:
        return len(self.route(a, b))

    def nearest_served(self, stack: int, chiplet: int) -> int:
        """The chiplet served by ``stack`` nearest to ``chiplet`` (itself when it is served)."""
        group = self.regions[stack]
        if chiplet in group:
            return chiplet
        return min(group, key=lambda c: (self.hops(chiplet, c), c))

    def stack_path(self, stack: int, chiplet: int) -> tuple[int, ...]:
        """Devices a chiplet crosses to read from a stack: the stack, then the links to the chiplet."""
        return (stack,) + self.route(self.nearest_served(stack, chiplet), chiplet)

    def ddr_to_stack(self, stack: int) -> tuple[int, ...]:
        """An expert copy DDR -> HBM stack: DDR, the links to the stack's nearest chiplet, the stack."""
        return (self.DDR,) + self.route(self.ddr_chiplet, self.nearest_served(stack, self.ddr_chiplet)) + (stack,)

    def stack_to_stack(self, src: int, dst: int) -> tuple[int, ...]:
        """A KV move between stacks: read ``src``, the links between their nearest chiplets, write ``dst``."""
        a = self.regions[src][0]
        b = self.nearest_served(dst, a)
        a = self.nearest_served(src, b)
        return (src,) + self.route(a, b) + (dst,)

    def stack_to_ddr(self, stack: int) -> tuple[int, ...]:
        return (stack,) + self.route(self.nearest_served(stack, self.ddr_chiplet), self.ddr_chiplet) + (self.DDR,)

    def link_devices(self) -> list[int]:
        return sorted(self.link.values())
