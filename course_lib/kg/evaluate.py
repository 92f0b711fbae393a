"""One filtered ranking evaluator for link prediction (head and tail prediction, MRR, MR, Hits@k).

Protocol (Bordes et al. 2013, "filtered"): for a test triple (h, r, t), tail prediction ranks t among all
entities after removing every *other* known true tail of (h, r, ·) — known = train ∪ valid ∪ test by default;
head prediction likewise. **Tie rule** (declared, default ``"realistic"``): with ``b`` candidates scoring
strictly higher and ``e`` other candidates scoring exactly the same as the true answer,

    optimistic = 1 + b,   pessimistic = 1 + b + e,   realistic = 1 + b + e / 2 (their mean).

Any non-finite score raises :class:`NonFiniteScoreError` (a NaN compares False with everything, so a naive
``1 + #(s > s_true)`` turns a diverged model into rank 1, MRR 1.0). Queries are scored in batches sized to a
memory budget, with a progress bar.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import pandas as pd
import torch

from course_lib.kg.triples import KnowledgeGraph, check_triples

TIE_RULES = ("realistic", "optimistic", "pessimistic")
SIDES = ("head", "tail")
Scorer = Callable[[torch.Tensor, torch.Tensor, str], torch.Tensor]


class NonFiniteScoreError(FloatingPointError):
    """A model produced NaN or ±inf scores; ranks of such scores are meaningless."""


class FilterIndex:
    """Known answers of each query, for the filtered protocol: ``lookup(anchor, relation, side)`` returns the
    (query row, answer entity) pairs of every known triple matching the queries (sorted keys + searchsorted)."""

    def __init__(self, known: torch.Tensor, num_entities: int, num_relations: int):
        self.E, self.R = num_entities, num_relations
        self.tables = {}
        for side, (a, b) in (("tail", (0, 2)), ("head", (2, 0))):
            keys = known[:, a] * num_relations + known[:, 1]
            order = torch.argsort(keys)
            self.tables[side] = (keys[order], known[order, b])

    def lookup(self, anchor: torch.Tensor, relation: torch.Tensor, side: str) -> tuple[torch.Tensor, torch.Tensor]:
        keys, answers = self.tables[side]
        query = anchor.cpu() * self.R + relation.cpu()
        lo = torch.searchsorted(keys, query, right=False)
        hi = torch.searchsorted(keys, query, right=True)
        counts = hi - lo
        rows = torch.repeat_interleave(torch.arange(len(query)), counts)
        offsets = torch.arange(int(counts.sum())) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        return rows, answers[torch.repeat_interleave(lo, counts) + offsets]


def ranks_from_scores(scores: torch.Tensor, targets: torch.Tensor, *, exclude: torch.Tensor | None = None,
                      allowed: torch.Tensor | None = None, tie: str = "realistic") -> torch.Tensor:
    """Rank of ``targets`` (B,) in ``scores`` (B, E), higher score = better, under the declared tie rule.

    ``exclude`` (B, E) bool marks filtered candidates (known true answers other than the target; the target
    itself is never excluded); ``allowed`` (B, E) bool restricts the candidate set. Raises
    :class:`NonFiniteScoreError` on any NaN/inf score and ``ValueError`` if a target is not an allowed candidate.
    """
    if tie not in TIE_RULES:
        raise ValueError(f"tie must be one of {TIE_RULES}, got {tie!r}")
    if scores.ndim != 2 or targets.shape != (scores.shape[0],):
        raise ValueError(f"expected scores (B, E) and targets (B,); got {tuple(scores.shape)} and "
                         f"{tuple(targets.shape)}")
    #: Refuse non-finite scores: a NaN compares False with everything, so a naive $1 + \#\{s > s_{true}\}$
    #: would give rank 1 (MRR 1.0) to a diverged model.
    finite = torch.isfinite(scores)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise NonFiniteScoreError(f"{bad} of {scores.numel()} scores are NaN or infinite (e.g. in query row "
                                  f"{int((~finite).any(1).nonzero()[0])}); the model has diverged — ranks of "
                                  "non-finite scores are meaningless (NaN would rank first as MRR 1.0)")
    #: The candidates that count: the allowed set, minus the filtered known answers, the target kept.
    rows = torch.arange(len(targets), device=scores.device)
    true = scores[rows, targets][:, None]
    keep = torch.ones_like(scores, dtype=torch.bool)
    if allowed is not None:
        if not bool(allowed[rows, targets].all()):
            raise ValueError("a target entity is not in its query's candidate set; the candidate restriction "
                             "must include the true answer")
        keep &= allowed
    if exclude is not None:
        keep &= ~exclude
    keep[rows, targets] = True
    #: $b$ = candidates strictly better, $e$ = other candidates tied with the answer; the tie rule picks
    #: $1 + b$ (optimistic), $1 + b + e$ (pessimistic) or their mean $1 + b + e/2$ (realistic, the default).
    better = ((scores > true) & keep).sum(1)
    equal = ((scores == true) & keep).sum(1) - 1
    if tie == "optimistic":
        return (1 + better).double()
    if tie == "pessimistic":
        return (1 + better + equal).double()
    return 1 + better.double() + equal.double() / 2


def fixed_subset(triples: torch.Tensor, size: int | None, seed: int = 0) -> torch.Tensor:
    """A fixed (seeded, order-preserving) subset of ``size`` triples; all of them when ``size`` is None or
    larger than the split. Used for CPU-scale evaluation on large test sets."""
    if size is None or size >= len(triples):
        return triples
    if size < 1:
        raise ValueError(f"subset size must be >= 1, got {size}")
    idx = torch.randperm(len(triples), generator=torch.Generator().manual_seed(seed))[:size]
    return triples[torch.sort(idx).values]


@dataclasses.dataclass
class EvalResult:
    """Per-query filtered ranks of ``triples`` for each side, under ``tie``."""

    triples: torch.Tensor
    ranks: dict[str, torch.Tensor]
    tie: str
    hits: tuple[int, ...] = (1, 3, 10)

    def metrics(self, side: str = "both") -> dict[str, float]:
        """MRR, MR and Hits@k of one side (``head``, ``tail``) or of both pooled (``both``)."""
        if side == "both":
            r = torch.cat([self.ranks[s] for s in self.ranks])
        elif side in self.ranks:
            r = self.ranks[side]
        else:
            raise ValueError(f"side must be one of {tuple(self.ranks)} or 'both', got {side!r}")
        out = {"MRR": (1.0 / r).mean().item(), "MR": r.mean().item()}
        out.update({f"H@{k}": (r <= k).double().mean().item() for k in self.hits})
        return out

    @property
    def mrr(self) -> float:
        return self.metrics("both")["MRR"]

    def table(self) -> pd.DataFrame:
        sides = [*self.ranks, "both"] if len(self.ranks) > 1 else list(self.ranks)
        return pd.DataFrame({s: self.metrics(s) for s in sides}).T

    def by_relation_group(self, groups: Sequence[str] | torch.Tensor, names: Sequence[str] | None = None
                          ) -> pd.DataFrame:
        """MRR per relation group (e.g. 1-1/1-N/N-1/N-N) and side; ``groups[r]`` is relation r's group."""
        rel = self.triples[:, 1]
        labels = [groups[int(r)] for r in rel]
        rows = []
        for g in names or sorted(set(labels)):
            mask = torch.tensor([lab == g for lab in labels], dtype=torch.bool)
            if not mask.any():
                continue
            row = {"group": g, "queries": int(mask.sum())}
            for side, r in self.ranks.items():
                row[f"MRR {side}"] = (1.0 / r[mask]).mean().item()
            row["MRR both"] = torch.cat([(1.0 / r[mask]) for r in self.ranks.values()]).mean().item()
            rows.append(row)
        return pd.DataFrame(rows).set_index("group")


def _as_scorer(model) -> Scorer:
    if hasattr(model, "score_all"):
        return model.score_all
    if callable(model):
        return model
    raise TypeError(f"expected a model with score_all(anchor, relation, side) or such a callable, got "
                    f"{type(model).__name__}")


def evaluate(model, kg: KnowledgeGraph, triples: torch.Tensor | None = None, *, sides: Sequence[str] = SIDES,
             filter_triples: torch.Tensor | None = None, candidates: torch.Tensor | None = None,
             tie: str = "realistic", batch_size: int | None = None, memory_elements: int = 2**25,
             hits: tuple[int, ...] = (1, 3, 10), progress: bool = True, device=None, desc: str = "evaluate"
             ) -> EvalResult:
    """Filtered ranks of ``triples`` (default ``kg.test``) for head and/or tail prediction.

    ``model`` has ``score_all(anchor, relation, side) -> (B, E)`` (or is such a callable). ``filter_triples``
    (default train ∪ valid ∪ test) are removed from the ranking, except the target. ``candidates`` restricts the
    ranking to a candidate set: a bool tensor ``(E,)`` for every query or ``(R, E)`` per relation. The batch
    size defaults to ``memory_elements // (E · score_width)`` queries, so memory stays bounded on any graph.
    """
    triples = kg.test if triples is None else triples
    check_triples(triples, kg.num_entities, kg.num_relations, what="evaluation triples")
    bad = [s for s in sides if s not in SIDES]
    if bad or not sides:
        raise ValueError(f"sides must be a non-empty subset of {SIDES}, got {tuple(sides)}")
    if tie not in TIE_RULES:
        raise ValueError(f"tie must be one of {TIE_RULES}, got {tie!r}")
    E = kg.num_entities
    if candidates is not None:
        if candidates.dtype != torch.bool or candidates.shape not in ((E,), (kg.num_relations, E)):
            raise ValueError(f"candidates must be a bool tensor of shape ({E},) or ({kg.num_relations}, {E}), "
                             f"got {candidates.dtype} {tuple(candidates.shape)}")
    scorer = _as_scorer(model)
    known = kg.all_triples() if filter_triples is None else filter_triples
    index = FilterIndex(known, E, kg.num_relations)
    if device is None:
        params = list(model.parameters()) if hasattr(model, "parameters") else []
        device = params[0].device if params else torch.device("cpu")
    width = int(getattr(model, "score_width", 1)) + 2
    if batch_size is None:
        batch_size = max(1, memory_elements // (E * width))
    from tqdm.auto import tqdm

    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    ranks = {}
    try:
        with torch.no_grad(), tqdm(total=len(triples) * len(sides), desc=desc, disable=not progress,
                                   leave=False) as bar:
            for side in sides:
                a_col, t_col = (0, 2) if side == "tail" else (2, 0)
                out = []
                for start in range(0, len(triples), batch_size):
                    chunk = triples[start:start + batch_size]
                    anchor, rel, target = chunk[:, a_col], chunk[:, 1], chunk[:, t_col]
                    scores = scorer(anchor.to(device), rel.to(device), side)
                    if scores.shape != (len(chunk), E):
                        raise ValueError(f"the scorer returned shape {tuple(scores.shape)} for {len(chunk)} "
                                         f"queries; expected ({len(chunk)}, {E})")
                    rows, answers = index.lookup(anchor, rel, side)
                    exclude = torch.zeros(len(chunk), E, dtype=torch.bool, device=scores.device)
                    exclude[rows.to(scores.device), answers.to(scores.device)] = True
                    allowed = None
                    if candidates is not None:
                        allowed = (candidates if candidates.ndim == 1 else candidates[rel]).to(scores.device)
                        allowed = allowed.expand(len(chunk), E)
                    out.append(ranks_from_scores(scores, target.to(scores.device), exclude=exclude,
                                                 allowed=allowed, tie=tie).cpu())
                    bar.update(len(chunk))
                ranks[side] = torch.cat(out)
    finally:
        if was_training:
            model.train()
    return EvalResult(triples=triples, ranks=ranks, tie=tie, hits=hits)
