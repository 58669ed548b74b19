"""Trace generator for Ramulator's LoadStoreTrace and SimpleO3 frontends: format, alignment, footprint, mix."""
from __future__ import annotations

import re

import pytest

from eoesim.errors import ConfigError
from eoesim.simulators.ramulator_traces import AccessStream, addresses, generate, write_trace

LST_LINE = re.compile(r"^(LD|ST) 0x[0-9a-f]+$")
O3_LINE = re.compile(r"^(\d+) (\d+)( (\d+))?$")


def lst_addresses(lines):
    return [int(ln.split()[1], 16) for ln in lines]


def test_loadstore_exact_line_format_sequential():
    lines, summary = generate("LoadStoreTrace", AccessStream("sequential", 5, alignment_bytes=64))
    assert lines == ["LD 0x0", "LD 0x40", "LD 0x80", "LD 0xc0", "LD 0x100"]
    assert (summary.lines, summary.reads, summary.writes) == (5, 5, 0)


def test_loadstore_lines_parse_like_ramulator_does(tmp_path):
    """Exactly 2 space-separated tokens, LD|ST, 0x-hex address; every line newline-terminated."""
    stream = AccessStream("random", 500, read_fraction=0.6, footprint_bytes=1 << 20, alignment_bytes=32, seed=3)
    summary = write_trace(tmp_path / "t.trace", "LoadStoreTrace", stream)
    text = (tmp_path / "t.trace").read_text()
    assert text.endswith("\n") and not text.endswith("\n\n")
    lines = text.splitlines()
    assert len(lines) == summary.lines == 500
    assert all(LST_LINE.match(ln) for ln in lines)
    assert all(len(ln.split(" ")) == 2 for ln in lines)


def test_simpleo3_exact_line_format_and_decimal_addresses():
    stream = AccessStream("sequential", 4, read_fraction=0.8, alignment_bytes=64, bubbles=7, seed=1)
    lines, summary = generate("SimpleO3", stream)
    assert len(lines) == 4
    for ln in lines:
        m = O3_LINE.match(ln)
        assert m, ln
        assert m.group(1) == "7"
    # loads and writebacks consume the sequential stream in trace order, decimal (v2.0 parses with stoll)
    flat = [int(tok) for ln in lines for tok in ln.split()[1:]]
    assert flat == [64 * i for i in range(len(flat))]
    assert summary.writes == round(4 * 0.2 / 0.8) == 1
    assert summary.instructions == 4 * (7 + 1)
    assert "0x" not in " ".join(lines)


@pytest.mark.parametrize("pattern", ["sequential", "strided", "random"])
@pytest.mark.parametrize("alignment", [16, 64, 4096])
def test_addresses_are_aligned_and_inside_the_footprint(pattern, alignment):
    base, footprint = 1 << 24, 1 << 22
    stream = AccessStream(pattern, 3000, footprint_bytes=footprint, base_address=base, alignment_bytes=alignment,
                          stride_bytes=alignment * 5, seed=11)
    addrs = addresses(stream, 3000)
    assert all(a % alignment == 0 for a in addrs)
    assert all(base <= a < base + footprint for a in addrs)


def test_sequential_wraps_at_the_footprint():
    stream = AccessStream("sequential", 10, footprint_bytes=4 * 64, base_address=1024, alignment_bytes=64)
    assert addresses(stream, 10) == [1024 + 64 * (i % 4) for i in range(10)]


def test_strided_addresses():
    stream = AccessStream("strided", 6, footprint_bytes=4096, alignment_bytes=64, stride_bytes=1024)
    assert addresses(stream, 6) == [0, 1024, 2048, 3072, 0, 1024]


def test_random_without_replacement_while_slots_suffice():
    stream = AccessStream("random", 1000, footprint_bytes=1000 * 64, alignment_bytes=64, seed=5)
    addrs = addresses(stream, 1000)
    assert len(set(addrs)) == 1000  # every slot exactly once
    small = AccessStream("random", 1000, footprint_bytes=10 * 64, alignment_bytes=64, seed=5)
    addrs = addresses(small, 1000)
    assert set(addrs) <= {64 * i for i in range(10)} and len(addrs) == 1000


def test_random_is_seeded():
    s1 = AccessStream("random", 200, read_fraction=0.5, footprint_bytes=1 << 30, seed=1)
    s2 = AccessStream("random", 200, read_fraction=0.5, footprint_bytes=1 << 30, seed=2)
    assert generate("LoadStoreTrace", s1)[0] == generate("LoadStoreTrace", s1)[0]
    assert generate("LoadStoreTrace", s1)[0] != generate("LoadStoreTrace", s2)[0]


@pytest.mark.parametrize("read_fraction,writes", [(1.0, 0), (0.7, 300), (0.25, 750), (0.0, 1000)])
def test_loadstore_read_write_ratio_is_exact(read_fraction, writes):
    lines, summary = generate("LoadStoreTrace", AccessStream("sequential", 1000, read_fraction=read_fraction))
    assert sum(ln.startswith("ST ") for ln in lines) == writes == summary.writes
    assert sum(ln.startswith("LD ") for ln in lines) == 1000 - writes == summary.reads


def test_loadstore_writes_are_spread_not_bunched():
    lines, _ = generate("LoadStoreTrace", AccessStream("sequential", 1000, read_fraction=0.5, seed=9))
    first_half = sum(ln.startswith("ST") for ln in lines[:500])
    assert 200 < first_half < 300


def test_simpleo3_read_share_from_writebacks():
    lines, summary = generate("SimpleO3", AccessStream("random", 1000, read_fraction=0.8,
                                                       footprint_bytes=1 << 28, seed=4))
    writebacks = sum(len(ln.split()) == 3 for ln in lines)
    assert writebacks == summary.writes == 250
    assert summary.reads / (summary.reads + summary.writes) == pytest.approx(0.8)


@pytest.mark.parametrize("kwargs,message", [
    ({"pattern": "zigzag"}, r"pattern: 'zigzag' is not allowed; allowed: \['sequential', 'strided', 'random'\]"),
    ({"pattern": "strided", "stride_bytes": 100}, r"stride_bytes: 100 .*multiple of alignment_bytes=64"),
    ({"pattern": "strided", "stride_bytes": None}, r"stride_bytes: None"),
    ({"footprint_bytes": 1000}, r"footprint_bytes: 1000 .*multiple of alignment_bytes=64"),
    ({"base_address": 32}, r"base_address: 32"),
    ({"read_fraction": 1.5}, r"read_fraction: 1.5"),
    ({"num_requests": 0}, r"num_requests: 0"),
])
def test_invalid_streams_are_config_errors(kwargs, message):
    args = {"pattern": "sequential", "num_requests": 10, **kwargs}
    with pytest.raises(ConfigError, match=message):
        generate("LoadStoreTrace", AccessStream(**args))


def test_frontend_specific_errors():
    with pytest.raises(ConfigError, match="bubbles: 3 has no effect with frontend LoadStoreTrace"):
        generate("LoadStoreTrace", AccessStream("sequential", 10, bubbles=3))
    with pytest.raises(ConfigError, match=r"read_fraction: 0.4 is not allowed with frontend SimpleO3"):
        generate("SimpleO3", AccessStream("sequential", 10, read_fraction=0.4))
    with pytest.raises(ConfigError, match=r"frontend.impl: 'GEM5' is not allowed"):
        generate("GEM5", AccessStream("sequential", 10))
