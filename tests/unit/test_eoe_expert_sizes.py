"""Derived sizes of an expert - parameters, KV bytes, FLOPs - against hand counts."""
import pytest

from eoesim.eoe.expert import (
    Expert,
    flops_per_token,
    forward_gemms,
    kv_bytes_per_token,
    param_bytes,
    param_count,
    prefill_flops,
    resolve_expert,
    resolve_experts,
    streamed_weight_bytes,
)
from eoesim.errors import ConfigError

# layers=1, d=8, heads=1, kv_heads=1, d_ff=8, vocab=4: small enough to count by hand
TINY = Expert(name="t", layers=1, d_model=8, heads=1, kv_heads=1, d_ff=8, vocab=4)


def test_parameter_count_of_a_hand_sized_expert():
    # q,o: 2*8*8 = 128; k,v: 2*8*8 = 128; ffn up+down: 2*8*8 = 128; two norms: 16 -> 400 per layer
    # embedding 4*8 + LM head 8*4 = 64, final norm 8 -> 472
    assert param_count(TINY) == 472
    assert param_bytes(TINY) == 944  # fp16
    assert streamed_weight_bytes(TINY) == (472 - 32) * 2  # the embedding table is not streamed


def test_parameter_count_matches_a_published_llama_style_model():
    # small-1b has TinyLlama-1.1B's shape; its published parameter count is 1,100,048,384
    e = resolve_expert({"name": "x", "preset": "small-1b"}, "x")
    assert param_count(e) == 1_100_048_384
    assert param_bytes(e) == 2 * 1_100_048_384


def test_gated_ffn_and_grouped_query_attention_counts():
    e = Expert(name="g", layers=2, d_model=16, heads=4, kv_heads=2, d_ff=32, vocab=10, gated_ffn=True)
    # per layer: q,o 2*256 = 512; k,v 2*16*(2*4) = 256; ffn 3*16*32 = 1536; norms 32 -> 2336
    assert param_count(e) == 2 * 2336 + 2 * 10 * 16 + 16


def test_kv_bytes_per_token():
    assert kv_bytes_per_token(TINY) == 2 * 1 * 1 * 8 * 2
    e = resolve_expert({"name": "x", "preset": "small-1b"}, "x")
    assert kv_bytes_per_token(e) == 2 * 22 * 4 * 64 * 2 == 22528
    e8 = resolve_expert({"name": "x", "preset": "small-1b", "bytes_per_weight": 1}, "x")
    assert kv_bytes_per_token(e8) == 11264


def test_flops_of_one_decode_token_and_a_prefill():
    # decode at context L: qkv 1*24*8=192, score 1*L*8, value 1*8*L, out/up/down 3*64, lm head 1*4*8 = 32
    for L in (1, 5, 100):
        assert flops_per_token(TINY, L) == 2 * (192 + 16 * L + 192 + 32)
    # prefill of 4 tokens: qkv 4*24*8=768, score 4*4*8=128, value 4*8*4=128, out/up/down 3*256, lm head 32
    assert prefill_flops(TINY, 4) == 2 * (768 + 128 + 128 + 768 + 32)


def test_forward_gemms_repeat_layer_gemms_and_add_one_lm_head():
    e = Expert(name="e", layers=3, d_model=8, heads=1, kv_heads=1, d_ff=8, vocab=4)
    gs = forward_gemms(e, "decode", 7)
    assert [(g.name, r) for g, r in gs][-1] == ("lm_head", 1)
    assert all(r == 3 for g, r in gs[:-1]) and len(gs) == 7
    lm = gs[-1][0]
    assert (lm.m, lm.n, lm.k) == (1, 4, 8)


def test_resolve_experts_rejects_duplicates():
    with pytest.raises(ConfigError, match="duplicate"):
        resolve_experts([{"name": "a", "preset": "tiny-25m"}, {"name": "a", "preset": "tiny-25m"}])
