"""Transformer expert shapes and the GEMMs lowered from one layer."""
import pytest

from eoesim.eoe.expert import EXPERT_PRESETS, Expert, resolve_expert
from eoesim.errors import ConfigError


def test_prefill_gemms_of_a_known_shape():
    e = Expert(name="e", layers=2, d_model=256, heads=4, kv_heads=2, d_ff=1024, vocab=100)
    g = {x.name: x for x in e.layer_gemms("prefill", seq_len=64, batch=2)}
    assert (g["qkv_proj"].m, g["qkv_proj"].n, g["qkv_proj"].k) == (128, (4 + 2 * 2) * 64, 256)
    assert (g["attn_score"].m, g["attn_score"].n, g["attn_score"].k, g["attn_score"].instances) == (64, 64, 64, 8)
    assert (g["attn_value"].m, g["attn_value"].n, g["attn_value"].k) == (64, 64, 64)
    assert (g["out_proj"].m, g["out_proj"].n, g["out_proj"].k) == (128, 256, 256)
    assert (g["ffn_up"].n, g["ffn_down"].k, g["ffn_down"].n) == (1024, 1024, 256)
    # MACs of one layer = 2*tokens*... hand count: qkv 128*512*256 + 2 attention GEMMs 8*64*64*64 each
    # + out 128*256*256 + ffn 2*128*1024*256
    expected = 128 * 512 * 256 + 2 * 8 * 64 * 64 * 64 + 128 * 256 * 256 + 2 * 128 * 1024 * 256
    assert sum(x.macs for x in g.values()) == expected


def test_decode_gemms_have_one_query_row_per_sequence():
    e = resolve_expert({"name": "e", "preset": "small-1b"}, "eoe.experts[0]")
    g = {x.name: x for x in e.layer_gemms("decode", seq_len=512, batch=4)}
    assert g["qkv_proj"].m == 4
    assert (g["attn_score"].m, g["attn_score"].n, g["attn_score"].instances) == (1, 512, 4 * 32)
    assert g["ffn_up"].n == 2 * 5632  # gated FFN: gate and up projections


def test_unknown_phase_is_a_config_error():
    e = Expert(name="e", layers=1, d_model=8, heads=1, kv_heads=1, d_ff=8, vocab=2)
    with pytest.raises(ConfigError, match="prefill"):
        e.layer_gemms("train", 1, 1)


@pytest.mark.parametrize("preset", sorted(EXPERT_PRESETS))
def test_every_preset_is_consistent(preset):
    e = resolve_expert({"name": "e", "preset": preset}, "x")
    assert e.d_model % e.heads == 0 and e.heads % e.kv_heads == 0
