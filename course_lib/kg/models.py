"""Knowledge-graph embedding models with one interface, plus TransE and RotatE.

Every model scores a triple as ``γ − d`` where ``d`` is the distance between a *query* built from the known side
and the *candidate* entity on the side being predicted:

- tail prediction ``(h, r, ?)``: query ``q = f_r(h)``, candidates ``t``;
- head prediction ``(?, r, t)``: query ``q = f_r⁻¹(t)``, candidates ``h``.

A subclass defines :meth:`KGEModel.query` and :meth:`KGEModel.distance`; :meth:`score` (broadcast ids) and
:meth:`score_all` (one query against every entity, for ranking) come for free.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from course_lib.checks import is_int

SIDES = ("tail", "head")
EPSILON = 2.0  # RotatE's embedding-range offset: range = (γ + ε) / hidden_dim


def _check_side(side: str) -> None:
    if side not in SIDES:
        raise ValueError(f"side must be 'tail' (predict tails) or 'head' (predict heads), got {side!r}")


class KGEModel(nn.Module):
    """Base class: entity embeddings ``(E, entity_dim)``, margin γ, score = γ − d(query, candidate)."""

    def __init__(self, num_entities: int, num_relations: int, entity_dim: int, gamma: float, hidden_dim: int):
        super().__init__()
        for name, value in (("num_entities", num_entities), ("num_relations", num_relations),
                            ("entity_dim", entity_dim)):
            if not is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not math.isfinite(gamma) or gamma <= 0:
            raise ValueError(f"gamma must be a positive number, got {gamma!r}")
        self.num_entities, self.num_relations, self.entity_dim = num_entities, num_relations, entity_dim
        self.gamma = float(gamma)
        self.embedding_range = (self.gamma + EPSILON) / hidden_dim
        self.entity = nn.Parameter(torch.empty(num_entities, entity_dim).uniform_(-self.embedding_range,
                                                                                  self.embedding_range))

    # --- to implement -------------------------------------------------------------------------------------
    def query(self, anchor: torch.Tensor, relation: torch.Tensor, side: str) -> torch.Tensor:
        """Query vectors ``(..., entity_dim)`` from anchor entity ids and relation ids (broadcast)."""
        raise NotImplementedError

    def distance(self, query: torch.Tensor, candidate: torch.Tensor) -> torch.Tensor:
        """Distance of query and candidate vectors ``(..., entity_dim)`` (broadcast) → ``(...)``."""
        raise NotImplementedError

    # --- provided -----------------------------------------------------------------------------------------
    @property
    def score_width(self) -> int:
        """Floats materialised per (query, candidate) pair in :meth:`score_all` (for memory budgeting)."""
        return self.entity_dim

    def _check_ids(self, ids: torch.Tensor, limit: int, what: str) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor) or ids.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"{what} must be an integer id tensor, got "
                            f"{getattr(ids, 'dtype', type(ids).__name__)}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= limit):
            raise ValueError(f"{what} ids must lie in [0, {limit}), found [{int(ids.min())}, {int(ids.max())}]")
        return ids

    def check_query(self, head: torch.Tensor, relation: torch.Tensor, tail: torch.Tensor, side: str) -> None:
        """Raise a clear error for an unknown side, non-integer ids or ids out of range."""
        _check_side(side)
        self._check_ids(head, self.num_entities, "head")
        self._check_ids(tail, self.num_entities, "tail")
        self._check_ids(relation, self.num_relations, "relation")

    def score(self, head: torch.Tensor, relation: torch.Tensor, tail: torch.Tensor, side: str = "tail"
              ) -> torch.Tensor:
        """Score γ − d of triples given as broadcastable id tensors; ``side`` is the side being predicted
        (models with an asymmetric query, such as OTE with scales, use the inverse transform for heads)."""
        self.check_query(head, relation, tail, side)
        anchor, cand = (head, tail) if side == "tail" else (tail, head)
        return self.gamma - self.distance(self.query(anchor, relation, side), self.entity[cand])

    def forward(self, positives: torch.Tensor, negatives: torch.Tensor, corrupt_head: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Same as :meth:`training_scores` (so that DistributedDataParallel wraps the training path)."""
        return self.training_scores(positives, negatives, corrupt_head)

    def training_scores(self, positives: torch.Tensor, negatives: torch.Tensor, corrupt_head: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores of a negative-sampled batch: positives ``(B,)`` and negatives ``(B, n)``; rows with
        ``corrupt_head`` are head-prediction rows (negatives replace the head), the others tail rows."""
        h, r, t = positives[:, :1], positives[:, 1:2], positives[:, 2:]
        if bool(corrupt_head.all()) or not bool(corrupt_head.any()):  # one side (uniform sampling): no masks
            side = "head" if bool(corrupt_head.any()) else "tail"
            pos = self.score(h, r, t, side)[:, 0]
            neg = self.score(negatives, r, t, side) if side == "head" else self.score(h, r, negatives, side)
            return pos, neg
        pos_score = self.entity.new_zeros(len(positives))
        neg_score = self.entity.new_zeros(negatives.shape)
        for side, mask in (("head", corrupt_head), ("tail", ~corrupt_head)):
            if not bool(mask.any()):
                continue
            p = positives[mask]
            h, r, t = p[:, :1], p[:, 1:2], p[:, 2:]
            pos_score[mask] = self.score(h, r, t, side)[:, 0]
            neg = negatives[mask]
            neg_score[mask] = self.score(neg, r, t, side) if side == "head" else self.score(h, r, neg, side)
        return pos_score, neg_score

    def score_all(self, anchor: torch.Tensor, relation: torch.Tensor, side: str) -> torch.Tensor:
        """Scores ``(B, E)`` of the queries ``(anchor_b, relation_b, side)`` against every entity."""
        _check_side(side)
        self._check_ids(anchor, self.num_entities, "anchor")
        self._check_ids(relation, self.num_relations, "relation")
        q = self.query(anchor, relation, side)[:, None]
        return self.gamma - self.distance(q, self.entity[None])


class TransE(KGEModel):
    """TransE (Bordes et al. 2013): ``d = ‖h + r − t‖₁``; head query ``t − r``."""

    def __init__(self, num_entities: int, num_relations: int, dim: int, gamma: float = 6.0, p: int = 1):
        super().__init__(num_entities, num_relations, dim, gamma, dim)
        if p not in (1, 2):
            raise ValueError(f"p must be 1 or 2, got {p!r}")
        self.p = p
        self.relation = nn.Parameter(torch.empty(num_relations, dim).uniform_(-self.embedding_range,
                                                                              self.embedding_range))

    def query(self, anchor, relation, side):
        sign = 1.0 if side == "tail" else -1.0
        return self.entity[anchor] + sign * self.relation[relation]

    def distance(self, query, candidate):
        return torch.linalg.vector_norm(query - candidate, ord=self.p, dim=-1)


def complex_rotate(x: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """Multiply complex vectors stored as ``[re; im]`` halves by ``exp(i·phase)`` (element-wise)."""
    re, im = x.chunk(2, dim=-1)
    c, s = torch.cos(phase), torch.sin(phase)
    return torch.cat([re * c - im * s, re * s + im * c], dim=-1)


class RotatE(KGEModel):
    """RotatE (Sun et al. 2019): entities in ℂ^m stored as ``[re; im]`` (real width 2m), relations are
    element-wise rotations ``r = exp(iθ)``; ``d = Σ_j |h_j r_j − t_j|``, head query ``t ∘ r̄``.

    The phase is stored in embedding-range units, ``θ = raw · π / range`` (RotatE's parametrisation), which
    sets how fast Adam turns the rotations.
    """

    def __init__(self, num_entities: int, num_relations: int, complex_dim: int, gamma: float = 6.0):
        super().__init__(num_entities, num_relations, 2 * complex_dim, gamma, complex_dim)
        self.complex_dim = complex_dim
        self.relation = nn.Parameter(torch.empty(num_relations, complex_dim).uniform_(-self.embedding_range,
                                                                                      self.embedding_range))

    def phase(self, relation: torch.Tensor) -> torch.Tensor:
        return self.relation[relation] * (math.pi / self.embedding_range)

    def query(self, anchor, relation, side):
        theta = self.phase(relation)
        return complex_rotate(self.entity[anchor], theta if side == "tail" else -theta)

    def distance(self, query, candidate):
        diff = query - candidate
        re, im = diff.chunk(2, dim=-1)
        return torch.sqrt(re * re + im * im + 1e-30).sum(-1)
