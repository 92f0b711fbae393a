"""Relative position indices with clipping, the learned relation tables, and the absolute baselines.

Sign convention (tensor2tensor's ``_generate_relative_positions_matrix``, fixed for the whole course):
``rel[i, j] = clip(j - i, -k, k) + k`` — query position i, key position j; a key to the *right* of the query
(j > i) has a positive distance; the +k shift turns the distance into a row of a ``(2k + 1, d)`` table.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from course_lib.checks import as_int


def _check_int(name: str, value, minimum: int = 0) -> int:
    """``value`` as a Python int >= ``minimum`` (numpy integers accepted; bool, float, str raise ValueError)."""
    try:
        return as_int(name, value, minimum=minimum)
    except TypeError as err:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}") from err


def clip_distance(distance: torch.Tensor, k: int) -> torch.Tensor:
    """clip(x, k) = max(-k, min(k, x)) of the paper's §3.2, elementwise on an integer tensor."""
    k = _check_int("k", k)
    if distance.is_floating_point():
        raise TypeError(f"distance must be an integer tensor, got {distance.dtype}")
    return distance.clamp(-k, k)


def relative_position_index(n_q: int, n_k: int | None = None, k: int = 16, *, q_offset: int = 0,
                            device: torch.device | str | None = None) -> torch.Tensor:
    """Index matrix ``rel[i, j] = clip(j - (i + q_offset), -k, k) + k`` of shape (n_q, n_k), values in [0, 2k].

    Paper §3.2: a^K_ij = w^K[rel[i, j]], a^V_ij = w^V[rel[i, j]]. ``q_offset`` is the absolute
    position of the first query row; incremental decoding uses n_q = 1 and q_offset = n_k - 1 (the new token
    attends to every earlier one).
    """
    n_q = _check_int("n_q", n_q, 1)
    n_k = n_q if n_k is None else _check_int("n_k", n_k, 1)
    k = _check_int("k", k)
    q_offset = _check_int("q_offset", q_offset)
    i = torch.arange(n_q, device=device).unsqueeze(1) + q_offset
    j = torch.arange(n_k, device=device).unsqueeze(0)
    return clip_distance(j - i, k) + k


class RelativePositionTable(nn.Module):
    """A learned table w = (w_{-k}, ..., w_k) of 2k + 1 vectors (§3.2); shared by all heads (t2t default).

    With ``heads`` given, one table per head (shape (heads, 2k + 1, depth)) — an option the paper does not use.
    Calling the module gathers the (n_q, n_k, depth) relation tensor a_ij = w[rel[i, j]] (the naive and einsum
    formulations need it; the fused one reads :attr:`weight` directly).
    """

    def __init__(self, k: int, depth: int, heads: int | None = None, init_std: float | None = None):
        super().__init__()
        self.k = _check_int("k", k)
        self.depth = _check_int("depth", depth, 1)
        self.heads = None if heads is None else _check_int("heads", heads, 1)
        shape = (2 * k + 1, depth) if heads is None else (heads, 2 * k + 1, depth)
        self.weight = nn.Parameter(torch.randn(shape) * (init_std if init_std is not None else depth ** -0.5))

    @property
    def num_embeddings(self) -> int:
        """2k + 1 rows."""
        return 2 * self.k + 1

    def forward(self, n_q: int, n_k: int | None = None, q_offset: int = 0) -> torch.Tensor:
        """a_ij = w[clip(j - i, k) + k]: (n_q, n_k, depth), or (heads, n_q, n_k, depth) for per-head tables."""
        rel = relative_position_index(n_q, n_k, self.k, q_offset=q_offset, device=self.weight.device)
        return self.weight[rel] if self.heads is None else self.weight[:, rel]

    def extra_repr(self) -> str:
        return f"k={self.k}, depth={self.depth}, heads={self.heads or 'shared'}"


def sinusoidal_encoding(n: int, d_model: int, *, offset: int = 0, device=None,
                        dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Absolute sinusoids of Vaswani et al. (2017): PE[p, 2i] = sin(p / 10000^{2i/d}), PE[p, 2i+1] = cos(...).

    Computed in float64 (exact phases at large p) — on the CPU when ``device`` is MPS, which has no float64 —
    and returned as ``dtype`` on ``device``.
    """
    n = _check_int("n", n, 1)
    if _check_int("d_model", d_model, 2) % 2:
        raise ValueError(f"d_model must be even for sinusoids, got {d_model}")
    offset = _check_int("offset", offset)
    work = "cpu" if device is not None and torch.device(device).type == "mps" else device
    pos = torch.arange(offset, offset + n, device=work, dtype=torch.float64).unsqueeze(1)
    inv = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, device=work, dtype=torch.float64) / d_model)
    pe = torch.zeros(n, d_model, device=work, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * inv)
    pe[:, 1::2] = torch.cos(pos * inv)
    return pe.to(device=device, dtype=dtype)


class LearnedPositionalEmbedding(nn.Module):
    """Learned absolute positions: one trainable vector per position 0..max_len-1 (positions beyond fail loudly)."""

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        self.max_len = _check_int("max_len", max_len, 1)
        self.table = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.table.weight, std=d_model ** -0.5)

    def forward(self, n: int, offset: int = 0) -> torch.Tensor:
        """The (n, d_model) embeddings of positions offset..offset+n-1."""
        if offset + n > self.max_len:
            raise ValueError(f"learned absolute positions cover 0..{self.max_len - 1}; asked for position "
                             f"{offset + n - 1} (a learned table cannot extrapolate — that is the point)")
        return self.table.weight[offset:offset + n]
