"""Lowering outputs of one served design point, each read back by the consuming simulator's own reader.

The point is the hand case of test_stitch_e2e.test_component_workloads_come_from_the_same_run: two
requests (prompt 4, output 3) of two identical experts (944 weight bytes, 880 streamed per pass, 32 KV
bytes per token); ``a`` is hot in HBM, ``b`` is cold and loads from the SSD. Each request runs a prefill
step and one step of its two decode iterations (test_stitch_e2e's hand model).
"""
import json
import math

import numpy as np
import pandas as pd
import pytest
from test_stitch_e2e import hand_model, params

from eoesim.simulators.mqsim_trace import (
    SECTOR_BYTES,
    Transfer,
    read_trace,
    trace_totals,
)
from eoesim.simulators.ramulator_traces import read_loadstore
from eoesim.stitch.e2e import stitch_point
from eoesim.stitch.workload_files import FILES, sampled_lines, write_workloads
from eoesim.stitch.workloads import gemm_table, hbm_segments, ssd_reads, traffic_matrix

HBM = 2**30
ROWS = [(0, 0, 4, 3), (0.001, 1, 4, 3)]


@pytest.fixture
def point(tmp_path):
    p = params(tmp_path, ROWS, mapping={"hot_set": ["a"]})
    return stitch_point(p, hand_model())


@pytest.fixture
def written(point, tmp_path):
    out = tmp_path / "workloads"
    manifest = write_workloads(point, HBM, out)
    return point, out, manifest


def test_hbm_segments_split_weights_and_kv_by_hand(point):
    seg, layout = hbm_segments(point.engine, HBM)
    steps = seg[seg.op == "step"]
    got = {(req, round(t * 1e9, 6), stream): b for (req, t, stream), b in
           steps.groupby(["request", "start_s", "stream"])["size_bytes"].sum().items()}
    # request 0 (a, hot): prefill at 10 ns: the 880 streamed weight bytes + 4 prompt tokens' KV written (128);
    # its decodes from 80 ns, 2 iterations attending 5 and 6 tokens: 2 x 880 weights, (5 + 6) x 32 = 352 KV read,
    # 2 x 32 written. Request 1 (b, cold) the same from 1 ms + 8 ns and 1 ms + 1097 ns (after its load).
    for req, t_prefill, t_decode in ((0, 10, 80), (1, 1_000_008, 1_001_097)):
        assert got[(req, t_prefill, "weights")] == 880 and got[(req, t_prefill, "kv_write")] == 128
        assert got[(req, t_decode, "weights")] == 1760 and got[(req, t_decode, "kv_write")] == 64
        assert got[(req, t_decode, "kv_read")] == 352 and (req, t_prefill, "kv_read") not in got  # empty cache
    load = seg[seg.op == "load"]
    assert load[["stream", "write", "address_bytes", "size_bytes", "chiplet"]].values.tolist() == [
        ["expert_load", True, 4096, 944, 0]]  # b copied into its weight range, entering at the DDR's chiplet 0
    assert layout.weight_base == {"a": 0, "b": 4096} and layout.kv_base == 8192
    assert layout.kv_slot_bytes == 4096  # 192 KV bytes per request, 4 KiB aligned
    b_weights = seg[(seg.request == 1) & (seg.stream == "weights")]
    assert (b_weights.address_bytes == 4096).all()  # request 1 runs b (chiplet 1) in b's weight range
    writes = seg[seg.stream == "kv_write"].sort_values(["request", "start_s"])
    # KV appends in the request's slot: request 0 at 8192 (+128 after its prefill), request 1 one slot on
    assert writes.address_bytes.tolist() == [8192, 8192 + 128, 8192 + 4096, 8192 + 4096 + 128]
    assert seg.start_s.is_monotonic_increasing


def test_ramulator_trace_is_what_ramulator_reads_and_covers_every_line(written):
    result, out, manifest = written
    lines = read_loadstore(out / "ramulator_trace.txt")
    seg, _ = hbm_segments(result.engine, HBM)
    assert manifest["ramulator_trace"]["sample_every"] == 1
    assert len(lines) == int(np.ceil(seg.size_bytes / 64).sum())
    writes = sum(w for w, _ in lines)
    assert writes == int(np.ceil(seg[seg.write].size_bytes / 64).sum())
    first_b_weight = int(seg[(seg.request == 1) & (seg.stream == "weights")].index[0])
    before = int(np.ceil(seg.size_bytes[:first_b_weight] / 64).sum())
    assert [a for _, a in lines[before:before + 14]] == [4096 + 64 * i for i in range(14)]  # 880 B = 14 lines


def test_sampling_keeps_every_kth_line_of_the_concatenated_streams():
    seg = pd.DataFrame({"address_bytes": [0, 6400], "size_bytes": [640.0, 320.0], "write": [False, True]})
    addr, writes, k = sampled_lines(seg, max_requests=5)
    assert k == 3  # 15 lines, at most 5 kept
    assert addr.tolist() == [0, 192, 384, 576, 6400 + 128]  # global line indices 0, 3, 6, 9, 12
    assert writes.tolist() == [False, False, False, False, True]


def test_mqsim_trace_reads_the_cold_experts_lba_range(written):
    result, out, manifest = written
    reqs = read_trace(out / "mqsim_trace.txt")
    reads = ssd_reads(result.engine)
    assert len(reads) == 1 and reads.expert[0] == "b"
    b = Transfer("b", 1, 944, 1, 4096 // SECTOR_BYTES)
    assert trace_totals(reqs, [b]) == {"b": {"op": 1, "requests": 1, "bytes": 2 * SECTOR_BYTES}}
    assert reqs[0].arrival_ns == round(reads.start_s[0] * 1e9)
    assert manifest["mqsim_trace"]["requests"] == 1 and not manifest["mqsim_trace"]["empty"]


def test_mqsim_trace_is_empty_when_nothing_is_read_from_the_ssd(tmp_path):
    p = params(tmp_path, ROWS, mapping={"hot_set": ["a", "b"]})
    result = stitch_point(p, hand_model())
    manifest = write_workloads(result, HBM, tmp_path / "w")
    assert (tmp_path / "w" / "mqsim_trace.txt").read_text() == "" and manifest["mqsim_trace"]["empty"]


def test_scalesim_topology_loads_in_scalesim(written):
    from scalesim.topology_utils import topologies

    result, out, manifest = written
    topo = topologies()
    topo.load_arrays(str(out / "scalesim_topology.csv"), mnk_inputs=True)
    g = gemm_table(result.engine)
    assert topo.get_num_layers() == len(g) == manifest["scalesim_topology"]["gemms"]
    names = topo.get_layer_names()
    assert names == [f"{r.gemm}_{r.m}x{r.n}x{r.k}" for r in g.itertuples()]
    assert [topo.get_layer_mac_ops(i) for i in range(len(g))] == (g.m * g.n * g.k).tolist()


def test_traffic_files_equal_the_schedules_matrix(written):
    result, out, _ = written
    tm = traffic_matrix(result.engine)
    mat = pd.read_csv(out / "traffic_matrix.csv", index_col="src_chiplet")
    assert np.array_equal(mat.to_numpy(), tm["bytes"]) and list(mat.columns) == ["0", "1", "2", "3"]
    traffic = json.loads((out / "traffic.json").read_text())
    # 2 x 16 B of token ids from the router chiplet over the run: 1 ms + b's 1237 ns
    assert traffic["injection_bytes_per_s"][3] == pytest.approx(32 / (0.001 + 1237e-9))
    assert traffic["sent_bytes"] == tm["bytes"].sum(axis=1).tolist() and traffic["chiplets"] == 4


def test_traffic_matrix_feeds_rapidchiplets_matrix_pattern(written):
    from eoesim.simulators.rapidchiplet_traffic import from_matrix

    _, out, _ = written
    mat = pd.read_csv(out / "traffic_matrix.csv", index_col="src_chiplet").to_numpy().tolist()
    pkg = _package_2x2()
    shares = from_matrix(pkg, mat)
    assert {src[0] for src, _ in shares} == {3}  # only the router chiplet sends (the prompts' token ids)
    assert {dst[0] for _, dst in shares} == {0, 1}  # to the chiplets of a and b, half each
    to_a = sum(v for (_, dst), v in shares.items() if dst[0] == 0)
    assert math.isclose(to_a, pkg.chiplet_type(3).units / 2)  # every sending unit injects a share of 1


def _package_2x2():
    from eoesim.config import build_study
    from eoesim.simulators.base import get_simulator
    from eoesim.simulators.rapidchiplet_package import build_package

    wl = dict(get_simulator("rapidchiplet").point_params(build_study({"study": "t"}).points[0].params), grid=[2, 2])
    return build_package(wl)


def test_all_files_are_written(written):
    _, out, manifest = written
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert manifest["time_base"].startswith("the serving run")
