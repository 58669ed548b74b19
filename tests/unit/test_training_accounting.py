"""Parameters, FLOPs and memory of training, against hand-computed cases."""
import pytest
from training_cases import SMALL

from eoesim.eoe.expert import Expert, param_count
from eoesim.training.accounting import (
    Layout,
    Precision,
    activation_bytes_per_layer,
    device_memory,
    matmul_params,
    training_flops_per_token,
)
from eoesim.training.gemms import micro_batch_gemms

E = Expert("x", **SMALL)


def test_matmul_params_by_hand():
    # per layer: qkv 64 x 192 + out 64 x 64 + up 64 x 256 + down 256 x 64 = 12288 + 4096 + 16384 + 16384
    assert matmul_params(E) == 2 * 49152 + 1000 * 64
    # eoe.expert's count = matmul params + the embedding table + two norms per layer + the final norm
    assert param_count(E) == matmul_params(E) + 1000 * 64 + 2 * 2 * 64 + 64


def test_training_flops_per_token_is_6n_plus_attention():
    # 6 x 162304 matmul params + 12 x layers x seq_len x d_model (score and value GEMMs, fwd + bwd)
    assert training_flops_per_token(E, 32) == 6 * 162304 + 12 * 2 * 32 * 64 == 1022976


def test_the_gemm_lowering_computes_exactly_those_flops():
    """Forward, input-gradient and weight-gradient GEMMs of one micro-batch (3 sequences of 32 tokens)."""
    gemms = micro_batch_gemms(E, 32, 3, tp=1, layers=2, lm_head=True, recompute=False)
    assert {g.phase for g in gemms} == {"forward", "input_grad", "weight_grad"}
    assert 2 * sum(g.macs for g in gemms) == 3 * 32 * training_flops_per_token(E, 32)
    fwd = sum(g.macs for g in gemms if g.phase == "forward")
    assert sum(g.macs for g in gemms if g.phase != "forward") == 2 * fwd  # backward = 2 x forward


def test_recomputation_adds_one_third_compute():
    plain = micro_batch_gemms(E, 32, 1, 1, 2, True, recompute=False)
    again = micro_batch_gemms(E, 32, 1, 1, 2, True, recompute=True)
    # the LM head's output (logits) is not recomputed: it is the last layer's, kept for the loss
    head = sum(g.macs for g in plain if g.phase == "forward" and g.gemm.name == "lm_head")
    assert sum(g.macs for g in again) - sum(g.macs for g in plain) == sum(
        g.macs for g in plain if g.phase == "forward") - head
    flops = training_flops_per_token(E, 32, recompute=True)
    assert flops == 2 * sum(g.macs for g in again) / 32
    # ~1/3 more: exactly 1/3 of the layers' share (the LM head, 64000 of 162304 matmul params here, is not re-run)
    assert flops / training_flops_per_token(E, 32) == pytest.approx(1 + (1022976 - 6 * 64000) / 3 / 1022976)
    big = Expert("big", layers=24, d_model=1024, heads=16, kv_heads=16, d_ff=4096, vocab=50257)
    assert training_flops_per_token(big, 1024, True) / training_flops_per_token(big, 1024) == pytest.approx(4 / 3,
                                                                                                          rel=0.05)


def test_activation_memory_is_korthikanti_with_dropout():
    """sbh(34 + 5as/h) bytes per layer at tp = 1, sbh(10 + 24/t + 5as/(ht)) at tp = t (MHA, d_ff = 4h)."""
    e = Expert("g", layers=2, d_model=64, heads=4, kv_heads=4, d_ff=256, vocab=1000)
    s, b, h, a = 32, 2, 64, 4
    prec = Precision()
    assert activation_bytes_per_layer(e, s, b, 1, prec, False, True) == s * b * h * (34 + 5 * a * s / h)
    assert activation_bytes_per_layer(e, s, b, 2, prec, False, True) == pytest.approx(
        s * b * h * (10 + 24 / 2 + 5 * a * s / (h * 2)))
    # without dropout: no masks, no dropped-out scores: sbh(8 + 24/t) + 2as^2b/t
    assert activation_bytes_per_layer(e, s, b, 1, prec, False, False) == s * b * h * 32 + 2 * a * s * s * b


def test_recomputation_trades_memory_for_compute():
    prec = Precision()
    full = activation_bytes_per_layer(E, 32, 2, 1, prec, recompute=False, dropout=False)
    kept = activation_bytes_per_layer(E, 32, 2, 1, prec, recompute=True, dropout=False)
    assert kept == 32 * 2 * 64 * 2  # only each layer's bf16 input
    assert kept < full / 10


def test_device_memory_bf16_fp32_adam_and_zero_sharding():
    n = param_count(E)
    plain = device_memory(E, Layout(dp=4), 0, 4, 32, 1, Precision(), False, False)
    assert (plain.weights, plain.gradients, plain.optimizer) == (2 * n, 4 * n, 12 * n)
    z1 = device_memory(E, Layout(dp=4, zero=1), 0, 4, 32, 1, Precision(), False, False)
    z2 = device_memory(E, Layout(dp=4, zero=2), 0, 4, 32, 1, Precision(), False, False)
    z3 = device_memory(E, Layout(dp=4, zero=3), 0, 4, 32, 1, Precision(), False, False)
    assert (z1.weights, z1.gradients, z1.optimizer) == (2 * n, 4 * n, 3 * n)
    assert (z2.weights, z2.gradients, z2.optimizer) == (2 * n, n, 3 * n)
    assert (z3.weights, z3.gradients, z3.optimizer) == (n / 2, n, 3 * n)
    assert plain.activations == z3.activations


def test_pipeline_stage_holds_its_layers_and_in_flight_micro_batches():
    prec = Precision()
    lay = Layout(pp=2, dp=1)
    first = device_memory(E, lay, 0, 8, 32, 1, prec, False, False)
    last = device_memory(E, lay, 1, 8, 32, 1, prec, False, False)
    per_layer = activation_bytes_per_layer(E, 32, 1, 1, prec, False, False)
    assert first.activations == 2 * per_layer  # 1 layer x 2 micro-batches in flight (1F1B warm-up of stage 0)
    assert last.activations == 1 * per_layer + 32 * 1000 * 2  # 1 layer x 1 micro-batch + its bf16 logits
    # stage 0 holds the embedding, the last stage the LM head and the final norm
    assert first.weights + last.weights == 2 * param_count(E)
