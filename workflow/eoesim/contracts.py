"""The contract a simulator image must meet (external/simulators.yaml, ``image_check``), checked for real.

Each check is a command run inside the configured image (``docker run --rm --network none
--entrypoint "" IMAGE CMD...``) that must exit 0; ``{key}`` in a command is the simulator's site-config
value (e.g. ``{binary}``), and a check whose key is not set fails saying which key to set.
"""
from __future__ import annotations

import string
import subprocess
from dataclasses import dataclass
from typing import Any, Mapping

import yaml

from eoesim.errors import ConfigError
from eoesim.paths import project_root

CHECK_TIMEOUT_S = 120


@dataclass(frozen=True)
class ContractCheck:
    command: tuple[str, ...]
    ok: bool
    detail: str


def load_contracts() -> dict[str, Any]:
    return yaml.safe_load((project_root() / "external" / "simulators.yaml").read_text())


def _fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def check_image(simulator: str, site: Mapping[str, Any], docker: str = "docker") -> list[ContractCheck]:
    """Run every ``image_check`` of ``simulator`` inside ``site['image']``."""
    contract = load_contracts().get(simulator)
    if contract is None or "image_check" not in contract:
        raise ConfigError(f"external/simulators.yaml: no image_check for {simulator!r}")
    image = site.get("image")
    if not image:
        raise ConfigError(f"{simulator}.image: not set; set it in the site config to check an image")
    results = []
    for raw in contract["image_check"]:
        missing = sorted({f for part in raw for f in _fields(part) if site.get(f) in (None, "")})
        if missing:
            results.append(ContractCheck(tuple(raw), False, f"set {', '.join(f'{simulator}.{m}' for m in missing)}"))
            continue
        cmd = tuple(part.format(**site) for part in raw)
        try:
            proc = subprocess.run([docker, "run", "--rm", "--network", "none", "--entrypoint", "", image, *cmd],
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=CHECK_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            results.append(ContractCheck(cmd, False, str(exc)))
            continue
        detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        results.append(ContractCheck(cmd, proc.returncode == 0,
                                     "ok" if proc.returncode == 0 else f"exit {proc.returncode}: "
                                     + (detail[-1] if detail else "")))
    return results
