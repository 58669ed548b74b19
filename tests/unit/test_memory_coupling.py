"""Trace-level memory coupling: SCALE-Sim DRAM traces -> 64 B requests -> memory tier -> stall cycles.

The conversion tests run real SCALE-Sim 3.0.0 (pinned package) on a tiny GEMM with its traces kept and
check the requests against the raw trace files and SCALE-Sim's own access report.
"""
import math

import numpy as np
import pandas as pd
import pytest

from eoesim.errors import ParseError
from eoesim.simulators.ramulator_traces import read_loadstore
from eoesim.simulators.scalesim_reports import read_reports
from eoesim.simulators.scalesim_traces import (
    DEFAULT_OFFSETS,
    dram_requests,
    layer_dirs,
    operand_ranges,
    read_dram_trace,
    trace_requests,
)
from eoesim.stitch.coupling import (
    MemoryTier,
    couple_layers,
    coupled_cycles,
    dataflow_winners,
    layer_demand,
    surrogate_memory,
)

M, N, K = 16, 32, 24
BPW = 2
POINT = {
    "array_rows": 8, "array_cols": 8, "dataflow": "os", "sram_kib": {"ifmap": 64, "filter": 64, "ofmap": 32},
    "interface_bandwidth": "calc", "dram_bandwidth_words_per_cycle": 10, "freq_ghz": 1.0, "phase": "prefill",
    "seq_len": 16, "batch": 1,
    "gemms": [{"expert": "t", "gemm": "g", "m": M, "n": N, "k": K, "instances": 1, "name": "t.g"}],
}
HBM2 = {"standard": "HBM2", "channels": 8, "peak_bandwidth_bytes_per_s": 256e9}


@pytest.fixture(scope="module")
def coupled(tmp_path_factory):
    from eoesim.stitch.coupling_run import couple_config

    out = tmp_path_factory.mktemp("coupling")
    table = couple_config(POINT, HBM2, BPW, out, keep_dram_traces=True)
    return out, table


def _reference_requests(path, word_range):
    """Independent reference by plain iteration: (cycle, line address) of every line a row touches that
    the previous row did not, in row order (lines of one row ascending)."""
    cycles, words = read_dram_trace(path)
    out, prev = [], set()
    for c, row in zip(cycles, words):
        lines = {int(w) * BPW // 64 for w in row if word_range[0] <= w < word_range[1]}
        out += [(int(c), line * 64) for line in sorted(lines - prev)]
        prev = lines
    return out


def test_requests_follow_the_trace_rows_and_cycles(coupled):
    out, _ = coupled
    layer = layer_dirs(out / "scalesim" / "outputs" / "run")[0]
    req = dram_requests(layer, BPW)
    ranges = operand_ranges(DEFAULT_OFFSETS)
    # IFMAP (M x K words) is filled sequentially, once: exactly one request per 64 B line
    assert (req.operand == "ifmap").sum() == M * K * BPW // 64
    for op in ("ifmap", "filter", "ofmap"):
        ref = _reference_requests(layer / f"{op.upper()}_DRAM_TRACE.csv", ranges[op])
        mine = req[req.operand == op]
        assert list(zip(mine.cycle, mine.address_bytes)) == ref  # the layer's own cycles as request spacing
    # every line of every operand is requested at least once
    sizes = {"ifmap": M * K, "filter": K * N, "ofmap": M * N}
    for op, words in sizes.items():
        assert req[req.operand == op].address_bytes.nunique() == words * BPW // 64
    assert req.write.tolist() == (req.operand == "ofmap").tolist()
    assert req.cycle.is_monotonic_increasing and (req.address_bytes % 64 == 0).all()


def test_trace_words_equal_scalesims_access_report(coupled):
    out, _ = coupled
    run = out / "scalesim" / "outputs" / "run"
    report = read_reports(run).iloc[0]
    ranges = operand_ranges(DEFAULT_OFFSETS)
    for op, col in (("ifmap", "dram_ifmap_reads_words"), ("filter", "dram_filter_reads_words"),
                    ("ofmap", "dram_ofmap_writes_words")):
        _, words = read_dram_trace(layer_dirs(run)[0] / f"{op.upper()}_DRAM_TRACE.csv")
        lo, hi = ranges[op]
        assert int(((words >= lo) & (words < hi)).sum()) == int(report[col])
    assert coupled[1].iloc[0].dram_word_bytes == BPW * (M * K + K * N + M * N)


def test_ramulator_trace_holds_the_requests_in_cycle_order(coupled):
    out, table = coupled
    req = dram_requests(layer_dirs(out / "scalesim" / "outputs" / "run")[0], BPW)
    lines = read_loadstore(out / "ramulator" / "layer0.trace")
    assert [a for _, a in lines] == req.address_bytes.tolist()
    assert [w for w, _ in lines] == req.write.tolist()
    cycles = pd.read_csv(out / "ramulator" / "layer0_cycles.csv")["cycle"]
    assert cycles.tolist() == req.cycle.tolist()
    row = table.iloc[0]
    assert row.dram_requests == len(lines) and row.dram_bytes == 64 * len(lines)
    assert row.dram_write_requests == sum(w for w, _ in lines)


def test_coupling_table_row_follows_the_stall_model(coupled):
    _, table = coupled
    row = table.iloc[0]
    assert row.fidelity == "surrogate" and row.source.startswith("surrogate ramulator/")
    assert row.offered_bandwidth_bytes_per_s == pytest.approx(row.dram_bytes / (row.compute_only_cycles * 1e-9))
    assert row.offered_load_frac_of_peak == pytest.approx(row.offered_bandwidth_bytes_per_s / 256e9)
    memory = row.dram_bytes / row.achieved_bandwidth_bytes_per_s * 1e9 + row.memory_latency_ns
    assert row.memory_coupled_cycles == max(row.compute_only_cycles, math.ceil(memory))
    assert row.stall_cycles == row.memory_coupled_cycles - row.compute_only_cycles > 0


def test_padding_ones_outside_the_operand_range_are_not_accesses():
    """3.0.0 pads wide FILTER rows with 1.0; word 1 is an IFMAP address, so it is not a filter access."""
    cycles = np.array([-2, -1])
    words = np.array([[10_000_000, 10_000_001, 1, 1], [10_000_032, 1, 1, -1]])
    cyc, addr = trace_requests(cycles, words, 2, word_range=operand_ranges()["filter"])
    assert cyc.tolist() == [-2, -1] and addr.tolist() == [20_000_000, 20_000_064]


def test_a_line_seen_again_after_a_gap_is_requested_again():
    cycles = np.array([0, 1, 2, 3])
    words = np.array([[0, 1], [2, 3], [100, -1], [4, -1]])  # line 0, line 0 (merged), line 6, line 0 again
    cyc, addr = trace_requests(cycles, words, 2)
    assert list(zip(cyc.tolist(), addr.tolist())) == [(0, 0), (2, 192), (3, 0)]


def test_a_ragged_trace_is_a_parse_error(tmp_path):
    bad = tmp_path / "FILTER_DRAM_TRACE.csv"
    bad.write_text("0.0,1.0,2.0\n1.0,3.0\n")
    with pytest.raises(ParseError, match="FILTER_DRAM_TRACE"):
        read_dram_trace(bad)


def test_stall_model_by_hand():
    # memory bound: 256000 B at 128 GB/s = 2000 ns = 2000 cycles at 1 GHz, + 100 ns latency
    assert coupled_cycles(1000, 256_000, 128e9, 100.0, 1.0) == (2100, 1100)
    # compute bound: 64000 B -> 500 + 100 cycles < 1000
    assert coupled_cycles(1000, 64_000, 128e9, 100.0, 1.0) == (1000, 0)
    # a 2 GHz clock doubles the memory time in cycles: (2000 + 100) ns x 2
    assert coupled_cycles(1000, 256_000, 128e9, 100.0, 2.0) == (4200, 3200)
    assert coupled_cycles(1000, 0, 0.0, float("nan"), 1.0) == (1000, 0)


def test_layer_demand_by_hand():
    req = pd.DataFrame({"cycle": [0, 1, 2, 3], "address_bytes": [0, 64, 128, 4096],
                        "write": [False, False, False, True], "operand": ["ifmap", "ifmap", "ifmap", "ofmap"]})
    d = layer_demand(req, compute_cycles=100, freq_ghz=2.0)
    assert d["dram_bytes"] == 256 and d["read_fraction"] == 0.75 and d["pattern"] == "sequential"
    assert d["offered_bandwidth_bytes_per_s"] == pytest.approx(256 / 50e-9)


def test_couple_layers_with_given_memory_answers():
    layers = pd.DataFrame({"config": "8x8 os", "array_rows": 8, "array_cols": 8, "dataflow": "os", "layer_id": [0, 1],
                           "gemm": ["a", "b"], "m": 1, "n": 1, "k": 1, "instances": [1, 4],
                           "compute_only_cycles": [1000, 1000], "dram_requests": [4000, 1000],
                           "dram_read_requests": [4000, 1000], "dram_write_requests": 0,
                           "dram_bytes": [256_000, 64_000], "dram_word_bytes": [256_000, 64_000],
                           "read_fraction": 1.0, "pattern": "sequential",
                           "offered_bandwidth_bytes_per_s": [256e9, 64e9]})
    memory = pd.DataFrame({"offered_load_frac_of_peak": [1.0, 0.25], "surrogate_read_fraction": 1.0,
                           "achieved_bandwidth_bytes_per_s": 128e9, "memory_latency_ns": 100.0, "in_domain": True,
                           "fidelity": "simulate", "source": "test"})
    t = couple_layers(layers, MemoryTier(**HBM2), 1.0, memory)
    assert t.memory_coupled_cycles.tolist() == [2100, 1000] and t.stall_cycles.tolist() == [1100, 0]
    assert t.stall_pct.tolist() == [110.0, 0.0] and t.memory_latency_cycles.tolist() == [100.0, 100.0]


def test_surrogate_memory_saturates_at_the_ceiling():
    demand = pd.DataFrame({"pattern": ["sequential", "sequential"], "read_fraction": [1.0, 0.4],
                           "offered_bandwidth_bytes_per_s": [25.6e9, 512e9]})
    m = surrogate_memory(demand, MemoryTier(**HBM2))
    assert m.achieved_bandwidth_bytes_per_s[0] == pytest.approx(25.6e9, rel=0.05)  # light load: all served
    assert m.achieved_bandwidth_bytes_per_s[1] < 256e9  # overload: capped below the peak
    assert m.surrogate_read_fraction.tolist() == [1.0, 0.7]  # below the fitted 0.7: queried at 0.7
    assert (m.fidelity == "surrogate").all()


def test_dataflow_winner_flip_is_detected():
    rows = []
    for size, df, compute, coupled in ((8, "os", 100, 300), (8, "ws", 120, 150), (16, "os", 90, 400)):
        rows.append({"config": f"{size}x{size} {df}", "array_rows": size, "array_cols": size, "dataflow": df,
                     "instances": 2, "compute_only_cycles": compute, "memory_coupled_cycles": coupled})
    w = dataflow_winners(pd.DataFrame(rows)).set_index("scope")
    assert list(w.index) == ["8x8", "16x16", "all"]
    assert (w.loc["8x8", "winner_compute_only"], w.loc["8x8", "winner_memory_coupled"]) == ("8x8 os", "8x8 ws")
    assert w.loc["8x8", "coupling_flips_winner"] and not w.loc["16x16", "coupling_flips_winner"]
    assert (w.loc["8x8", "winner_compute_only_cycles"], w.loc["8x8", "winner_memory_coupled_cycles"]) == (200, 300)
    assert (w.loc["all", "winner_compute_only"], w.loc["all", "winner_memory_coupled"]) == ("16x16 os", "8x8 ws")
    assert w.loc["all", "candidates"] == 3
