"""Relation categories 1-1, 1-N, N-1 and N-N by the standard tph/hpt rule (Bordes et al. 2013; Wang et al. 2014).

For relation r, ``tph`` is the mean number of distinct tails per (head, r) pair and ``hpt`` the mean number of
distinct heads per (r, tail) pair; with threshold 1.5: hpt < 1.5 and tph < 1.5 → 1-1, hpt < 1.5 ≤ tph → 1-N,
tph < 1.5 ≤ hpt → N-1, both ≥ 1.5 → N-N.
"""
from __future__ import annotations

import pandas as pd
import torch

from course_lib.kg.sampling import relation_tph_hpt
from course_lib.kg.triples import KnowledgeGraph

CATEGORIES = ("1-1", "1-N", "N-1", "N-N")


def relation_categories(kg: KnowledgeGraph, triples: torch.Tensor | None = None, threshold: float = 1.5
                        ) -> list[str]:
    """Category of every relation of ``kg`` (computed on ``triples``, default train ∪ valid ∪ test)."""
    triples = kg.all_triples() if triples is None else triples
    tph, hpt = relation_tph_hpt(triples, kg.num_relations)
    out = []
    for many_tails, many_heads in zip((tph >= threshold).tolist(), (hpt >= threshold).tolist()):
        out.append(f"{'N' if many_heads else '1'}-{'N' if many_tails else '1'}")
    return out


def category_table(kg: KnowledgeGraph, threshold: float = 1.5) -> pd.DataFrame:
    """Relations with tph, hpt, category and number of test triples."""
    tph, hpt = relation_tph_hpt(kg.all_triples(), kg.num_relations)
    cats = relation_categories(kg, threshold=threshold)
    n_test = torch.bincount(kg.test[:, 1], minlength=kg.num_relations) if len(kg.test) else \
        torch.zeros(kg.num_relations, dtype=torch.long)
    return pd.DataFrame({"relation": kg.relations, "tph": tph.numpy(), "hpt": hpt.numpy(), "category": cats,
                         "test triples": n_test.numpy()})
