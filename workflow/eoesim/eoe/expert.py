"""Decoder-only transformer experts: presets, derived sizes, and the GEMMs of one layer."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping

from eoesim.errors import ConfigError

#: Small open-model-like shapes (layers, d_model, heads, kv_heads, d_ff, vocab, gated FFN).
EXPERT_PRESETS: dict[str, dict[str, Any]] = {
    "tiny-25m": dict(layers=4, d_model=256, heads=4, kv_heads=4, d_ff=1024, vocab=32000, gated_ffn=False),
    "small-125m": dict(layers=12, d_model=768, heads=12, kv_heads=12, d_ff=3072, vocab=50257, gated_ffn=False),
    "small-350m": dict(layers=24, d_model=1024, heads=16, kv_heads=16, d_ff=4096, vocab=50257, gated_ffn=False),
    "small-1b": dict(layers=22, d_model=2048, heads=32, kv_heads=4, d_ff=5632, vocab=32000, gated_ffn=True),
    "medium-3b": dict(layers=26, d_model=3072, heads=24, kv_heads=8, d_ff=8192, vocab=32000, gated_ffn=True),
}
SHAPE_FIELDS = ("layers", "d_model", "heads", "kv_heads", "d_ff", "vocab", "gated_ffn")
DEFAULT_BYTES_PER_WEIGHT = 2.0


@dataclass(frozen=True)
class Gemm:
    """One matrix multiply ``(M x K) @ (K x N)``, executed ``instances`` times (e.g. once per head)."""

    name: str
    m: int
    n: int
    k: int
    instances: int = 1

    @property
    def macs(self) -> int:
        return self.m * self.n * self.k * self.instances


@dataclass(frozen=True)
class Expert:
    name: str
    layers: int
    d_model: int
    heads: int
    kv_heads: int
    d_ff: int
    vocab: int
    gated_ffn: bool = False
    bytes_per_weight: float = DEFAULT_BYTES_PER_WEIGHT

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads

    def layer_gemms(self, phase: str, seq_len: int, batch: int) -> list[Gemm]:
        """The GEMMs of one decoder layer.

        prefill: ``seq_len`` prompt tokens per sequence; decode: one new token attending to
        ``seq_len`` cached tokens. Attention GEMMs are per (sequence, head): ``instances = batch*heads``.
        """
        hd, d, f = self.head_dim, self.d_model, self.d_ff
        qkv_n = (self.heads + 2 * self.kv_heads) * hd
        if phase == "prefill":
            tokens, q_rows, kv_len = batch * seq_len, seq_len, seq_len
        elif phase == "decode":
            tokens, q_rows, kv_len = batch, 1, seq_len
        else:
            raise ConfigError(f"workload.scalesim.phase: {phase!r} is not allowed; allowed: ['prefill', 'decode']")
        up_n = 2 * f if self.gated_ffn else f
        per_seq_head = batch * self.heads
        return [
            Gemm("qkv_proj", tokens, qkv_n, d),
            Gemm("attn_score", q_rows, kv_len, hd, per_seq_head),
            Gemm("attn_value", q_rows, hd, kv_len, per_seq_head),
            Gemm("out_proj", tokens, d, d),
            Gemm("ffn_up", tokens, up_n, d),
            Gemm("ffn_down", tokens, d, f),
        ]


def resolve_expert(spec: Mapping[str, Any], path: str) -> Expert:
    """An Expert from a config entry: preset values, overridden by explicit fields; checked for consistency."""
    fields: dict[str, Any] = {}
    preset = spec.get("preset")
    if preset is not None:
        if preset not in EXPERT_PRESETS:
            raise ConfigError(f"{path}.preset: {preset!r} is not a known preset; allowed: {sorted(EXPERT_PRESETS)}")
        fields.update(EXPERT_PRESETS[preset])
    fields.update({k: v for k, v in spec.items() if k in SHAPE_FIELDS or k == "bytes_per_weight"})
    fields.setdefault("gated_ffn", False)
    missing = [k for k in SHAPE_FIELDS if k not in fields]
    if missing:
        raise ConfigError(
            f"{path}: expert {spec.get('name')!r} lacks {missing}; give them or a preset "
            f"(allowed presets: {sorted(EXPERT_PRESETS)})"
        )
    if fields["d_model"] % fields["heads"]:
        raise ConfigError(
            f"{path}.heads: {fields['heads']} does not divide d_model={fields['d_model']}; "
            "allowed: a divisor of d_model"
        )
    if fields["heads"] % fields["kv_heads"]:
        raise ConfigError(
            f"{path}.kv_heads: {fields['kv_heads']} does not divide heads={fields['heads']}; "
            "allowed: a divisor of heads"
        )
    return Expert(name=spec["name"], **fields)


# --- derived sizes and per-token work (used by the EoE stitcher) -------------------------------------
#
# Counting conventions (stated once, used everywhere):
# - weights of a layer: q and o projections d*d each, k and v projections d*(kv_heads*head_dim) each,
#   FFN up d*d_ff (twice when gated) and down d_ff*d, two RMS/LayerNorm gains of d; no biases;
# - the token embedding (vocab*d) and the LM head (d*vocab) are counted separately (untied), plus a final
#   norm of d. This reproduces LLaMA-style counts exactly (small-1b = 1,100,048,384, TinyLlama-1.1B);
#   GPT-2-style models with tied embeddings and learned positions (small-125m/350m) count higher than
#   their published sizes because the tied head is counted twice and biases/positions are ignored.
# - the KV cache stores keys and values of every layer at the weight precision.

#: bytes of one token id moved between chiplets (int32)
TOKEN_ID_BYTES = 4


def _layer_param_count(e: "Expert") -> int:
    d, kv = e.d_model, e.kv_heads * e.head_dim
    attn = 2 * d * d + 2 * d * kv
    ffn = (3 if e.gated_ffn else 2) * d * e.d_ff
    return attn + ffn + 2 * d


def param_count(e: "Expert") -> int:
    """Number of parameters (see the counting conventions above)."""
    return e.layers * _layer_param_count(e) + 2 * e.vocab * e.d_model + e.d_model


def param_bytes(e: "Expert") -> float:
    """Bytes of all weights at ``bytes_per_weight`` (what an expert load moves SSD -> DDR -> HBM)."""
    return param_count(e) * e.bytes_per_weight


def streamed_weight_bytes(e: "Expert") -> float:
    """Weight bytes read from memory by one forward step: everything but the embedding table, of which a
    step reads only the rows of its tokens (negligible)."""
    return (param_count(e) - e.vocab * e.d_model) * e.bytes_per_weight


def kv_bytes_per_token(e: "Expert") -> float:
    """KV-cache bytes one token adds: keys and values of every layer, ``2*layers*kv_heads*head_dim``."""
    return 2 * e.layers * e.kv_heads * e.head_dim * e.bytes_per_weight


def lm_head_gemm(e: "Expert", batch: int = 1) -> Gemm:
    """The LM-head projection of the last position of each sequence (prefill and decode alike)."""
    return Gemm("lm_head", batch, e.vocab, e.d_model)


def forward_gemms(e: "Expert", phase: str, seq_len: int, batch: int = 1) -> list[tuple[Gemm, int]]:
    """All GEMMs of one forward pass as ``(gemm, repeats)``: each layer GEMM repeated ``layers`` times,
    then the LM head once."""
    return [(g, e.layers) for g in e.layer_gemms(phase, seq_len, batch)] + [(lm_head_gemm(e, batch), 1)]


def forward_macs(e: "Expert", phase: str, seq_len: int, batch: int = 1) -> int:
    return sum(g.macs * r for g, r in forward_gemms(e, phase, seq_len, batch))


def flops_per_token(e: "Expert", context_len: int) -> int:
    """FLOPs (2 per MAC) to generate one token that attends to ``context_len`` cached tokens."""
    return 2 * forward_macs(e, "decode", context_len, 1)


def prefill_flops(e: "Expert", prompt_tokens: int) -> int:
    """FLOPs of the prefill of one prompt (all layers; LM head of the last position only)."""
    return 2 * forward_macs(e, "prefill", prompt_tokens, 1)


def shape_key(e: "Expert") -> tuple:
    """The fields that determine sizes and GEMMs (two experts with one shape_key cost the same)."""
    return tuple(getattr(e, f) for f in SHAPE_FIELDS) + (e.bytes_per_weight,)


def resolve_experts(specs, path: str = "eoe.experts") -> list[Expert]:
    """Every expert of ``eoe.experts``, resolved (names are checked for uniqueness)."""
    experts = [resolve_expert(s, f"{path}[{i}]") for i, s in enumerate(specs)]
    names = [x.name for x in experts]
    dupes = sorted(n for n, times in Counter(names).items() if times > 1)
    if dupes:
        raise ConfigError(f"{path}: duplicate expert names {dupes}; allowed: unique names")
    return experts
