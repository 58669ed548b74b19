"""The on-chip SRAMs of one compute chiplet as CACTI models them: the CACTI adapter's point parameters.

A chiplet has three scratchpads (ifmap, filter, ofmap of ``hardware.chiplet.sram_kib``; CACTI ``ram``: no
tag array, direct mapped) and any cache of ``workload.cacti.caches`` (CACTI ``cache``). Every SRAM gets
the study's block size, banks and ports unless a cache sets its own; all share the chiplet's technology
node (``hardware.chiplet.technology_nm``), cell and peripheral transistor types and temperature.

CACTI checks an organisation only when it runs (and then exits 0 after printing the problem), so the rules
it applies are checked here first, before any job: banks, ways and block sizes powers of two, at least
one port, at least 64 bytes per bank (CACTI 7 ``io.cc`` ``InputParameter::error_checking``) and more than
16 sets (block-sized rows times ways) per bank: with 16 or fewer, every one of the 25 such SRAMs of the
calibration grid (analysis/calibration/cacti) ended in "ERROR: no valid data array organizations found",
and every one with 32 or more was organised.
"""
from __future__ import annotations

from typing import Any, Mapping

from eoesim.errors import ConfigError

SCRATCHPADS = ("ifmap", "filter", "ofmap")
KIB = 1024
#: CACTI's smallest SRAM per bank, bytes
MIN_BANK_BYTES = 64
#: sets per bank CACTI 7 organises: more than this (measured, see the module docstring)
MAX_UNORGANISED_SETS = 16


def _power_of_two(value: int) -> bool:
    return value >= 1 and value & (value - 1) == 0


def _fail(key: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{key}: {value!r} is not allowed; allowed: {allowed}")


def _check_sram(sram: Mapping[str, Any], where: str) -> None:
    for field in ("block_bytes", "banks", "associativity"):
        if not _power_of_two(sram[field]):
            _fail(f"{where}.{field}", sram[field], "a power of 2 (CACTI refuses other values)")
    per_bank = sram["size_bytes"] // sram["banks"]
    if per_bank < MIN_BANK_BYTES:
        _fail(f"{where}.banks", sram["banks"], f"at most {max(1, sram['size_bytes'] // MIN_BANK_BYTES)} banks "
              f"(CACTI needs >= {MIN_BANK_BYTES} bytes per bank)")
    sets = per_bank // (sram["block_bytes"] * sram["associativity"])
    if sets <= MAX_UNORGANISED_SETS:
        _fail(f"{where}", f"{sram['size_bytes']} B / {sram['banks']} bank(s) / {sram['block_bytes']} B blocks / "
              f"{sram['associativity']} way(s) = {sets} set(s) per bank",
              f"more than {MAX_UNORGANISED_SETS} sets per bank: a larger SRAM, or fewer banks, ways or bytes per "
              "block (CACTI finds no organisation of fewer)")


def sram_point(chiplet: Mapping[str, Any], wl: Mapping[str, Any]) -> dict[str, Any]:
    """CACTI's point for one chiplet (``hardware.chiplet`` and ``workload.cacti``, validated, defaults filled)."""
    ports = {"rw_ports": wl["rw_ports"], "read_ports": wl["read_ports"], "write_ports": wl["write_ports"]}
    if sum(ports.values()) < 1:
        _fail("workload.cacti.rw_ports/read_ports/write_ports", ports, "at least one port in all")
    srams = []
    for name in SCRATCHPADS:
        srams.append({"name": name, "kind": "scratchpad", "size_bytes": int(chiplet["sram_kib"][name]) * KIB,
                      "block_bytes": wl["block_bytes"], "associativity": 1, "banks": wl["banks"], **ports})
        _check_sram(srams[-1], f"hardware.chiplet.sram_kib.{name} with workload.cacti")
    for i, cache in enumerate(wl["caches"]):
        where = f"workload.cacti.caches[{i}]"
        if cache["name"] in [s["name"] for s in srams]:
            _fail(f"{where}.name", cache["name"], f"a name other than {[s['name'] for s in srams]}")
        srams.append({"name": cache["name"], "kind": "cache", "size_bytes": int(cache["size_kib"]) * KIB,
                      "block_bytes": cache["block_bytes"] or wl["block_bytes"],
                      "associativity": cache["associativity"], "banks": cache["banks"] or wl["banks"], **ports})
        _check_sram(srams[-1], where)
    return {"technology_nm": int(chiplet["technology_nm"]), "cell_type": wl["cell_type"],
            "peripheral_type": wl["peripheral_type"], "temperature_k": int(wl["temperature_k"]), "srams": srams}
