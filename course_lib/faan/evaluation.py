"""Candidate-restricted, filtered ranking of few-shot queries (FAAN paper §2.4) through the shared evaluator
(:func:`course_lib.kg.ranks_from_scores`, declared tie rule, error on non-finite scores).

For every evaluation task the first K triples (in the benchmark's seeded order) are the references, the others the
queries; each query's true tail is ranked among the task's candidates with the other known tails of its head
removed. Metrics are micro-averaged over all queries of all tasks (as in the official code).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pandas as pd
import torch

from course_lib.faan.benchmark import FewShotBenchmark
from course_lib.faan.episodes import check_shots, pair_keys
from course_lib.faan.model import aggregate_references, transe_prototype_scores
from course_lib.kg import ranks_from_scores

#: scorer(task, refs (K, 2), heads (Q,), candidates (C,)) -> scores (Q, C), higher = better
Scorer = Callable[[str, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclasses.dataclass
class FewShotResult:
    """Per-query ranks, the candidate count left after filtering, and the task of each query."""

    ranks: torch.Tensor
    sizes: torch.Tensor
    tasks: list[str]
    tie: str

    def metrics(self, hits=(1, 5, 10)) -> dict[str, float]:
        out = {"MRR": (1.0 / self.ranks).mean().item()}
        out.update({f"H@{k}": (self.ranks <= k).double().mean().item() for k in hits})
        out["random MRR"] = random_mrr(self.sizes)
        out["queries"] = float(len(self.ranks))
        return out

    def per_task(self) -> pd.DataFrame:
        df = pd.DataFrame({"task": self.tasks, "rr": (1.0 / self.ranks).numpy(), "n": self.sizes.numpy()})
        return df.groupby("task").agg(queries=("rr", "size"), MRR=("rr", "mean"), candidates=("n", "median"))


def random_mrr(sizes: torch.Tensor) -> float:
    """Expected MRR of a random ranking: the mean over queries of H_n / n for n candidates (micro average)."""
    n = sizes.long()
    harmonic = torch.cumsum(1.0 / torch.arange(1, int(n.max()) + 1, dtype=torch.float64), 0)
    return (harmonic[n - 1] / n.double()).mean().item()


def evaluate_few_shot(scorer: Scorer, bench: FewShotBenchmark, shots: int, *, split: str = "test",
                      tasks: tuple[str, ...] | None = None, max_queries: int | None = None,
                      tie: str = "realistic") -> FewShotResult:
    """Filtered ranks of the queries of ``split`` (or ``tasks``), candidates restricted per task."""
    if split not in bench.splits:
        raise ValueError(f"split must be one of {tuple(bench.splits)}, got {split!r}")
    names = bench.splits[split] if tasks is None else tuple(tasks)
    ranks, sizes, labels = [], [], []
    E = bench.num_entities
    for task in names:
        k = check_shots(bench, task, shots)
        pairs, cands = bench.task(task), bench.candidate_set(task)
        if len(cands) == 0:
            raise ValueError(f"task {task!r} has an empty candidate set")
        refs, queries = pairs[:k], pairs[k:]
        if max_queries is not None:
            queries = queries[:max_queries]
        targets = torch.searchsorted(cands, queries[:, 1].contiguous())
        if not bool((cands[targets.clamp(max=len(cands) - 1)] == queries[:, 1]).all()):
            raise ValueError(f"task {task!r}: a true tail is missing from the candidate set")
        scores = scorer(task, refs, queries[:, 0], cands)
        if scores.shape != (len(queries), len(cands)):
            raise ValueError(f"the scorer returned {tuple(scores.shape)}, expected ({len(queries)}, {len(cands)})")
        #: Filter: every *other* known tail of the query's head in this task is removed from the ranking.
        cand_pairs = torch.stack([queries[:, :1].expand(-1, len(cands)), cands.expand(len(queries), -1)], -1)
        exclude = torch.isin(pair_keys(cand_pairs, E), pair_keys(pairs, E))
        exclude[torch.arange(len(queries)), targets] = False
        ranks.append(ranks_from_scores(scores.detach().double().cpu(), targets, exclude=exclude, tie=tie))
        sizes.append(len(cands) - exclude.sum(1))
        labels += [task] * len(queries)
    return FewShotResult(torch.cat(ranks), torch.cat(sizes), labels, tie)


def model_scorer(model, chunk: int = 8192) -> Scorer:
    """A scorer from a :class:`~course_lib.faan.model.FAAN` (eval mode, no grad, pairs in chunks)."""
    def scorer(task, refs, heads, cands):
        device = next(model.parameters()).device
        was = model.training
        model.eval()
        try:
            with torch.no_grad():
                s_refs = model.encode_pairs(refs.to(device))
                pairs = torch.stack([heads[:, None].expand(-1, len(cands)), cands.expand(len(heads), -1)], -1)
                pairs = pairs.reshape(-1, 2).to(device)
                out = []
                for start in range(0, len(pairs), chunk):
                    s = model.encode_pairs(pairs[start:start + chunk])
                    s_r, _ = aggregate_references(s, s_refs, model.config.adaptive_references)
                    out.append((s * s_r).sum(-1))
                return torch.cat(out).reshape(len(heads), len(cands)).cpu()
        finally:
            model.train(was)
    return scorer


def prototype_scorer(entity_emb: torch.Tensor) -> Scorer:
    """The training-free TransE prototype baseline as a scorer."""
    return lambda task, refs, heads, cands: transe_prototype_scores(entity_emb.cpu(), refs, heads, cands)


def random_scorer(seed: int = 0) -> Scorer:
    """Random scores (the chance baseline, measured)."""
    g = torch.Generator().manual_seed(seed)
    return lambda task, refs, heads, cands: torch.rand(len(heads), len(cands), generator=g)
