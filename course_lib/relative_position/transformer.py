"""A compact pre-LN Transformer with a pluggable position mechanism (encoder-only tagger and encoder–decoder).

Position schemes (:data:`POSITION_SCHEMES`):

- ``none``                 — no position information at all (attention is permutation-equivariant);
- ``sinusoidal``           — absolute sinusoids added to the embeddings (Vaswani et al. 2017, the paper's baseline);
- ``learned``              — learned absolute position vectors (``max_len`` slots);
- ``relative``             — Shaw et al.: a^K and a^V in every self-attention layer, clipping distance k;
- ``relative_keys`` / ``relative_values`` — one of the two terms only (the paper's Table 3 ablation);
- ``relative+sinusoidal``  — both (the paper: "no further improvement").

As in tensor2tensor's ``transformer_relative``, relative representations sit in encoder self-attention and decoder
masked self-attention; encoder–decoder attention is unchanged (§3 of the paper).
"""
from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from course_lib.relative_position.attention import (
    IMPLS,
    KVCache,
    MultiheadCrossAttention,
    RelativeMultiheadAttention,
)
from course_lib.relative_position.positions import LearnedPositionalEmbedding, sinusoidal_encoding

POSITION_SCHEMES = ("none", "sinusoidal", "learned", "relative", "relative_keys", "relative_values",
                    "relative+sinusoidal")


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    """Hyper-parameters of :class:`SequenceTagger` and :class:`Seq2SeqTransformer`.

    ``scale_embeddings``: multiply token embeddings by sqrt(d_model) (Vaswani et al.). Off by default: on the
    synthetic tasks the scaled tokens drown the absolute positions and the absolute baselines then fail to fit
    even the training lengths, which would make the comparison unfair.
    """

    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 1
    num_decoder_layers: int = 1
    d_ff: int = 256
    dropout: float = 0.0
    position: str = "relative"
    max_relative_position: int = 8
    max_len: int = 128
    scale_embeddings: bool = False
    per_head_tables: bool = False
    impl: str = "fused"

    def __post_init__(self):
        if self.position not in POSITION_SCHEMES:
            raise ValueError(f"position must be one of {POSITION_SCHEMES}, got {self.position!r}")
        if self.impl not in IMPLS:
            raise ValueError(f"impl must be one of {IMPLS}, got {self.impl!r}")
        for name in ("d_model", "num_heads", "num_layers", "d_ff", "max_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by num_heads ({self.num_heads})")
        if self.max_relative_position < 0:
            raise ValueError(f"max_relative_position must be >= 0, got {self.max_relative_position}")

    @property
    def relative(self) -> bool:
        """True for the relative schemes (relation-aware self-attention, Eq. 3–4)."""
        return self.position.startswith("relative")

    @property
    def absolute(self) -> str | None:
        """'sinusoidal', 'learned' or None."""
        return {"sinusoidal": "sinusoidal", "relative+sinusoidal": "sinusoidal", "learned": "learned"}.get(
            self.position)

    def self_attention(self) -> RelativeMultiheadAttention:
        """The self-attention module this configuration asks for (relative tables or plain)."""
        return RelativeMultiheadAttention(
            self.d_model, self.num_heads, self.max_relative_position if self.relative else None,
            use_keys=self.position != "relative_values", use_values=self.position != "relative_keys",
            per_head_tables=self.per_head_tables, dropout=self.dropout, impl=self.impl)


class TokenEmbedding(nn.Module):
    """Token embedding (optionally × sqrt(d)) plus the absolute positions of the scheme, then dropout."""

    def __init__(self, cfg: TransformerConfig, vocab_size: int, padding_idx: int | None = None):
        super().__init__()
        self.cfg = cfg
        self.tokens = nn.Embedding(vocab_size, cfg.d_model, padding_idx=padding_idx)
        nn.init.normal_(self.tokens.weight, std=cfg.d_model ** -0.5)
        if padding_idx is not None:
            with torch.no_grad():
                self.tokens.weight[padding_idx].zero_()
        self.learned = LearnedPositionalEmbedding(cfg.max_len, cfg.d_model) if cfg.absolute == "learned" else None
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, tokens: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """tokens (b, n) -> (b, n, d_model); ``offset`` = absolute position of column 0 (incremental decoding)."""
        x = self.tokens(tokens)
        if self.cfg.scale_embeddings:
            x = x * math.sqrt(self.cfg.d_model)
        n = tokens.shape[1]
        if self.cfg.absolute == "sinusoidal":
            x = x + sinusoidal_encoding(n, self.cfg.d_model, offset=offset, device=x.device, dtype=x.dtype)
        elif self.learned is not None:
            x = x + self.learned(n, offset)
        return self.drop(x)


def _feed_forward(cfg: TransformerConfig) -> nn.Sequential:
    return nn.Sequential(nn.Linear(cfg.d_model, cfg.d_ff), nn.ReLU(), nn.Dropout(cfg.dropout),
                         nn.Linear(cfg.d_ff, cfg.d_model))


class EncoderLayer(nn.Module):
    """Pre-LN block: x + SelfAttn(LN(x)), then x + FFN(LN(x)) (t2t's layer_preprocess 'n', postprocess 'da')."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = cfg.self_attention()
        self.ff = _feed_forward(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, key_padding_mask=None, need_weights: bool = False):
        """x (b, n, d) -> (x', attention weights or None)."""
        a, w = self.attn(self.norm1(x), key_padding_mask=key_padding_mask, need_weights=need_weights)
        x = x + self.drop(a)
        return x + self.drop(self.ff(self.norm2(x))), w


class DecoderLayer(nn.Module):
    """Pre-LN block: causal relation-aware self-attention, encoder–decoder attention, feed-forward."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(cfg.d_model) for _ in range(3))
        self.self_attn = cfg.self_attention()
        self.cross_attn = MultiheadCrossAttention(cfg.d_model, cfg.num_heads, dropout=cfg.dropout)
        self.ff = _feed_forward(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x, memory_kv, memory_padding_mask=None, cache: KVCache | None = None,
                need_weights: bool = False):
        """x (b, n, d) -> (x', (self-attention weights, cross-attention weights))."""
        a, ws = self.self_attn(self.norm1(x), causal=True, cache=cache, need_weights=need_weights)
        x = x + self.drop(a)
        c, wc = self.cross_attn(self.norm2(x), memory_kv, memory_padding_mask, need_weights=need_weights)
        x = x + self.drop(c)
        return x + self.drop(self.ff(self.norm3(x))), (ws, wc)


class Encoder(nn.Module):
    """Embedding + ``num_layers`` encoder layers + final LayerNorm."""

    def __init__(self, cfg: TransformerConfig, vocab_size: int, padding_idx: int | None = None):
        super().__init__()
        self.embed = TokenEmbedding(cfg, vocab_size, padding_idx)
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.num_layers))
        self.norm = nn.LayerNorm(cfg.d_model)

    def forward(self, tokens, key_padding_mask=None, need_weights: bool = False):
        """tokens (b, n) -> (states (b, n, d_model), list of per-layer attention weights or Nones)."""
        x = self.embed(tokens)
        weights = []
        for layer in self.layers:
            x, w = layer(x, key_padding_mask, need_weights)
            weights.append(w)
        return self.norm(x), weights


class SequenceTagger(nn.Module):
    """Encoder-only model: one label per input position (the synthetic tasks)."""

    def __init__(self, cfg: TransformerConfig, vocab_size: int, num_classes: int):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg, vocab_size)
        self.head = nn.Linear(cfg.d_model, num_classes)

    def forward(self, tokens: torch.Tensor, need_weights: bool = False):
        """tokens (b, n) int64 -> logits (b, n, num_classes) (and attention weights if asked)."""
        if tokens.dim() != 2 or tokens.dtype != torch.long:
            raise ValueError(f"tokens must be a (batch, length) int64 tensor, got {tuple(tokens.shape)} "
                             f"{tokens.dtype}")
        h, weights = self.encoder(tokens, need_weights=need_weights)
        logits = self.head(h)
        return (logits, weights) if need_weights else logits


@dataclasses.dataclass
class DecoderState:
    """What incremental decoding carries between steps: memory keys/values, one KV cache per layer."""

    memory_kv: list
    memory_padding_mask: torch.Tensor | None
    caches: list
    length: int = 0

    def reorder(self, index: torch.Tensor) -> None:
        """Keep batch rows ``index`` (beam search)."""
        self.memory_kv = [(k.index_select(0, index), v.index_select(0, index)) for k, v in self.memory_kv]
        if self.memory_padding_mask is not None:
            self.memory_padding_mask = self.memory_padding_mask.index_select(0, index)
        for c in self.caches:
            c.reorder(index)


class Seq2SeqTransformer(nn.Module):
    """Encoder–decoder Transformer for translation, with incremental decoding (:meth:`decode_step`)."""

    def __init__(self, cfg: TransformerConfig, src_vocab: int, tgt_vocab: int, pad_id: int = 0):
        super().__init__()
        self.cfg, self.pad_id = cfg, pad_id
        self.encoder = Encoder(cfg, src_vocab, padding_idx=pad_id)
        self.embed = TokenEmbedding(cfg, tgt_vocab, padding_idx=pad_id)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_decoder_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.out = nn.Linear(cfg.d_model, tgt_vocab)

    def encode(self, src: torch.Tensor, need_weights: bool = False):
        """src (b, m) -> (memory (b, m, d), padding mask (b, m), encoder attention weights)."""
        pad = src == self.pad_id
        memory, weights = self.encoder(src, pad, need_weights)
        return memory, pad, weights

    def decode(self, tgt_in, memory, memory_padding_mask=None, need_weights: bool = False):
        """Teacher forcing: tgt_in (b, n) -> logits (b, n, V) with causal self-attention (all steps at once)."""
        x = self.embed(tgt_in)
        weights = []
        for layer in self.layers:
            x, w = layer(x, layer.cross_attn.memory_kv(memory), memory_padding_mask, need_weights=need_weights)
            weights.append(w)
        logits = self.out(self.norm(x))
        return (logits, weights) if need_weights else logits

    def forward(self, src, tgt_in):
        """Training forward: logits (b, n, V) for next-token prediction."""
        memory, pad, _ = self.encode(src)
        return self.decode(tgt_in, memory, pad)

    def start(self, memory, memory_padding_mask=None) -> DecoderState:
        """A fresh decoding state for :meth:`decode_step` (memory keys/values projected once)."""
        return DecoderState([layer.cross_attn.memory_kv(memory) for layer in self.layers], memory_padding_mask,
                            [KVCache() for _ in self.layers])

    def decode_step(self, state: DecoderState, tokens: torch.Tensor, need_weights: bool = False):
        """Feed the next target token(s) (b, t) given the cache; returns logits of the last position (b, V).

        The new rows sit at absolute positions state.length.. (relative index clip(j - i) uses that offset).
        """
        x = self.embed(tokens, offset=state.length)
        weights = []
        for layer, mkv, cache in zip(self.layers, state.memory_kv, state.caches):
            x, w = layer(x, mkv, state.memory_padding_mask, cache=cache, need_weights=need_weights)
            weights.append(w)
        state.length += tokens.shape[1]
        logits = self.out(self.norm(x[:, -1]))
        return (logits, weights) if need_weights else logits


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
