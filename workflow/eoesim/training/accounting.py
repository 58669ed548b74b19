"""Parameters, FLOPs and memory of training one expert (bf16 weights, fp32 gradients, master weights and Adam).

Counting conventions (the parameter count is eoe.expert's: untied embedding and LM head, no biases):

- matmul parameters: the weights every token multiplies - per layer the q/k/v/o projections and the FFN,
  plus the LM head; the embedding table is a lookup, not a GEMM, and the norms are element-wise.
- training FLOPs per token = 6 x matmul parameters (forward 2, input gradient 2, weight gradient 2) plus the
  attention term 12 x layers x seq_len x d_model (the full seq_len x seq_len score and value GEMMs, forward
  and backward, no causal halving: what the GEMM lowering in training.gemms runs). Full recomputation adds a
  second forward pass of the layers (not of the LM head, whose logits the loss keeps): about 1/3 more.
- memory per device (Korthikanti et al., "Reducing Activation Recomputation in Large Transformer Models",
  MLSys 2023, without sequence parallelism): working weights, gradient buffer, master weights + optimizer
  state of the device's shard (tensor parallel divides every layer, the embedding and the LM head; pipeline
  stages hold their layers, the first the embedding, the last the LM head and final norm; ZeRO stage >= 1
  divides the optimizer state, >= 2 the gradients, 3 the weights by the data-parallel degree) and the
  activations saved for the backward pass of the micro-batches in flight (1F1B: stage i holds
  min(pp - i, micro-batches) of them). Activations per layer and micro-batch of b sequences:
  replicated s*b*d x 4 values (two norm inputs, the QKV and MLP inputs); split over tp: Q, K, V and the
  output-projection input ((2d + 2 kv_dim) s*b values), the FFN intermediates (2 d_ff, gated 3 d_ff, values
  per token) and the softmax output (heads s^2 b); dropout adds the dropout outputs of the scores
  (heads s^2 b values) and three 1-byte masks (scores, attention output, MLP output). With recomputation only
  each layer's input (s*b*d values) is kept. The last stage also keeps its logits (s*b*vocab/tp values).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from eoesim.eoe.expert import Expert


@dataclass(frozen=True)
class Precision:
    """Bytes per value of each kind of training state."""

    weight_bytes: float = 2.0
    activation_bytes: float = 2.0
    grad_bytes: float = 4.0
    master_bytes: float = 4.0
    optimizer_state_bytes: float = 8.0

    @property
    def checkpoint_bytes_per_param(self) -> float:
        """What a checkpoint stores: working weights, master weights and optimizer state."""
        return self.weight_bytes + self.master_bytes + self.optimizer_state_bytes

    @property
    def optimizer_update_bytes_per_param(self) -> float:
        """Memory traffic of one optimizer update: read gradient, master and state; write master, state and
        the working copy of the weight."""
        return self.grad_bytes + 2 * (self.master_bytes + self.optimizer_state_bytes) + self.weight_bytes


@dataclass(frozen=True)
class Layout:
    """Tensor x pipeline x data parallel degrees of one expert, and its ZeRO stage."""

    tp: int = 1
    pp: int = 1
    dp: int = 1
    zero: int = 0

    @property
    def devices(self) -> int:
        return self.tp * self.pp * self.dp


def kv_dim(e: Expert) -> int:
    return e.kv_heads * e.head_dim


def ffn_up_width(e: Expert) -> int:
    return 2 * e.d_ff if e.gated_ffn else e.d_ff


def layer_matmul_params(e: Expert) -> int:
    d = e.d_model
    return d * (e.heads * e.head_dim + 2 * kv_dim(e)) + d * d + ffn_up_width(e) * d + e.d_ff * d


def matmul_params(e: Expert) -> int:
    """Weights multiplied by every token: all layers' projections and FFNs and the LM head."""
    return e.layers * layer_matmul_params(e) + e.vocab * e.d_model


def training_flops_per_token(e: Expert, seq_len: int, recompute: bool = False) -> float:
    """FLOPs (2 per MAC) of one token's forward and backward pass (see the module docstring)."""
    attention = 4 * e.layers * seq_len * e.d_model
    flops = 3 * (2 * matmul_params(e) + attention)
    if recompute:
        flops += 2 * e.layers * layer_matmul_params(e) + attention
    return flops


def stage_layers(layers: int, pp: int) -> list[int]:
    """Layers of each pipeline stage: as even as possible, the first stages take the remainder."""
    base, extra = divmod(layers, pp)
    return [base + (1 if i < extra else 0) for i in range(pp)]


def stage_params(e: Expert, pp: int, stage: int) -> int:
    """Parameters held by pipeline stage ``stage`` (before tensor-parallel splitting)."""
    d = e.d_model
    per_layer = layer_matmul_params(e) + 2 * d
    params = stage_layers(e.layers, pp)[stage] * per_layer
    if stage == 0:
        params += e.vocab * d
    if stage == pp - 1:
        params += e.vocab * d + d
    return params


def activation_bytes_per_layer(e: Expert, seq_len: int, micro_batch: int, tp: int, precision: Precision,
                               recompute: bool, dropout: bool) -> float:
    """Bytes one layer keeps for the backward pass of one micro-batch on one tensor-parallel rank."""
    s, b, d, a = seq_len, micro_batch, e.d_model, precision.activation_bytes
    if recompute:
        return s * b * d * a
    replicated = 4 * s * b * d * a
    ffn_values = (3 if e.gated_ffn else 2) * e.d_ff
    split = (2 * d + 2 * kv_dim(e) + ffn_values) * s * b * a + e.heads * s * s * b * a
    if dropout:
        replicated += 2 * s * b * d  # 1-byte masks of the attention output and the MLP output
        split += e.heads * s * s * b * (a + 1)  # dropped-out scores and their mask
    return replicated + split / tp


def logits_bytes(e: Expert, seq_len: int, micro_batch: int, tp: int, precision: Precision) -> float:
    return seq_len * micro_batch * math.ceil(e.vocab / tp) * precision.activation_bytes


@dataclass(frozen=True)
class DeviceMemory:
    """Bytes one device (chiplet) holds while training."""

    weights: float
    gradients: float
    optimizer: float
    activations: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations


def device_memory(e: Expert, layout: Layout, stage: int, micro_batches: int, seq_len: int, micro_batch: int,
                  precision: Precision, recompute: bool, dropout: bool) -> DeviceMemory:
    """Memory of one device of pipeline stage ``stage`` (see the module docstring)."""
    params = stage_params(e, layout.pp, stage) / layout.tp
    dp = layout.dp
    weights = precision.weight_bytes * params / (dp if layout.zero >= 3 else 1)
    grads = precision.grad_bytes * params / (dp if layout.zero >= 2 else 1)
    optimizer = (precision.master_bytes + precision.optimizer_state_bytes) * params / (dp if layout.zero >= 1 else 1)
    in_flight = min(layout.pp - stage, micro_batches)
    per_layer = activation_bytes_per_layer(e, seq_len, micro_batch, layout.tp, precision, recompute, dropout)
    acts = per_layer * stage_layers(e.layers, layout.pp)[stage] * in_flight
    if stage == layout.pp - 1:
        acts += logits_bytes(e, seq_len, micro_batch, layout.tp, precision)
    return DeviceMemory(weights, grads, optimizer, acts)


def peak_device_memory(e: Expert, layout: Layout, micro_batches: int, seq_len: int, micro_batch: int,
                       precision: Precision, recompute: bool, dropout: bool) -> DeviceMemory:
    """The device of the pipeline stage that holds the most."""
    return max((device_memory(e, layout, i, micro_batches, seq_len, micro_batch, precision, recompute, dropout)
                for i in range(layout.pp)), key=lambda m: m.total)
