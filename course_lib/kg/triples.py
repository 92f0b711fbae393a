"""Knowledge graphs as id triples: loading through the data registry, id maps, inverse-leakage statistics, and
small synthetic graphs with known relation patterns.

A triple is ``(h, r, t)`` (head entity, relation, tail entity); a split is a ``LongTensor`` of shape ``(n, 3)``.
"""
from __future__ import annotations

import dataclasses
import tarfile
from pathlib import Path

import torch

from course_lib import data as course_data
from course_lib.checks import is_int

#: Registered knowledge graphs and how their files are laid out.
#: ``dicts``: the folder ships RotatE-style ``entities.dict`` / ``relations.dict`` id maps (else ids are assigned
#: to the sorted labels, as pykeen's ``TriplesFactory`` does); ``archive``: splits live inside a tar.gz.
DATASETS = {
    "umls": {"dicts": False},
    "kinships": {"dicts": False},
    "nations": {"dicts": False},
    "wn18rr": {"dicts": True},
    "fb15k-237": {"dicts": True, "archive": "FB15k-237.tar.gz"},
    "countries_S1": {"dicts": True, "folder": "countries", "prefix": "countries_S1/"},
    "countries_S2": {"dicts": True, "folder": "countries", "prefix": "countries_S2/"},
    "countries_S3": {"dicts": True, "folder": "countries", "prefix": "countries_S3/"},
}
SPLITS = ("train", "valid", "test")


@dataclasses.dataclass(frozen=True, eq=False)
class KnowledgeGraph:
    """Entity and relation names plus the train/valid/test splits as ``(n, 3)`` id tensors ``(h, r, t)``."""

    name: str
    entities: tuple[str, ...]
    relations: tuple[str, ...]
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    synthetic: bool = False

    def __post_init__(self):
        if not self.entities or not self.relations:
            raise ValueError(f"{self.name}: a knowledge graph needs at least one entity and one relation")
        for split in SPLITS:
            check_triples(getattr(self, split), len(self.entities), len(self.relations), what=f"{self.name}.{split}",
                          allow_empty=split != "train")

    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    def all_triples(self) -> torch.Tensor:
        """train ∪ valid ∪ test (the filter set of the filtered ranking protocol)."""
        return torch.cat([self.train, self.valid, self.test])

    def entity_id(self, name: str) -> int:
        try:
            return self.entities.index(name)
        except ValueError:
            raise KeyError(f"{self.name} has no entity {name!r} (e.g. {', '.join(self.entities[:5])})") from None

    def relation_id(self, name: str) -> int:
        try:
            return self.relations.index(name)
        except ValueError:
            raise KeyError(f"{self.name} has no relation {name!r}; relations: {', '.join(self.relations[:20])}"
                           + (" ..." if len(self.relations) > 20 else "")) from None

    def label(self, triple) -> tuple[str, str, str]:
        """The names of one id triple."""
        h, r, t = (int(x) for x in triple)
        return self.entities[h], self.relations[r], self.entities[t]

    def summary(self) -> dict:
        return {"name": self.name, "entities": self.num_entities, "relations": self.num_relations,
                "train": len(self.train), "valid": len(self.valid), "test": len(self.test),
                "synthetic": self.synthetic}


def check_triples(triples, num_entities: int, num_relations: int, *, what: str = "triples",
                  allow_empty: bool = False) -> torch.Tensor:
    """Validate an ``(n, 3)`` integer id tensor against the entity and relation counts; return it."""
    if not isinstance(triples, torch.Tensor):
        raise TypeError(f"{what}: expected a torch.LongTensor of shape (n, 3), got {type(triples).__name__}")
    if triples.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{what}: expected integer ids (int64), got dtype {triples.dtype}")
    if triples.ndim != 2 or triples.shape[1] != 3:
        raise ValueError(f"{what}: expected shape (n, 3) of (head, relation, tail) ids, got {tuple(triples.shape)}")
    if len(triples) == 0:
        if allow_empty:
            return triples
        raise ValueError(f"{what}: the split is empty")
    for col, limit, kind in ((0, num_entities, "head entity"), (1, num_relations, "relation"),
                             (2, num_entities, "tail entity")):
        lo, hi = int(triples[:, col].min()), int(triples[:, col].max())
        if lo < 0 or hi >= limit:
            raise ValueError(f"{what}: {kind} ids must lie in [0, {limit}), found range [{lo}, {hi}]")
    return triples


def _read_dict(text: str) -> tuple[str, ...]:
    pairs = [line.split("\t") for line in text.splitlines() if line.strip()]
    ids = [int(i) for i, _ in pairs]
    if ids != list(range(len(ids))):
        raise ValueError("an id map (entities.dict / relations.dict) must list ids 0..n-1 in order")
    return tuple(name for _, name in pairs)


def _read_labels(text: str, what: str) -> list[tuple[str, str, str]]:
    rows = []
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{what} line {i + 1}: expected 'head<TAB>relation<TAB>tail', got {line!r}")
        rows.append((parts[0].strip(), parts[1].strip(), parts[2].strip()))
    return rows


def _to_ids(rows, entities: tuple[str, ...], relations: tuple[str, ...], what: str) -> torch.Tensor:
    e_id = {e: i for i, e in enumerate(entities)}
    r_id = {r: i for i, r in enumerate(relations)}
    try:
        ids = [(e_id[h], r_id[r], e_id[t]) for h, r, t in rows]
    except KeyError as exc:
        raise ValueError(f"{what}: label {exc.args[0]!r} is missing from the id maps") from None
    return torch.tensor(ids, dtype=torch.long).reshape(-1, 3)


def _split_texts(name: str) -> tuple[dict[str, str], Path]:
    spec = DATASETS[name]
    folder = course_data.fetch(spec.get("folder", name))
    prefix = spec.get("prefix", "")
    texts = {}
    if "archive" in spec:
        with tarfile.open(folder / spec["archive"]) as tar:
            for member in tar.getmembers():
                stem = Path(member.name).stem
                if member.isfile() and stem in SPLITS:
                    texts[stem] = tar.extractfile(member).read().decode("utf-8")
    else:
        for split in SPLITS:
            texts[split] = (folder / f"{prefix}{split}.txt").read_text(encoding="utf-8")
    missing = [s for s in SPLITS if s not in texts]
    if missing:
        raise course_data.DataUnavailable(f"{name}: splits {missing} not found in {folder}")
    return texts, folder / prefix


def load_kg(name: str) -> KnowledgeGraph:
    """Load a registered knowledge graph (``umls``, ``kinships``, ``nations``, ``wn18rr``, ``fb15k-237``,
    ``countries_S1..3``) through the sha256-checked data registry.

    Ids follow the dataset's ``entities.dict`` / ``relations.dict`` where it ships them (the RotatE/OTE id maps),
    otherwise the sorted labels of all three splits. Raises :class:`course_lib.data.DataUnavailable` offline
    without a mirror.
    """
    if name not in DATASETS:
        raise KeyError(f"unknown knowledge graph {name!r}; choose one of {', '.join(DATASETS)}")
    texts, root = _split_texts(name)
    rows = {s: _read_labels(texts[s], f"{name}/{s}.txt") for s in SPLITS}
    if DATASETS[name]["dicts"]:
        entities = _read_dict((root / "entities.dict").read_text(encoding="utf-8"))
        relations = _read_dict((root / "relations.dict").read_text(encoding="utf-8"))
    else:
        every = [row for s in SPLITS for row in rows[s]]
        entities = tuple(sorted({h for h, _, _ in every} | {t for _, _, t in every}))
        relations = tuple(sorted({r for _, r, _ in every}))
    splits = {s: _to_ids(rows[s], entities, relations, f"{name}/{s}.txt") for s in SPLITS}
    return KnowledgeGraph(name=name, entities=entities, relations=relations, **splits)


def from_labels(name: str, train, valid=(), test=(), *, synthetic: bool = False) -> KnowledgeGraph:
    """Build a graph from label triples ``[(head, relation, tail), ...]`` (ids = sorted labels)."""
    rows = {"train": list(train), "valid": list(valid), "test": list(test)}
    every = [tuple(row) for s in SPLITS for row in rows[s]]
    if any(len(row) != 3 for row in every):
        raise ValueError("from_labels: every triple must be (head, relation, tail)")
    entities = tuple(sorted({h for h, _, _ in every} | {t for _, _, t in every}))
    relations = tuple(sorted({r for _, r, _ in every}))
    return KnowledgeGraph(name=name, entities=entities, relations=relations, synthetic=synthetic,
                          **{s: _to_ids(rows[s], entities, relations, f"{name}/{s}") for s in SPLITS})


def _keys(pairs: torch.Tensor, base: int) -> torch.Tensor:
    return pairs[:, 0] * base + pairs[:, 1]


def leakage_stats(kg: KnowledgeGraph, split: str = "test") -> dict[str, float]:
    """Inverse leakage of a split w.r.t. train (ConvE's warning; Toutanova & Chen 2015).

    - ``reverse_pair``: fraction of split triples (h, r, t) with some (t, r', h) in train (any relation);
    - ``same_pair``: fraction with some (h, r', t), r' ≠ r, in train (a parallel edge gives the answer away);
    - ``symmetric``: fraction with (t, r, h) itself in train;
    - ``either``: fraction covered by ``reverse_pair`` or ``same_pair``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    ev, tr, n = getattr(kg, split), kg.train, kg.num_entities
    if len(ev) == 0:
        raise ValueError(f"{kg.name}: split {split!r} is empty")
    train_pairs = _keys(tr[:, [0, 2]], n)
    reverse = torch.isin(_keys(ev[:, [2, 0]], n), train_pairs)
    triple_key = (tr[:, 0] * kg.num_relations + tr[:, 1]) * n + tr[:, 2]
    symmetric = torch.isin((ev[:, 2] * kg.num_relations + ev[:, 1]) * n + ev[:, 0], triple_key)
    # parallel edge: the (h, t) pair occurs in train, but not (only) as this very triple
    ev_pairs = _keys(ev[:, [0, 2]], n)
    ev_triple = (ev[:, 0] * kg.num_relations + ev[:, 1]) * n + ev[:, 2]
    uniq_pairs, counts = torch.unique(train_pairs, return_counts=True)
    pos = torch.searchsorted(uniq_pairs, ev_pairs).clamp(max=len(uniq_pairs) - 1)
    in_train = uniq_pairs[pos] == ev_pairs
    n_pair = torch.where(in_train, counts[pos], torch.zeros_like(pos))
    same = n_pair - torch.isin(ev_triple, triple_key).long() > 0
    return {"reverse_pair": reverse.float().mean().item(), "same_pair": same.float().mean().item(),
            "symmetric": symmetric.float().mean().item(), "either": (reverse | same).float().mean().item()}


def toy_pattern_kg(num_entities: int = 40, seed: int = 0) -> KnowledgeGraph:
    """A 3-relation synthetic graph with one symmetric relation and one inverse pair, where every test triple
    is implied by a training triple through its pattern (a model that captures the pattern ranks it first).

    ``married_to`` is symmetric: half the couples appear in both directions in train (they teach the pattern),
    the other half once in train and once (reversed) in test. ``parent_of`` / ``child_of`` are inverses: half
    the (parent, child) pairs appear with both relations in train, the others with one in train and the other
    in test.
    """
    if not is_int(num_entities) or num_entities < 8 or num_entities % 4:
        raise ValueError(f"num_entities must be a multiple of 4 and >= 8, got {num_entities!r}")
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(num_entities, generator=g).tolist()
    names = [f"e{i:02d}" for i in range(num_entities)]
    half = num_entities // 2
    train, test = [], []
    for n, i in enumerate(range(0, half, 2)):  # couples among the first half
        a, b = names[perm[i]], names[perm[i + 1]]
        train.append((a, "married_to", b))
        (test if n % 2 else train).append((b, "married_to", a))
    for j, i in enumerate(range(half, num_entities)):  # each of the second half is a child of one of the first
        child, parent = names[perm[i]], names[perm[j % half]]
        down, up = (parent, "parent_of", child), (child, "child_of", parent)
        if j % 2 == 0:
            train += [down, up]
        else:
            first, second = (down, up) if j % 4 == 1 else (up, down)
            train.append(first)
            test.append(second)
    return from_labels(f"toy_patterns_{num_entities}", train, valid=(), test=test, synthetic=True)


def random_kg(num_entities: int = 60, num_relations: int = 6, num_train: int = 600, num_test: int = 60,
              seed: int = 0, name: str = "random") -> KnowledgeGraph:
    """A random graph (no structure) — the loud offline stand-in when a registered dataset is unavailable."""
    g = torch.Generator().manual_seed(seed)
    n = num_train + num_test
    triples = torch.stack([torch.randint(num_entities, (n,), generator=g),
                           torch.randint(num_relations, (n,), generator=g),
                           torch.randint(num_entities, (n,), generator=g)], 1)
    triples = torch.unique(triples, dim=0)
    triples = triples[torch.randperm(len(triples), generator=g)]
    return KnowledgeGraph(name=f"{name} (synthetic)", entities=tuple(f"e{i}" for i in range(num_entities)),
                          relations=tuple(f"r{i}" for i in range(num_relations)),
                          train=triples[num_test:], valid=triples[:0], test=triples[:num_test], synthetic=True)


def load_or_synthetic(name: str) -> KnowledgeGraph:
    """:func:`load_kg`, or (offline, no mirror) a loudly announced random graph of similar size."""
    def synthetic():
        return random_kg(seed=0, name=name)

    kg, _ = course_data.load_or_synthetic(lambda: load_kg(name), synthetic, f"the {name} knowledge graph")
    return kg

