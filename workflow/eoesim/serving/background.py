"""Work that shares the package with the serving load (e.g. a co-located training job).

The serving engine takes a ``BackgroundLoad`` as given: on a chiplet with busy fraction ``f`` the
background job holds ``f`` of the chiplet's time (a fixed time-slice share), so every serving iteration
there takes ``1 / (1 - f)`` times as long; each ``device_bytes_per_s`` entry is a steady stream on that
device (an HBM stack, ``ddr``, ``ssd`` or a package link) that takes its bandwidth from the serving
transfers sharing it. Whoever produces the load (the training model) reports what it achieves with the
share it was given.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from eoesim.errors import ConfigError


@dataclass(frozen=True)
class BackgroundLoad:
    chiplet_busy_fraction: Mapping[int, float] = field(default_factory=dict)  # chiplet id -> share in [0, 1)
    device_bytes_per_s: Mapping[str, float] = field(default_factory=dict)  # device name -> bytes/s streamed
    label: str = "background"

    def __post_init__(self) -> None:
        for chip, f in self.chiplet_busy_fraction.items():
            if not 0.0 <= float(f) < 1.0:
                raise ConfigError(f"{self.label}: chiplet {chip} busy fraction {f} is not allowed; "
                                  "allowed: a number in [0, 1)")
        for dev, bps in self.device_bytes_per_s.items():
            if float(bps) < 0.0:
                raise ConfigError(f"{self.label}: device {dev!r} stream {bps} B/s is not allowed; allowed: >= 0")

    def slowdown(self, chiplet: int) -> float:
        """Factor by which serving compute on ``chiplet`` is stretched."""
        return 1.0 / (1.0 - float(self.chiplet_busy_fraction.get(chiplet, 0.0)))
