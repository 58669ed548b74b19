"""SRAM energy of GEMMs: the constants, one GEMM by hand, and dataflows that now differ in energy per token."""
import math

import pytest

from eoesim.analysis.scalesim_sram import sram_access_words
from eoesim.eoe.expert import Expert, Gemm, forward_gemms, resolve_experts
from eoesim.eoe.hardware import ChipletSpec, build_hardware
from eoesim.serving.columns import summary_row
from eoesim.serving.costs import GemmPricer
from eoesim.stitch.components import TableComponentModel
from eoesim.stitch.e2e import stitch_point
from eoesim.stitch.energy import COMPONENTS, EnergyModel

PJ = 1e-12
#: Horowitz, ISSCC 2014: pJ per 64-bit read of an 8 KB, 32 KB and 1 MB SRAM
HOROWITZ_PJ_PER_64BIT = {8: 10.0, 32: 20.0, 1024: 100.0}
TINY = {"layers": 1, "d_model": 8, "heads": 1, "kv_heads": 1, "d_ff": 8, "vocab": 4}


def test_sram_constants_are_the_horowitz_rows_interpolated_on_log_size():
    e = EnergyModel()
    for kib, pj in HOROWITZ_PJ_PER_64BIT.items():
        assert e.sram_j_per_byte(kib) == pytest.approx(pj / 8 * PJ)
    # 256 KiB is 3/5 of the way from 32 KiB to 1 MiB in log2(size): 20 + 0.6 * 80 = 68 pJ / 64 bit
    assert e.sram_j_per_byte(256) == pytest.approx(68 / 8 * PJ)
    assert e.sram_j_per_byte(128) == pytest.approx(52 / 8 * PJ)
    assert e.sram_j_per_byte(16) == pytest.approx(15 / 8 * PJ)
    assert e.sram_j_per_byte(1) == e.sram_j_per_byte(8) and e.sram_j_per_byte(8192) == e.sram_j_per_byte(1024)
    assert e.buffer_sram_j_per_byte({}) == pytest.approx((68 / 8 * PJ, 68 / 8 * PJ, 52 / 8 * PJ))  # defaults
    assert EnergyModel(overrides={"sram_32kib_pj_per_64bit": 40}).sram_j_per_byte(32) == pytest.approx(5 * PJ)
    assert "sram" in COMPONENTS
    assert "Horowitz" in e.sources()["sram_1mib_pj_per_64bit"]


def test_sram_energy_of_one_gemm_by_hand():
    """The default study's qkv GEMM (64 x 768 x 256, fp16) on a 32 x 32 os array with 256/256/128 KiB
    buffers. SCALE-Sim reports 393216 ifmap reads, 393216 filter reads, 52224 ofmap writes (golden
    default_32x32_os); at 8.5, 8.5 and 6.5 pJ/B and 2 B per word that is 14 048 256 pJ. Its MACs cost
    64 * 768 * 256 * 1.5 pJ, unchanged."""
    chip = ChipletSpec(rows=32, cols=32, dataflow="os", freq_ghz=1.0,
                       sram_kib=(("filter", 256), ("ifmap", 256), ("ofmap", 128)))
    model = TableComponentModel(default_cycles=15263, memory_bandwidth_bytes_per_s={"hbm": 1e12},
                                ssd_bandwidth_bytes_per_s=1e9, link_bandwidth_bytes_per_s=1e9, analytic_sram=True)
    pricer = GemmPricer(model, chip, EnergyModel())
    c = pricer.gemm(Gemm("qkv_proj", 64, 768, 256), 2.0)
    assert c.sram_j == pytest.approx(((393216 + 393216) * 8.5 + 52224 * 6.5) * 2 * PJ)
    assert c.sram_j == pytest.approx(14_048_256 * PJ)
    assert c.mac_j == pytest.approx(64 * 768 * 256 * 1.5 * PJ)
    assert c.seconds == pytest.approx(15263e-9)  # the table's cycles at 1 GHz
    # instances multiply, and a model without SRAM counts charges none
    c4 = pricer.gemm(Gemm("attn_score", 64, 768, 256, instances=4), 2.0)
    assert c4.sram_j == pytest.approx(4 * 14_048_256 * PJ)
    plain = GemmPricer(TableComponentModel(default_cycles=1, memory_bandwidth_bytes_per_s={"hbm": 1e12},
                                           ssd_bandwidth_bytes_per_s=1e9, link_bandwidth_bytes_per_s=1e9),
                       chip, EnergyModel())
    assert plain.gemm(Gemm("qkv_proj", 64, 768, 256), 2.0).sram_j == 0.0


def point(tmp_path, dataflow):
    trace = tmp_path / "trace.csv"
    trace.write_text("arrival_s,domain,prompt_tokens,output_tokens\n0,0,5,4\n")
    return {
        "seed": 1,
        "eoe": {"experts": [{"name": "a", **TINY}], "morphology": {"kind": "chain"},
                "requests": {"arrival": "trace", "trace_file": str(trace)}},
        "hardware": {"chiplet": {"array": [4, 4], "dataflow": dataflow, "freq_ghz": 1.0,
                                 "sram_kib": {"ifmap": 32, "filter": 8, "ofmap": 1024}},
                     "package": {"grid": [2, 2]},
                     "memory": {"hbm": {"capacity_gib": 1.0}, "ddr": {"capacity_gib": 0.0}}},
        "mapping": {"strategy": "one_to_one", "cache_policy": "static", "hot_set": ["a"]},
    }


def expected_sram_j(e: Expert, dataflow: str, prompt: int, output: int) -> float:
    """Independently of the engine: every GEMM of the prefill (context = prompt) and of the decode
    iterations, which attend prompt+1 .. prompt+output-1 tokens (the cached ones and their own input token),
    SCALE-Sim's counts x instances x 2 B x the Horowitz pJ/B of each buffer (ifmap 32 KiB, filter 8 KiB,
    ofmap 1 MiB: exact table rows)."""
    pj_per_byte = [HOROWITZ_PJ_PER_64BIT[kib] / 8 for kib in (32, 8, 1024)]
    steps = [("prefill", prompt)] + [("decode", L) for L in range(prompt + 1, prompt + output)]
    total_pj = 0.0
    for phase, ctx in steps:
        for g, rep in forward_gemms(e, phase, ctx, 1):
            words = sram_access_words(g.m, g.n, g.k, 4, 4, dataflow)
            total_pj += rep * g.instances * e.bytes_per_weight * sum(w * p for w, p in zip(words, pj_per_byte))
    return total_pj * PJ


def test_energy_per_token_differs_between_dataflows_by_their_sram_traffic(tmp_path):
    e = resolve_experts([{"name": "a", **TINY}])[0]
    results = {df: stitch_point(point(tmp_path, df), None) for df in ("os", "ws")}
    by = {df: r.summary["energy"]["by_component_j"] for df, r in results.items()}
    for df in ("os", "ws"):
        assert by[df]["sram"] == pytest.approx(expected_sram_j(e, df, 5, 4), rel=1e-12)
        row = summary_row("p", results[df].summary)
        assert row["energy_sram_j"] == by[df]["sram"]
    assert expected_sram_j(e, "os", 5, 4) != pytest.approx(expected_sram_j(e, "ws", 5, 4), rel=1e-3)
    for comp in ("compute", "hbm", "ddr", "ssd", "network"):  # nothing else depends on the dataflow
        assert by["os"][comp] == pytest.approx(by["ws"][comp], rel=1e-12)
    per_token = {df: r.summary["energy"]["per_token_j"] for df, r in results.items()}
    assert per_token["os"] - per_token["ws"] == pytest.approx((by["os"]["sram"] - by["ws"]["sram"]) / 4, rel=1e-9)
    assert not math.isclose(per_token["os"], per_token["ws"], rel_tol=1e-6)
    assert build_hardware(point(tmp_path, "os")["hardware"]).chiplet.sram_kib == (
        ("filter", 8), ("ifmap", 32), ("ofmap", 1024))
