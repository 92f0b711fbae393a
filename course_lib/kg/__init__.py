"""Shared knowledge-graph machinery (paper-neutral): triples and datasets, negative sampling, the
self-adversarial loss, embedding models with one scoring interface (TransE, RotatE), the filtered ranking
evaluator and relation categories. Paper series (OTE, FAAN) import from here.
"""
from course_lib.kg.categories import CATEGORIES, category_table, relation_categories
from course_lib.kg.evaluate import (
    TIE_RULES,
    EvalResult,
    FilterIndex,
    NonFiniteScoreError,
    evaluate,
    fixed_subset,
    ranks_from_scores,
)
from course_lib.kg.models import KGEModel, RotatE, TransE
from course_lib.kg.sampling import NegativeBatch, NegativeSampler, self_adversarial_loss
from course_lib.kg.training import TrainConfig, batch_loss, train_kge
from course_lib.kg.triples import (
    DATASETS,
    KnowledgeGraph,
    check_triples,
    from_labels,
    leakage_stats,
    load_kg,
    load_or_synthetic,
    random_kg,
    toy_pattern_kg,
)

__all__ = [
    "CATEGORIES", "DATASETS", "TIE_RULES", "EvalResult", "FilterIndex", "KGEModel", "KnowledgeGraph",
    "NegativeBatch", "NegativeSampler", "NonFiniteScoreError", "RotatE", "TrainConfig", "TransE", "batch_loss",
    "category_table", "check_triples", "evaluate", "fixed_subset", "from_labels", "leakage_stats", "load_kg",
    "load_or_synthetic", "random_kg", "ranks_from_scores", "relation_categories", "self_adversarial_loss",
    "toy_pattern_kg", "train_kge",
]
