"""Few-shot knowledge-graph completion benchmarks carved offline from registered graphs (FAAN paper §2.1 set-up).

NELL-One and Wiki-One (the paper's data) cannot be obtained offline, so this course builds its own benchmarks
deterministically from a seed — **ours, never NELL/Wiki numbers**:

* ``FB15k-237-One`` (:func:`fb15k237_one`): task relations = FB15k-237 relations with 50–500 triples (train ∪ valid
  ∪ test) and more than 20 distinct tails; background graph = the *train* triples of every other relation plus
  their inverses; candidates(r) = every entity seen as a tail of r (a type proxy).
* ``UMLS-One`` (:func:`umls_one`, for smoke runs): the same recipe on UMLS, candidates = all entities.

Task relations are split by a seeded permutation into meta-train / dev / test; the triples of each task are put in
a seeded order (the first K of a test task are its references, the rest its queries — the paper's protocol with a
shuffle instead of file order). Task relations never occur in the background graph.
"""
from __future__ import annotations

import dataclasses

import torch

from course_lib.kg import KnowledgeGraph, load_kg
from course_lib.kg.triples import check_triples

SPLIT_NAMES = ("train", "dev", "test")


@dataclasses.dataclass(frozen=True, eq=False)
class FewShotBenchmark:
    """A few-shot KG completion benchmark.

    ``background``: ``(n, 3)`` triples over the background relations (``relations``; the second half are the
    ``_inv`` inverses). ``tasks[name]``: ``(n_r, 2)`` (head, tail) pairs of task relation ``name`` in seeded order.
    ``candidates[name]``: sorted candidate tail ids. ``splits``: task names of meta-train / dev / test.
    """

    name: str
    seed: int
    entities: tuple[str, ...]
    relations: tuple[str, ...]
    background: torch.Tensor
    tasks: dict[str, torch.Tensor]
    candidates: dict[str, torch.Tensor]
    splits: dict[str, tuple[str, ...]]

    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    def task(self, name: str) -> torch.Tensor:
        """The (head, tail) pairs of one task relation; unknown names raise a ``KeyError`` listing the tasks."""
        if name not in self.tasks:
            raise KeyError(f"{self.name} has no task relation {name!r}; its tasks are "
                           f"{', '.join(sorted(self.tasks)[:12])}" + (" ..." if len(self.tasks) > 12 else ""))
        return self.tasks[name]

    def candidate_set(self, name: str) -> torch.Tensor:
        self.task(name)
        return self.candidates[name]

    def counts(self) -> dict[str, int]:
        """The documented counts of the carve (printed by the notebooks, checked by the tests)."""
        sizes = torch.tensor([len(c) for c in self.candidates.values()])
        return {"entities": self.num_entities, "background relations (with inverses)": self.num_relations,
                "background triples (with inverses)": len(self.background), "task relations": len(self.tasks),
                "meta-train tasks": len(self.splits["train"]), "dev tasks": len(self.splits["dev"]),
                "test tasks": len(self.splits["test"]),
                "task triples": sum(len(t) for t in self.tasks.values()),
                "median candidates": int(sizes.median()), "min candidates": int(sizes.min()),
                "max candidates": int(sizes.max())}


def _split_counts(n: int, dev_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    n_dev, n_test = max(1, round(dev_fraction * n)), max(1, round(test_fraction * n))
    if n - n_dev - n_test < 1:
        raise ValueError(f"{n} task relations are too few for a meta-train/dev/test split")
    return n - n_dev - n_test, n_dev, n_test


def carve_few_shot(kg: KnowledgeGraph, *, seed: int = 0, min_triples: int = 50, max_triples: int = 500,
                   min_candidates: int = 21, candidates: str = "tails", dev_fraction: float = 0.1,
                   test_fraction: float = 0.2, name: str | None = None) -> FewShotBenchmark:
    """Carve a few-shot benchmark out of ``kg`` (a deterministic function of ``seed``).

    Task relations: ``min_triples ≤ #triples ≤ max_triples`` over train ∪ valid ∪ test and at least
    ``min_candidates`` candidates; ``candidates`` is ``"tails"`` (entities seen as a tail of r) or ``"all"``.
    Background = train triples of the other relations plus inverses (the paper's ``path_graph``).
    """
    if candidates not in ("tails", "all"):
        raise ValueError(f"candidates must be 'tails' or 'all', got {candidates!r}")
    if not 0 < min_triples <= max_triples:
        raise ValueError(f"need 0 < min_triples <= max_triples, got {min_triples}, {max_triples}")
    every = torch.unique(kg.all_triples(), dim=0)
    counts = torch.bincount(every[:, 1], minlength=kg.num_relations)
    task_ids = []
    for r in range(kg.num_relations):
        if not min_triples <= int(counts[r]) <= max_triples:
            continue
        n_cand = kg.num_entities if candidates == "all" else len(torch.unique(every[every[:, 1] == r, 2]))
        if n_cand >= min_candidates:
            task_ids.append(r)
    if len(task_ids) < 3:
        raise ValueError(f"{kg.name}: only {len(task_ids)} relations qualify as tasks")
    g = torch.Generator().manual_seed(seed)
    # task relations: seeded order, then meta-train / dev / test
    order = [task_ids[i] for i in torch.randperm(len(task_ids), generator=g).tolist()]
    n_train, n_dev, _ = _split_counts(len(order), dev_fraction, test_fraction)
    names = [kg.relations[r] for r in order]
    splits = {"train": tuple(names[:n_train]), "dev": tuple(names[n_train:n_train + n_dev]),
              "test": tuple(names[n_train + n_dev:])}
    tasks, cands = {}, {}
    all_entities = torch.arange(kg.num_entities)
    for r in sorted(task_ids):  # sorted: the per-task shuffles do not depend on the split order
        pairs = every[every[:, 1] == r][:, [0, 2]]
        tasks[kg.relations[r]] = pairs[torch.randperm(len(pairs), generator=g)]
        cands[kg.relations[r]] = all_entities if candidates == "all" else torch.unique(pairs[:, 1])
    # background: train triples of the non-task relations, relabelled 0..B-1, plus inverses B..2B-1
    is_task = torch.zeros(kg.num_relations, dtype=torch.bool)
    is_task[task_ids] = True
    bg_ids = [r for r in range(kg.num_relations) if not is_task[r]]
    remap = torch.full((kg.num_relations,), -1, dtype=torch.long)
    remap[bg_ids] = torch.arange(len(bg_ids))
    bg = kg.train[~is_task[kg.train[:, 1]]]
    bg = torch.stack([bg[:, 0], remap[bg[:, 1]], bg[:, 2]], 1)
    inverse = torch.stack([bg[:, 2], bg[:, 1] + len(bg_ids), bg[:, 0]], 1)
    relations = tuple(kg.relations[r] for r in bg_ids) + tuple(kg.relations[r] + "_inv" for r in bg_ids)
    return FewShotBenchmark(name=name or f"{kg.name}-One", seed=seed, entities=kg.entities, relations=relations,
                            background=torch.cat([bg, inverse]), tasks=tasks, candidates=cands, splits=splits)


def fb15k237_one(seed: int = 0, kg: KnowledgeGraph | None = None) -> FewShotBenchmark:
    """FB15k-237-One (ours): task relations with 50–500 triples and > 20 candidate tails, candidates = tails."""
    kg = load_kg("fb15k-237") if kg is None else kg
    return carve_few_shot(kg, seed=seed, candidates="tails", min_candidates=21, name="FB15k-237-One")


def umls_one(seed: int = 0, kg: KnowledgeGraph | None = None) -> FewShotBenchmark:
    """UMLS-One (ours, smoke): task relations with 50–500 triples, candidates = all entities."""
    kg = load_kg("umls") if kg is None else kg
    return carve_few_shot(kg, seed=seed, candidates="all", name="UMLS-One")


BENCHMARKS = {"umls-one": ("umls", umls_one), "fb15k-237-one": ("fb15k-237", fb15k237_one)}


def load_benchmark(name: str, seed: int = 0) -> FewShotBenchmark:
    """A benchmark by name (``umls-one``, ``fb15k-237-one``) through the data registry."""
    if name not in BENCHMARKS:
        raise KeyError(f"unknown few-shot benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name][1](seed)


@dataclasses.dataclass(frozen=True, eq=False)
class NeighborTable:
    """Background one-hop neighbours of every entity: ``relation``/``entity`` ``(E, M)`` ids and ``mask`` (True =
    a real neighbour). Padding uses relation id ``R`` and entity id ``E`` (one extra embedding row each)."""

    relation: torch.Tensor
    entity: torch.Tensor
    mask: torch.Tensor

    def to(self, device) -> NeighborTable:
        return NeighborTable(self.relation.to(device), self.entity.to(device), self.mask.to(device))


def neighbor_table(bench: FewShotBenchmark, max_neighbors: int, seed: int = 0) -> NeighborTable:
    """Up to ``max_neighbors`` background neighbours ``(r_i, e_i)`` per entity, a seeded sample when an entity has
    more (the official code keeps the first 50 in file order); vectorised: one sort, no Python loop."""
    if not isinstance(max_neighbors, int) or max_neighbors < 1:
        raise ValueError(f"max_neighbors must be a positive int, got {max_neighbors!r}")
    E, R = bench.num_entities, bench.num_relations
    bg = check_triples(bench.background, E, R, what=f"{bench.name} background")
    g = torch.Generator().manual_seed(seed)
    bg = bg[torch.randperm(len(bg), generator=g)]
    bg = bg[torch.sort(bg[:, 0], stable=True).indices]          # grouped by head, random order inside
    degree = torch.bincount(bg[:, 0], minlength=E)
    start = torch.cumsum(degree, 0) - degree
    slot = torch.arange(len(bg)) - start[bg[:, 0]]
    keep = slot < max_neighbors
    rel = torch.full((E, max_neighbors), R, dtype=torch.long)
    ent = torch.full((E, max_neighbors), E, dtype=torch.long)
    rel[bg[keep, 0], slot[keep]] = bg[keep, 1]
    ent[bg[keep, 0], slot[keep]] = bg[keep, 2]
    return NeighborTable(rel, ent, rel < R)


def background_kg(bench: FewShotBenchmark) -> KnowledgeGraph:
    """The background graph as a :class:`~course_lib.kg.KnowledgeGraph` (for TransE pre-training)."""
    empty = bench.background[:0]
    return KnowledgeGraph(name=f"{bench.name} background", entities=bench.entities, relations=bench.relations,
                          train=bench.background, valid=empty, test=empty)
