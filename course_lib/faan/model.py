"""FAAN (Sheng et al., EMNLP 2020) and its ablations, device-agnostic (the official code calls ``.cuda()`` in its
positional encoding and cannot run on CPU; here every buffer follows the module's device).

Pieces (paper §2.2, reconstructed from the official code): :func:`neighbor_attention` (adaptive neighbour encoder,
attention conditioned on the task relation r̂ = t − h), :class:`PairEncoder` (Transformer over [h', r_mask, t']),
:func:`aggregate_references` (query-aware reference aggregation) and :func:`margin_loss`.
"""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.faan.benchmark import NeighborTable


def neighbor_attention(rhat: torch.Tensor, rel: torch.Tensor, mask: torch.Tensor, w_b: torch.Tensor | None
                       ) -> torch.Tensor:
    """Attention weights α over the neighbours of an entity (FAAN's adaptive neighbour encoder, paper §2.2).

    ``rhat`` (P, d) task relation r̂ = t − h; ``rel`` (P, M, d) neighbour relation embeddings; ``mask`` (P, M)
    True for real neighbours. ``w_b=None`` gives the *static* ablation (uniform weights over real neighbours).
    An entity without neighbours gets all-zero weights.
    """
    if w_b is None:
        scores = torch.zeros(mask.shape, dtype=rel.dtype, device=rel.device)
    else:
        #: Bilinear relevance of neighbour $i$ to the task, $a_i = \hat r^\top W_b\, r_i$, with the task relation
        #: approximated from the pair itself, $\hat r = t - h$ (TransE's translation).
        scores = torch.einsum("pd,de,pme->pm", rhat, w_b, rel)
    #: Padding is masked to $-\infty$ before the softmax, $\alpha_i = \mathrm{softmax}_i(a_i)$, so it gets exactly
    #: zero weight; an entity with no neighbour at all gets $\alpha = 0$ (not NaN).
    scores = scores.masked_fill(~mask, float("-inf"))
    alpha = torch.softmax(scores, dim=-1)
    return torch.where(mask.any(-1, keepdim=True), alpha, torch.zeros_like(alpha))


class NeighborEncoder(nn.Module):
    """h' = LayerNorm(h + Dropout(ReLU(W_c c_h + W_e h))), c_h = Σ_i α_i e_i (paper §2.2); ``adaptive=False`` is
    the static ablation (α uniform over real neighbours)."""

    def __init__(self, dim: int, adaptive: bool = True, dropout: float = 0.0):
        super().__init__()
        self.adaptive = adaptive
        self.w_b = nn.Parameter(torch.eye(dim) + 0.01 * torch.randn(dim, dim)) if adaptive else None
        self.w_c = nn.Linear(dim, dim, bias=False)
        self.w_e = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, ent: torch.Tensor, rhat: torch.Tensor, nb_rel: torch.Tensor, nb_ent: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Entity ``ent`` (P, d), task relation ``rhat`` (P, d), neighbours (P, M, d) → (h' (P, d), α (P, M))."""
        #: Neighbour weights conditioned on the task (Eq. of the adaptive neighbour encoder), then the context
        #: $c_h = \sum_i \alpha_i e_i$.
        alpha = neighbor_attention(rhat, nb_rel, mask, self.w_b)
        context = torch.einsum("pm,pmd->pd", alpha, nb_ent)
        #: Residual update with layer normalisation, $h' = \mathrm{LN}(h + \mathrm{Drop}(\mathrm{ReLU}(W_c c_h +
        #: W_e h)))$: the entity keeps its own embedding and adds the task-relevant part of its neighbourhood.
        return self.norm(ent + self.dropout(F.relu(self.w_c(context) + self.w_e(ent)))), alpha


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """Sinusoidal position embeddings (Vaswani et al. 2017) of positions 1..length, shape (length, dim)."""
    pos = torch.arange(1, length + 1, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe


class PairEncoder(nn.Module):
    """Transformer over the sequence [h', r_mask, t'] + positions; the output at the middle (learnable relation
    token) is the pair representation s(h, t) (paper §2.2, step 2)."""

    def __init__(self, dim: int, layers: int = 1, heads: int = 1, dropout: float = 0.0):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.relation_token = nn.Parameter(0.1 * torch.randn(dim))
        # a buffer moves with .to(device): the official code's unconditional .cuda() cannot happen here
        self.register_buffer("positions", sinusoidal_positions(3, dim), persistent=False)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=dropout,
                                           activation="gelu", batch_first=True, norm_first=False)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, head: torch.Tensor, tail: torch.Tensor) -> torch.Tensor:
        """(P, d), (P, d) → s (P, d)."""
        token = self.relation_token.expand_as(head)
        x = torch.stack([head, token, tail], dim=1) + self.positions
        return self.encoder(x)[:, 1]


def aggregate_references(query: torch.Tensor, refs: torch.Tensor, adaptive: bool = True
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Query-aware reference aggregation (paper §2.2, step 3): ``query`` (..., D), ``refs`` (K, D) →
    (s_r(q) (..., D), β (..., K)), β = softmax_k(s_qᵀ s_k / √D); ``adaptive=False``: β = 1/K (mean ablation)."""
    if adaptive:
        #: Each query weighs the references by its similarity with them, $\beta_k = \mathrm{softmax}_k(s_q^\top
        #: s_k / \sqrt D)$: the same references count differently for different queries.
        beta = torch.softmax(query @ refs.T / math.sqrt(query.shape[-1]), dim=-1)
    else:
        beta = torch.full((*query.shape[:-1], len(refs)), 1.0 / len(refs), dtype=query.dtype, device=query.device)
    #: The task representation seen by this query, $s_r(q) = \sum_k \beta_k s_k$.
    return beta @ refs, beta


def margin_loss(positive: torch.Tensor, negative: torch.Tensor, margin: float) -> torch.Tensor:
    """L = mean max(0, γ − φ(q⁺) + φ(q⁻)) (paper §2.2, step 4)."""
    return F.relu(margin - positive + negative).mean()


@dataclasses.dataclass(frozen=True, kw_only=True)
class FAANConfig:
    """Model settings. ``adaptive_neighbors`` / ``adaptive_references`` switch off for the ablations."""

    dim: int = 32
    layers: int = 1
    heads: int = 1
    dropout: float = 0.1
    adaptive_neighbors: bool = True
    adaptive_references: bool = True
    freeze_embeddings: bool = True


class FAAN(nn.Module):
    """Matcher of FAAN: entity embeddings (+1 padding row), relation embeddings of the background graph (+1), the
    neighbour encoder, the pair encoder and the reference aggregator; ``score(refs, pairs)`` = φ."""

    def __init__(self, entity_emb: torch.Tensor, relation_emb: torch.Tensor, neighbors: NeighborTable,
                 config: FAANConfig):
        super().__init__()
        d = config.dim
        if entity_emb.ndim != 2 or entity_emb.shape[1] != d or relation_emb.shape[1:] != (d,):
            raise ValueError(f"embeddings must have width dim={d}; got {tuple(entity_emb.shape)}, "
                             f"{tuple(relation_emb.shape)}")
        self.config = config
        pad = torch.zeros(1, d)
        self.entity = nn.Embedding.from_pretrained(torch.cat([entity_emb.float(), pad]),
                                                   freeze=config.freeze_embeddings)
        self.relation = nn.Embedding.from_pretrained(torch.cat([relation_emb.float(), pad]),
                                                     freeze=config.freeze_embeddings)
        self.register_buffer("nb_rel", neighbors.relation, persistent=False)
        self.register_buffer("nb_ent", neighbors.entity, persistent=False)
        self.register_buffer("nb_mask", neighbors.mask, persistent=False)
        self.input_dropout = nn.Dropout(config.dropout)
        self.neighbors = NeighborEncoder(d, adaptive=config.adaptive_neighbors)
        self.pair = PairEncoder(d, config.layers, config.heads, config.dropout)

    def encode_entity(self, ids: torch.Tensor, rhat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Adaptive representation of entities ``ids`` (P,) in the task ``rhat`` (P, d) and their weights α."""
        nb_rel = self.input_dropout(self.relation(self.nb_rel[ids]))
        nb_ent = self.input_dropout(self.entity(self.nb_ent[ids]))
        return self.neighbors(self.entity(ids), rhat, nb_rel, nb_ent, self.nb_mask[ids])

    def encode_pairs(self, pairs: torch.Tensor, details: bool = False):
        """Pair representations s(h, t) of ``pairs`` (P, 2); with ``details`` also (α_head, α_tail)."""
        h, t = pairs[:, 0], pairs[:, 1]
        #: The task relation estimated from the pair's pretrained embeddings, $\hat r = t - h$, conditions both
        #: neighbour encoders (shared weights), then the Transformer encodes $[h', r_{mask}, t']$.
        rhat = self.entity(t) - self.entity(h)
        head, alpha_h = self.encode_entity(h, rhat)
        tail, alpha_t = self.encode_entity(t, rhat)
        s = self.pair(head, tail)
        return (s, alpha_h, alpha_t) if details else s

    def score(self, refs: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        """φ(q) = s_qᵀ s_r(q) of the query pairs (P, 2) given the reference pairs (K, 2)."""
        s_refs = self.encode_pairs(refs)
        s_q = self.encode_pairs(pairs)
        s_r, _ = aggregate_references(s_q, s_refs, self.config.adaptive_references)
        return (s_q * s_r).sum(-1)

    def forward(self, refs: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """φ of positive and negative query pairs (one episode; the references are encoded once)."""
        s_refs = self.encode_pairs(refs)
        s = self.encode_pairs(torch.cat([positives, negatives]))
        s_r, _ = aggregate_references(s, s_refs, self.config.adaptive_references)
        phi = (s * s_r).sum(-1)
        return phi[:len(positives)], phi[len(positives):]

    def score_candidates(self, refs: torch.Tensor, head: int, candidates: torch.Tensor) -> torch.Tensor:
        """φ of (head, c) for every candidate tail c (the references encoded once)."""
        pairs = torch.stack([torch.full_like(candidates, head), candidates], 1)
        return self.score(refs, pairs)


def transe_prototype_scores(entity_emb: torch.Tensor, refs: torch.Tensor, heads: torch.Tensor,
                            candidates: torch.Tensor) -> torch.Tensor:
    """Training-free TransE prototype: score(h_q, c) = −‖h_q + mean_k(t_k − h_k) − c‖₁ → (Q, C)."""
    r = (entity_emb[refs[:, 1]] - entity_emb[refs[:, 0]]).mean(0)
    query = entity_emb[heads] + r
    return -torch.cdist(query, entity_emb[candidates], p=1)
