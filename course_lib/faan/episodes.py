"""Episodes of meta-training (FAAN paper §2.3): per step one task relation, K references, B queries, one negative
(a candidate that is not a known tail of the query's head) per query.

Draws are a function of ``(seed, step)`` alone, so a resumed run sees exactly the same episodes and several models
trained with the same seed see *identical* episodes (the ablations are compared on the same data).
"""
from __future__ import annotations

import dataclasses

import torch

from course_lib.checks import as_int
from course_lib.faan.benchmark import FewShotBenchmark


@dataclasses.dataclass
class Episode:
    """``refs`` (K, 2), ``positives`` (B, 2) and ``negatives`` (B, 2) (head, tail) id pairs of one task."""

    refs: torch.Tensor
    positives: torch.Tensor
    negatives: torch.Tensor

    def to(self, device) -> Episode:
        return Episode(self.refs.to(device), self.positives.to(device), self.negatives.to(device))


def pair_keys(pairs: torch.Tensor, num_entities: int) -> torch.Tensor:
    """One int64 key per (head, tail) pair, ``h · E + t`` (membership tests with ``torch.isin``)."""
    return pairs[..., 0] * num_entities + pairs[..., 1]


def check_shots(bench: FewShotBenchmark, task: str, shots) -> int:
    """K as an int, with a clear error when it is < 1 or leaves a task without a query."""
    k = as_int("shots (K)", shots, minimum=1)
    n = len(bench.task(task))
    if k >= n:
        raise ValueError(f"K = {k} references requested but task {task!r} has only {n} triples "
                         f"(K must leave at least one query)")
    return k


class EpisodeSampler:
    """Step → :class:`Episode` over the meta-train tasks (cycled in a seeded order per pass)."""

    def __init__(self, bench: FewShotBenchmark, shots: int, queries: int, *, seed: int = 0,
                 tasks: tuple[str, ...] | None = None, min_candidates: int = 21):
        self.bench, self.seed = bench, seed
        self.queries = as_int("queries", queries, minimum=1)
        names = bench.splits["train"] if tasks is None else tuple(tasks)
        # the official code skips training tasks with <= 20 candidates (too few negatives)
        self.tasks = tuple(t for t in names if len(bench.candidate_set(t)) >= min_candidates)
        if not self.tasks:
            raise ValueError(f"no meta-train task of {bench.name} has >= {min_candidates} candidates")
        self.shots = as_int("shots (K)", shots, minimum=1)
        for t in self.tasks:
            check_shots(bench, t, self.shots)
        E = bench.num_entities
        self.known = {t: torch.sort(pair_keys(bench.task(t), E)).values for t in self.tasks}

    def task_of(self, step: int) -> str:
        n = len(self.tasks)
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + step // n)
        return self.tasks[int(torch.randperm(n, generator=g)[step % n])]

    def __call__(self, step: int) -> Episode:
        task = self.task_of(step)
        g = torch.Generator().manual_seed((self.seed + 1) * 7_919_993 + step)
        pairs, cands = self.bench.task(task), self.bench.candidate_set(task)
        perm = torch.randperm(len(pairs), generator=g)
        refs = pairs[perm[:self.shots]]
        pool = perm[self.shots:]
        pick = torch.randint(len(pool), (self.queries,), generator=g) if len(pool) < self.queries else \
            torch.randperm(len(pool), generator=g)[:self.queries]
        pos = pairs[pool[pick]]
        neg_tail = cands[torch.randint(len(cands), (self.queries,), generator=g)]
        for _ in range(10):  # redraw negatives that are known true tails of the query head
            bad = torch.isin(pos[:, 0] * self.bench.num_entities + neg_tail, self.known[task])
            if not bad.any():
                break
            neg_tail[bad] = cands[torch.randint(len(cands), (int(bad.sum()),), generator=g)]
        return Episode(refs, pos, torch.stack([pos[:, 0], neg_tail], 1))
