"""Negative sampling and RotATE's self-adversarial loss.

A training batch is a :class:`NegativeBatch`: ``B`` positive triples, ``n`` corrupting entity ids per positive,
and per row the side that was corrupted (head or tail). Uniform sampling alternates whole head-batches and
tail-batches (RotatE's sampler); Bernoulli sampling picks the side per positive with probability
``tph / (tph + hpt)`` of its relation (Wang et al. 2014).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from course_lib.checks import is_int
from course_lib.kg.triples import KnowledgeGraph, check_triples

MODES = ("uniform", "bernoulli")


@dataclasses.dataclass
class NegativeBatch:
    """``positives`` (B, 3); ``negatives`` (B, n) entity ids; ``corrupt_head`` (B,) bool (True: the negatives
    replace the head, i.e. the model is asked to predict heads); ``weights`` (B,) per-positive loss weights."""

    positives: torch.Tensor
    negatives: torch.Tensor
    corrupt_head: torch.Tensor
    weights: torch.Tensor

    def to(self, device) -> NegativeBatch:
        return NegativeBatch(*(x.to(device) for x in dataclasses.astuple(self)))


def triple_keys(triples: torch.Tensor, num_entities: int, num_relations: int) -> torch.Tensor:
    """One int64 key per triple, ``(h · R + r) · E + t`` (for membership tests with ``torch.isin``)."""
    return (triples[:, 0] * num_relations + triples[:, 1]) * num_entities + triples[:, 2]


def relation_tph_hpt(triples: torch.Tensor, num_relations: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per relation: mean number of tails per (head, relation) and of heads per (relation, tail)."""
    tph = torch.zeros(num_relations, dtype=torch.float64)
    hpt = torch.zeros(num_relations, dtype=torch.float64)
    for out, cols in ((tph, [0, 1]), (hpt, [2, 1])):
        pairs, _ = torch.unique(triples[:, cols], dim=0, return_counts=True)
        n_pairs = torch.bincount(pairs[:, 1], minlength=num_relations).double()
        n_triples = torch.bincount(triples[:, 1], minlength=num_relations).double()
        out.copy_(torch.where(n_pairs > 0, n_triples / n_pairs.clamp(min=1), torch.zeros_like(n_pairs)))
    return tph, hpt


def subsampling_weights(triples: torch.Tensor, num_entities: int, num_relations: int, start: int = 4
                        ) -> torch.Tensor:
    """RotatE's word2vec-style weight of each positive, ``1 / sqrt(count(h, r) + count(t, r⁻¹))`` with counts
    starting at ``start`` (RotatE code, Sun et al. 2019)."""
    hr = triples[:, 0] * num_relations + triples[:, 1]
    tr = triples[:, 2] * num_relations + triples[:, 1]
    count_hr = torch.bincount(hr, minlength=num_entities * num_relations)[hr]
    count_tr = torch.bincount(tr, minlength=num_entities * num_relations)[tr]
    return (count_hr + count_tr + 2 * start).double().rsqrt().float()


class NegativeSampler:
    """Step-based sampler of negative-sampled batches over the training triples of ``kg``.

    Each call of :meth:`batch` draws ``batch_size`` positives (epochs of a seeded permutation) and
    ``num_negatives`` corrupting entities per positive, uniformly over all entities. With ``filtered=True``
    (RotatE's default) a corruption that forms a known training triple is redrawn (up to ``retries`` times).
    ``mode="uniform"`` alternates head- and tail-batches; ``"bernoulli"`` picks the side per positive.
    """

    def __init__(self, kg: KnowledgeGraph, batch_size: int, num_negatives: int, *, mode: str = "uniform",
                 filtered: bool = True, subsampling: bool = False, seed: int = 0, retries: int = 10):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if not is_int(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if not is_int(num_negatives) or num_negatives < 1:
            raise ValueError(f"num_negatives must be a positive int, got {num_negatives!r}")
        self.train = check_triples(kg.train, kg.num_entities, kg.num_relations, what=f"{kg.name}.train")
        self.E, self.R = kg.num_entities, kg.num_relations
        self.batch_size, self.num_negatives = min(batch_size, len(self.train)), num_negatives
        self.mode, self.filtered, self.retries = mode, filtered, retries
        self.known = torch.sort(triple_keys(self.train, self.E, self.R)).values
        tph, hpt = relation_tph_hpt(self.train, self.R)
        self.head_prob = (tph / (tph + hpt).clamp(min=1e-12)).float()
        self.weights = (subsampling_weights(self.train, self.E, self.R) if subsampling
                        else torch.ones(len(self.train)))
        self.generator = torch.Generator().manual_seed(seed)
        self.step = 0
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = 0

    def state_dict(self) -> dict:
        return {"step": self.step, "generator": self.generator.get_state(), "order": self._order,
                "cursor": self._cursor}

    def load_state_dict(self, state: dict) -> None:
        self.step, self._order, self._cursor = state["step"], state["order"], state["cursor"]
        self.generator.set_state(state["generator"])

    def _next_positives(self) -> torch.Tensor:
        if self._cursor + self.batch_size > len(self._order):
            self._order = torch.randperm(len(self.train), generator=self.generator)
            self._cursor = 0
        idx = self._order[self._cursor:self._cursor + self.batch_size]
        self._cursor += self.batch_size
        return idx

    def _is_known(self, pos: torch.Tensor, neg: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
        h = torch.where(head[:, None], neg, pos[:, :1])
        t = torch.where(head[:, None], pos[:, 2:], neg)
        keys = (h * self.R + pos[:, 1:2]) * self.E + t
        return torch.isin(keys, self.known)

    def batch(self) -> NegativeBatch:
        """Draw the next batch (advances the step counter)."""
        idx = self._next_positives()
        pos = self.train[idx]
        b = len(pos)
        if self.mode == "uniform":
            head = torch.full((b,), self.step % 2 == 0, dtype=torch.bool)
        else:
            head = torch.rand(b, generator=self.generator) < self.head_prob[pos[:, 1]]
        neg = torch.randint(self.E, (b, self.num_negatives), generator=self.generator)
        if self.filtered:
            for _ in range(self.retries):
                bad = self._is_known(pos, neg, head)
                if not bad.any():
                    break
                neg[bad] = torch.randint(self.E, (int(bad.sum()),), generator=self.generator)
        self.step += 1
        return NegativeBatch(pos, neg, head, self.weights[idx])

    def batches(self, steps: int) -> Iterator[NegativeBatch]:
        """``steps`` consecutive batches."""
        for _ in range(steps):
            yield self.batch()


def self_adversarial_loss(positive_score: torch.Tensor, negative_score: torch.Tensor, *,
                          adversarial_temperature: float = 1.0, weights: torch.Tensor | None = None
                          ) -> torch.Tensor:
    """RotatE's self-adversarial negative-sampling loss (Sun et al. 2019, Eq. 4; OTE paper §3), on scores s = γ − d:

    L = ½ [ −Σ_b w_b log σ(s⁺_b) / Σ w  −  Σ_b w_b Σ_j p_bj log σ(−s⁻_bj) / Σ w ],
    p_bj = softmax_j(α · s⁻_bj), **detached** (no gradient flows into the adversarial weights).
    ``adversarial_temperature`` α = 0 gives uniform weights 1/n.
    """
    if positive_score.ndim != 1 or negative_score.ndim != 2 or len(positive_score) != len(negative_score):
        raise ValueError(f"expected positive scores (B,) and negative scores (B, n); got "
                         f"{tuple(positive_score.shape)} and {tuple(negative_score.shape)}")
    if weights is None:
        weights = torch.ones_like(positive_score)
    #: Self-adversarial weights $p_{bj} = \mathrm{softmax}_j(\alpha\, s^-_{bj})$: harder negatives count more.
    #: `.detach()` makes them constants — no gradient flows into the weighting itself.
    p = torch.softmax(adversarial_temperature * negative_score, dim=1).detach()
    #: Negative term $\sum_j p_{bj} \log\sigma(-s^-_{bj})$ and positive term $\log\sigma(s^+_b)$, with $s = \gamma - d$.
    neg = (p * F.logsigmoid(-negative_score)).sum(1)
    pos = F.logsigmoid(positive_score)
    #: Weighted means over the batch, averaged:
    #: $L = -\tfrac12\,[\,\overline{\log\sigma(s^+)} + \overline{\sum_j p_j\log\sigma(-s^-_j)}\,]$.
    w = weights / weights.sum()
    return -0.5 * ((w * pos).sum() + (w * neg).sum())
