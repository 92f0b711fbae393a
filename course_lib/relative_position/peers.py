"""Peer position mechanisms from ``transformers`` (random weights, built from configs; nothing downloads).

- T5 relative attention bias: one learned *scalar* per head and log-spaced distance bucket, added to the logits
  (``relative_attention_num_buckets`` 32, ``relative_attention_max_distance`` 128);
- DeBERTa-v2 disentangled attention: content→position and position→content terms over bucketed relative
  distances (``position_buckets``, ``max_relative_positions``).

Each wrapper maps hidden states (b, n, d_model) to (b, n, d_model) like our
:class:`~course_lib.relative_position.attention.RelativeMultiheadAttention`, so the attention modules alone can be
timed on identical inputs.
"""
from __future__ import annotations

import os

import torch
from torch import nn

os.environ.setdefault("HF_HUB_OFFLINE", "1")


class T5RelativeBiasAttention(nn.Module):
    """transformers' ``T5Attention`` with ``has_relative_attention_bias=True`` (encoder, bidirectional buckets)."""

    def __init__(self, d_model: int, num_heads: int, num_buckets: int = 32, max_distance: int = 128):
        super().__init__()
        from transformers import T5Config
        from transformers.models.t5.modeling_t5 import T5Attention

        if d_model % num_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads})")
        cfg = T5Config(d_model=d_model, d_kv=d_model // num_heads, num_heads=num_heads, dropout_rate=0.0,
                       relative_attention_num_buckets=num_buckets, relative_attention_max_distance=max_distance,
                       is_decoder=False, use_cache=False)
        cfg._attn_implementation = "eager"
        self.attn = T5Attention(cfg, has_relative_attention_bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(b, n, d_model) -> (b, n, d_model)."""
        return self.attn(x)[0]


class DebertaDisentangledAttention(nn.Module):
    """transformers' DeBERTa-v2 ``DisentangledSelfAttention`` (c2p + p2c) with its relative embedding table."""

    def __init__(self, d_model: int, num_heads: int, position_buckets: int = 256, max_relative_positions: int = 512):
        super().__init__()
        from transformers import DebertaV2Config
        from transformers.models.deberta_v2.modeling_deberta_v2 import DisentangledSelfAttention

        cfg = DebertaV2Config(hidden_size=d_model, num_attention_heads=num_heads, intermediate_size=4 * d_model,
                              relative_attention=True, position_buckets=position_buckets,
                              max_relative_positions=max_relative_positions, pos_att_type=["p2c", "c2p"],
                              share_att_key=True, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                              max_position_embeddings=max_relative_positions)
        self.attn = DisentangledSelfAttention(cfg)
        self.rel_embeddings = nn.Embedding(2 * position_buckets, d_model)
        self.position_buckets, self.max_relative_positions = position_buckets, max_relative_positions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(b, n, d_model) -> (b, n, d_model); relative positions bucketed as in DeBERTa-v2."""
        from transformers.models.deberta_v2.modeling_deberta_v2 import build_relative_position

        b, n, _ = x.shape
        rel = build_relative_position(x, x, bucket_size=self.position_buckets,
                                      max_position=self.max_relative_positions)
        mask = torch.ones(b, 1, n, n, dtype=torch.bool, device=x.device)
        return self.attn(x, mask, relative_pos=rel, rel_embeddings=self.rel_embeddings.weight)[0]


class TorchMHA(nn.Module):
    """``torch.nn.MultiheadAttention`` (fused SDPA inside) as a (b, n, d) -> (b, n, d) self-attention."""

    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, num_heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(b, n, d_model) -> (b, n, d_model)."""
        return self.attn(x, x, x, need_weights=False)[0]


class ShawAttention(nn.Module):
    """Ours: :class:`RelativeMultiheadAttention` (clipping distance k, a^K and a^V) returning only the output."""

    def __init__(self, d_model: int, num_heads: int, k: int = 16, impl: str = "fused"):
        super().__init__()
        from course_lib.relative_position.attention import RelativeMultiheadAttention

        self.attn = RelativeMultiheadAttention(d_model, num_heads, k, impl=impl)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(b, n, d_model) -> (b, n, d_model)."""
        return self.attn(x)[0]


def peer_modules(d_model: int = 128, num_heads: int = 4, k: int = 16) -> dict[str, nn.Module]:
    """Same-shape self-attention modules: ours (Shaw, fused), torch MHA, T5 bias, DeBERTa disentangled."""
    return {"Shaw relative (ours, fused)": ShawAttention(d_model, num_heads, k),
            "torch nn.MultiheadAttention": TorchMHA(d_model, num_heads),
            "T5 relative bias (transformers)": T5RelativeBiasAttention(d_model, num_heads),
            "DeBERTa-v2 disentangled (transformers)": DebertaDisentangledAttention(d_model, num_heads)}


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters of a module."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
