"""Figures serving_policies and memory_coupling from hand-made frames: what is drawn is the frame's columns."""
import pandas as pd
import pytest
from figure_artists import bar_values, line_xy

from eoesim.figures import memory_coupling
from eoesim.figures.serving_policies import plot_serving_policies


def test_serving_policies_draws_each_policys_curve_in_each_panel(tmp_path, drawn):
    rates = [10.0, 20.0, 40.0]
    frame = pd.DataFrame({
        "point": "p", "policy": ["continuous"] * 3 + ["static"] * 3, "rate_per_s": rates * 2,
        "study_rate": [False, True, False] * 2,
        "throughput_tokens_per_s": [1000.0, 2000.0, 3500.0, 1000.0, 1500.0, 1600.0],
        "ttft_p99_s": [0.01, 0.02, 0.05, 0.02, 0.3, 2.0], "tpot_p99_s": [0.001, 0.002, 0.004, 0.001, 0.001, 0.001],
        "goodput_requests_per_s": [10.0, 20.0, 30.0, 10.0, 5.0, 0.0]})
    paths = plot_serving_policies(frame, tmp_path / "serving_policies")
    assert paths["png"].stat().st_size > 0
    throughput, ttft, tpot, goodput = drawn[-1].get_axes()[:4]
    assert line_xy(throughput, "continuous")[1] == pytest.approx([1.0, 2.0, 3.5])  # k tokens/s
    x, y = line_xy(ttft, "static")
    assert x.tolist() == rates and y == pytest.approx([20.0, 300.0, 2000.0])  # ms
    assert line_xy(tpot, "continuous")[1] == pytest.approx([1.0, 2.0, 4.0])
    assert line_xy(goodput, "static")[1] == pytest.approx([10.0, 5.0, 0.0])
    # rate ticks in plain numbers, and none on the minor ticks (matplotlib's 2-9 x 10^k labels overlapped)
    labels = [t.get_text() for t in throughput.get_xticklabels(minor=True) if t.get_text()]
    assert labels == []
    assert {t.get_text() for t in throughput.get_xticklabels()} >= {"10", "20"}
    # latency ticks too: 1, 2 ms rather than 10^0, 2 x 10^0 (the default study's TPOT panel read 6 x 10^-1)
    tpot_labels = {t.get_text() for t in tpot.get_yticklabels()}
    assert tpot_labels >= {"1", "2"} and not any("10^" in x for x in tpot_labels)
    assert [t.get_text() for t in tpot.get_yticklabels(minor=True) if t.get_text()] == []


def test_memory_coupling_bars_are_each_configurations_layer_cycles(tmp_path, drawn):
    """Layer cycles = sum over the layer's GEMMs of cycles x instances, per configuration and model."""
    rows = []
    for config, (rows_, df, compute, coupled) in {"8x8 os": (8, "os", 100, 130), "8x8 ws": (8, "ws", 90, 150),
                                                  "16x16 os": (16, "os", 40, 45)}.items():
        rows += [{"config": config, "array_rows": rows_, "array_cols": rows_, "dataflow": df, "gemm": g,
                  "instances": n, "compute_only_cycles": compute * k, "memory_coupled_cycles": coupled * k,
                  "fidelity": "surrogate"} for g, n, k in (("qkv", 2, 1), ("ffn", 1, 10))]
    memory_coupling.plot(pd.DataFrame(rows), tmp_path / "memory_coupling")
    compute_only, coupled = bar_values(drawn[-1].get_axes()[0])
    # 8x8 os, 8x8 ws, 16x16 os (sorted by array size, then dataflow); thousands of cycles
    assert compute_only == pytest.approx([1.2, 1.08, 0.48])   # 100 x 2 + 1000 x 1 = 1200 cycles, ...
    assert coupled == pytest.approx([1.56, 1.8, 0.54])
