"""MQSim trace generator: format of every line, time order, sizes, LBA ranges, round trip, strict reader."""
from __future__ import annotations

import math
import re

import pytest

from eoesim.errors import ConfigError, ParseError, RenderError
from eoesim.simulators.mqsim_trace import (
    READ,
    SECTOR_BYTES,
    WRITE,
    Arrivals,
    IODescription,
    TraceRequest,
    Transfer,
    description_from_params,
    expected_totals,
    format_line,
    generate_requests,
    read_trace,
    trace_summary,
    trace_totals,
    write_trace,
)

#: what MQSim accepts: exactly five single-space-separated non-negative integers, type 0|1, size >= 1
LINE_RE = re.compile(r"^(0|[1-9][0-9]*) (0|[1-9][0-9]*) (0|[1-9][0-9]*) ([1-9][0-9]*) ([01])$")


def io_section(**over):
    io = {
        "request_size_kib": 128,
        "arrival": {"process": "poisson", "mean_interval_us": 500.0, "request_interval_ns": 250, "start_ns": 1000},
        "order": "round_robin",
        "expert_loads": [
            {"name": "med", "weight_bytes": 10 * 2**20, "loads": 3, "start_lba": None},
            {"name": "code", "weight_bytes": 3_000_001, "loads": 2, "start_lba": None},  # not a sector multiple
        ],
        "checkpoint_writes": [{"name": "ckpt", "bytes": 5 * 2**20 + 100, "writes": 2, "start_lba": None}],
    }
    io.update(over)
    return io


def check_every_line(path):
    """Every line matches MQSim's format and times never decrease; returns the number of lines."""
    text = path.read_text()
    assert text.endswith("\n") and "\r" not in text
    prev = -1
    lines = text.split("\n")[:-1]
    for i, line in enumerate(lines, start=1):
        m = LINE_RE.match(line)
        assert m, f"line {i} is malformed: {line!r}"
        t = int(m.group(1))
        assert t >= prev, f"line {i}: time {t} < {prev}"
        prev = t
    return len(lines)


@pytest.mark.parametrize("process", ["poisson", "fixed"])
@pytest.mark.parametrize("order", ["round_robin", "shuffled"])
def test_every_line_is_well_formed_and_times_never_decrease(tmp_path, process, order):
    io = io_section(order=order)
    io["arrival"]["process"] = process
    desc = description_from_params(io, seed=11, where="t")
    path = write_trace(tmp_path / "t.trace", generate_requests(desc))
    n = check_every_line(path)
    # med: 10 MiB / 128 KiB = 80 requests x 3; code: ceil(5860/256) = 23 x 2; ckpt: ceil(10241/256) = 41 x 2
    assert n == 80 * 3 + 23 * 2 + 41 * 2 == desc.total_requests()


def test_round_trip_recovers_the_descriptions_totals(tmp_path):
    desc = description_from_params(io_section(), seed=3, where="t")
    path = write_trace(tmp_path / "t.trace", generate_requests(desc))
    back = read_trace(path)
    assert trace_totals(back, desc.transfers) == expected_totals(desc)
    exp = expected_totals(desc)
    # bytes are whole sectors: 3_000_001 B -> 5860 sectors; 5 MiB + 100 B -> 10241 sectors
    assert exp["med"] == {"op": READ, "requests": 240, "bytes": 3 * 10 * 2**20}
    assert exp["code"] == {"op": READ, "requests": 46, "bytes": 2 * 5860 * 512}
    assert exp["ckpt"] == {"op": WRITE, "requests": 82, "bytes": 2 * 10241 * 512}
    s = trace_summary(back)
    assert s["requests"] == 368 and s["write_requests"] == 82
    assert s["bytes"] == sum(v["bytes"] for v in exp.values())
    assert s["first_arrival_ns"] == 1000


def test_requests_stay_inside_their_transfer_and_cover_it_exactly():
    desc = description_from_params(io_section(), seed=5, where="t")
    reqs = generate_requests(desc)
    for t in desc.transfers:
        mine = [r for r in reqs if t.start_lba <= r.lba < t.end_lba]
        assert all(r.op == t.op for r in mine)
        assert all(r.lba + r.sectors <= t.end_lba for r in mine)
        assert all(1 <= r.sectors <= desc.request_sectors for r in mine)
        # each load covers every sector of the range once
        covered = sorted((r.lba, r.sectors) for r in mine)
        assert sum(s for _, s in covered) == t.sectors * t.count
        assert {lba for lba, _ in covered} == set(range(t.start_lba, t.end_lba, desc.request_sectors))
    # the last request of 'code' is the short one: 5860 - 22*256 = 228 sectors
    code = next(t for t in desc.transfers if t.name == "code")
    assert sorted({r.sectors for r in reqs if code.start_lba <= r.lba < code.end_lba}) == [228, 256]


def test_ranges_are_packed_request_aligned_in_order():
    desc = description_from_params(io_section(), seed=1, where="t")
    med, code, ckpt = desc.transfers
    assert (med.start_lba, med.end_lba) == (0, 20480)
    assert code.start_lba == 20480 and code.end_lba == 20480 + 5860
    assert ckpt.start_lba == math.ceil((20480 + 5860) / 256) * 256 == 26368


def test_fixed_arrivals_are_exact_and_requests_spaced():
    io = io_section(expert_loads=[{"name": "a", "weight_bytes": 4 * 128 * 1024, "loads": 3, "start_lba": None}],
                    checkpoint_writes=[])
    io["arrival"] = {"process": "fixed", "mean_interval_us": 100.0, "request_interval_ns": 10, "start_ns": 5}
    reqs = generate_requests(description_from_params(io, seed=1, where="t"))
    assert [r.arrival_ns for r in reqs] == [5, 15, 25, 35, 100005, 100015, 100025, 100035,
                                            200005, 200015, 200025, 200035]


def test_poisson_arrivals_are_seeded_and_have_the_requested_mean():
    io = io_section(expert_loads=[{"name": "a", "weight_bytes": 512, "loads": 4000, "start_lba": None}],
                    checkpoint_writes=[])
    io["arrival"] = {"process": "poisson", "mean_interval_us": 50.0, "request_interval_ns": 0, "start_ns": 0}
    a = generate_requests(description_from_params(io, seed=9, where="t"))
    b = generate_requests(description_from_params(io, seed=9, where="t"))
    c = generate_requests(description_from_params(io, seed=10, where="t"))
    assert a == b and a != c
    mean_gap_ns = (a[-1].arrival_ns - a[0].arrival_ns) / (len(a) - 1)
    assert 47_000 < mean_gap_ns < 53_000  # 4000 exponential gaps: the mean is within ~5 % of 50 us


def test_overlapping_requests_of_consecutive_transfers_are_time_sorted(tmp_path):
    """Transfers arriving faster than their requests are issued interleave; the trace is merged by time."""
    io = io_section(checkpoint_writes=[])
    io["arrival"] = {"process": "fixed", "mean_interval_us": 1.0, "request_interval_ns": 5000, "start_ns": 0}
    path = write_trace(tmp_path / "t.trace", generate_requests(description_from_params(io, seed=1, where="t")))
    check_every_line(path)


def test_description_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"t: no expert_loads and no checkpoint_writes"):
        description_from_params(io_section(expert_loads=[], checkpoint_writes=[]), 1, "t")
    bad = io_section()
    bad["checkpoint_writes"][0]["start_lba"] = 100
    with pytest.raises(ConfigError, match=r"t.checkpoint_writes\[0\].start_lba: 100 overlaps 'med'"):
        description_from_params(bad, 1, "t")
    dup = io_section(checkpoint_writes=[{"name": "med", "bytes": 1, "writes": 1, "start_lba": None}])
    with pytest.raises(ConfigError, match=r"name\(s\) \['med'\] used twice"):
        description_from_params(dup, 1, "t")
    huge = io_section(expert_loads=[{"name": "a", "weight_bytes": 2**40, "loads": 10, "start_lba": None}],
                      request_size_kib=4)
    with pytest.raises(ConfigError, match=r"at most 5000000"):
        description_from_params(huge, 1, "t")


@pytest.mark.parametrize("req", [
    TraceRequest(-1, 0, 0, 8, 1), TraceRequest(0, 0, 0, 0, 1), TraceRequest(0, 0, 0, 8, 2),
    TraceRequest(0, 0, -5, 8, 0), TraceRequest(1.5, 0, 0, 8, 0), TraceRequest(2**63, 0, 0, 8, 0),
])
def test_format_line_refuses_what_mqsim_would_misread(req):
    with pytest.raises(RenderError):
        format_line(req)


def test_write_trace_refuses_empty_or_decreasing(tmp_path):
    with pytest.raises(RenderError, match="empty"):
        write_trace(tmp_path / "e.trace", [])
    with pytest.raises(RenderError, match="before the previous"):
        write_trace(tmp_path / "d.trace", [TraceRequest(10, 0, 0, 8, 1), TraceRequest(9, 0, 8, 8, 1)])
    assert not (tmp_path / "d.trace").exists()


def test_read_trace_parses_the_real_tpcc_trace_head(golden):
    """First 200 lines of MQSim's sample trace (tests/golden/mqsim/sample/tpcc-small.head200.trace)."""
    reqs = read_trace(golden / "mqsim" / "sample" / "tpcc-small.head200.trace")
    assert len(reqs) == 200
    assert reqs[0] == TraceRequest(938513000, 4, 264719034, 16, WRITE)
    assert reqs[2] == TraceRequest(938944000, 13, 93230992, 32, WRITE)
    assert all(a.arrival_ns <= b.arrival_ns for a, b in zip(reqs, reqs[1:]))


@pytest.mark.parametrize("line, what", [
    ("10 0 0 8", "not 5"), ("10 0  0 8 1", "not 5"), ("10 0 0 8 1 ", "not 5"), ("10 0 0 x 1", "not 5"),
    ("10 0 0 8 3", "type 3"), ("10 0 0 0 1", "size is 0"), ("5 0 0 8 1", "before the previous"),
])
def test_read_trace_is_strict_and_names_the_line(tmp_path, line, what):
    path = tmp_path / "bad.trace"
    path.write_text(f"10 0 0 8 1\n{line}\n")
    with pytest.raises(ParseError, match=re.escape("bad.trace:2: ") + ".*" + re.escape(what)):
        read_trace(path)


def test_read_trace_tolerates_crlf_like_mqsim(tmp_path):
    path = tmp_path / "crlf.trace"
    path.write_bytes(b"10 0 0 8 1\r\n20 0 8 8 0\r\n")
    assert [r.op for r in read_trace(path)] == [READ, WRITE]


def test_trace_totals_reports_requests_outside_every_range():
    transfers = (Transfer("a", READ, 4096, 1, 0),)
    reqs = [TraceRequest(0, 0, 0, 8, READ), TraceRequest(1, 0, 100, 8, READ), TraceRequest(2, 0, 0, 8, WRITE)]
    totals = trace_totals(reqs, transfers)
    assert totals["a"] == {"op": READ, "requests": 1, "bytes": 8 * SECTOR_BYTES}
    assert totals["<other>"]["requests"] == 2


def test_manual_description_and_device_column():
    desc = IODescription(request_sectors=8, transfers=(Transfer("x", WRITE, 8 * 512 * 2 + 1, 1, 64),),
                         arrivals=Arrivals("fixed", 0.0, 0, 0), device=3)
    reqs = generate_requests(desc)
    assert reqs == [TraceRequest(0, 3, 64, 8, WRITE), TraceRequest(0, 3, 72, 8, WRITE),
                    TraceRequest(0, 3, 80, 1, WRITE)]
