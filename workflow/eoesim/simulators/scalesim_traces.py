"""SCALE-Sim v3 per-layer DRAM traces -> memory requests (cycle, byte address, read/write).

SCALE-Sim 3.0.0 with ``save_disk_space=False`` (``scalesim_driver --traces``) writes, per layer,
``<run>/layer<i>/{IFMAP,FILTER,OFMAP}_DRAM_TRACE.csv`` (and the three ``*_SRAM_TRACE.csv``; there are no
``*_dram_*_read.csv`` files in this version). Each DRAM-trace row is ``cycle, addr, addr, ...``: the cycle
(a float; reads of the first fold are prefetched before cycle 0, so read cycles can be negative) and the
word addresses moved between DRAM and the scratchpad in that cycle. IFMAP and FILTER rows are reads
(fills), OFMAP rows are writes (drains). Addresses are SCALE-Sim *word* addresses, with the operands at
the config's ``IfmapOffset`` / ``FilterOffset`` / ``OfmapOffset``. Rows are padded with ``-1`` - and, in
FILTER traces wider than the fill bandwidth, with ``1.0`` (3.0.0 pads its wider rows with ones; e.g. the
64x64 os ffn_up filter trace holds 262144 real words and 576892 ones). So an entry is an access only if
it lies in its operand's address range ``[own offset, next operand's offset)``; with that, the word
counts equal the ``DRAM * Reads/Writes`` of DETAILED_ACCESS_REPORT.csv.

Conversion to memory requests (:func:`dram_requests`), per operand:

1. byte address = word address x ``bytes_per_word``; line = byte address // ``line_bytes`` (64 B, the
   request size of Ramulator's DRAM standards);
2. a row requests each distinct line it touches, except lines the previous row of the same trace already
   requested (a one-row merge buffer: SCALE-Sim fills 10-ish consecutive words per cycle, so a 64 B line
   spans several rows and is fetched once; a line seen again after a gap is a real re-fetch and is
   requested again);
3. the request keeps the row's cycle (the layer's own timing: the spacing of the requests is SCALE-Sim's).

For a sequential fill every line is requested exactly once, i.e. requests = ceil(words x bytes_per_word /
64) - which the unit test checks on a real SCALE-Sim run.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from eoesim.errors import ParseError

OPERANDS = ("ifmap", "filter", "ofmap")  # ifmap, filter: reads; ofmap: writes
TRACE_FILES = {op: f"{op.upper()}_DRAM_TRACE.csv" for op in OPERANDS}
LINE_BYTES = 64
#: scale.cfg [architecture_presets] keys of the operands' word-address offsets, and the template's values
OFFSET_KEYS = {"ifmap": "IfmapOffset", "filter": "FilterOffset", "ofmap": "OfmapOffset"}
DEFAULT_OFFSETS = {"ifmap": 0, "filter": 10_000_000, "ofmap": 20_000_000}
_LAYER_DIR = re.compile(r"^layer(\d+)$")


def layer_dirs(run_outputs: Path) -> dict[int, Path]:
    """Layer index -> ``layer<i>`` directory of one SCALE-Sim run's output directory (``outputs/<run_name>``)."""
    found = {int(m.group(1)): p for p in Path(run_outputs).iterdir() if p.is_dir() and (m := _LAYER_DIR.match(p.name))}
    if not found:
        raise ParseError(run_outputs, "no layer<i>/ trace directories (was SCALE-Sim run with traces kept?)")
    return dict(sorted(found.items()))


def read_dram_trace(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(cycles [rows], word addresses [rows x width], -1 = no access) of one ``*_DRAM_TRACE.csv``."""
    path = Path(path)
    if not path.is_file():
        raise ParseError(path, "DRAM trace file is missing")
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.int64)
    try:
        data = pd.read_csv(path, header=None, dtype=float).to_numpy()
    except (ValueError, pd.errors.ParserError) as exc:
        raise ParseError(path, f"not a numeric SCALE-Sim trace: {exc}") from None
    if data.ndim != 2 or data.shape[1] < 2:
        raise ParseError(path, f"expected 'cycle, addr, ...' rows, got shape {data.shape}")
    if np.isnan(data).any():
        raise ParseError(path, "empty fields (ragged rows)")
    return data[:, 0].astype(np.int64), data[:, 1:].astype(np.int64)


def operand_ranges(offsets: dict[str, int] | None = None) -> dict[str, tuple[int, float]]:
    """Operand -> [first, end) word address: from its offset to the next higher operand offset."""
    offs = dict(DEFAULT_OFFSETS if offsets is None else offsets)
    order = sorted(offs, key=offs.get)
    ends = [offs[o] for o in order[1:]] + [float("inf")]
    return {op: (offs[op], end) for op, end in zip(order, ends)}


def read_offsets(scale_cfg: Path) -> dict[str, int]:
    """The operands' word-address offsets of a rendered scale.cfg."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(scale_cfg)
    try:
        return {op: int(cfg["architecture_presets"][key]) for op, key in OFFSET_KEYS.items()}
    except (KeyError, ValueError) as exc:
        raise ParseError(scale_cfg, f"no integer operand offsets in [architecture_presets]: {exc}") from None


def trace_requests(cycles: np.ndarray, words: np.ndarray, bytes_per_word: float,
                   line_bytes: int = LINE_BYTES, word_range: tuple[int, float] = (0, float("inf"))
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(cycle, line byte address) of every request of one operand trace, in trace order (see module doc);
    entries outside ``word_range`` are padding."""
    if words.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rows = np.broadcast_to(np.arange(words.shape[0])[:, None], words.shape)
    valid = (words >= word_range[0]) & (words < word_range[1])
    if not valid.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lines = (words[valid] * bytes_per_word // line_bytes).astype(np.int64)
    r = rows[valid].astype(np.int64)
    span = int(lines.max()) + 2
    key = np.unique(r * span + lines)  # distinct (row, line), sorted by row then line
    row, line = np.divmod(key, span)
    fresh = ~np.isin(key - span, key)  # the same line in the previous row -> merged
    return cycles[row[fresh]], line[fresh] * line_bytes


def dram_requests(layer_dir: Path, bytes_per_word: float, offsets: dict[str, int] | None = None,
                  line_bytes: int = LINE_BYTES) -> pd.DataFrame:
    """One row per memory request of one layer: cycle, address_bytes, write (bool), operand; by cycle.

    ``offsets``: the run's operand word offsets (``read_offsets`` of its scale.cfg; default the template's).
    """
    ranges = operand_ranges(offsets)
    parts = []
    for op in OPERANDS:
        cyc, addr = trace_requests(*read_dram_trace(Path(layer_dir) / TRACE_FILES[op]), bytes_per_word, line_bytes,
                                   ranges[op])
        parts.append(pd.DataFrame({"cycle": cyc, "address_bytes": addr, "write": op == "ofmap", "operand": op}))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values("cycle", kind="stable", ignore_index=True)


def sequential_share(requests: pd.DataFrame, line_bytes: int = LINE_BYTES) -> float:
    """Share of requests whose line follows the previous request of the same operand (0..1)."""
    if len(requests) < 2:
        return 1.0
    steps = requests.groupby("operand", sort=False)["address_bytes"].diff().dropna()
    return float((steps == line_bytes).sum() / max(len(steps), 1))
