"""FAAN series: adaptive attentional few-shot knowledge-graph completion (Sheng et al., EMNLP 2020).

Built on the shared knowledge-graph core :mod:`course_lib.kg` (triples, TransE, ranking with a declared tie rule).
Modules: ``benchmark`` (offline FB15k-237-One / UMLS-One carves, neighbour table), ``model`` (adaptive neighbour
encoder, pair Transformer, query-aware aggregator, ablations, TransE prototype), ``episodes`` (meta-training
sampler), ``evaluation`` (candidate-restricted filtered ranking), ``training`` (TransE pre-training, meta-training
through ``course_lib.train``), ``experiments`` (seed × K × variant grid), ``presets``.
"""
from course_lib.faan.benchmark import (
                                       FewShotBenchmark,
                                       NeighborTable,
                                       carve_few_shot,
                                       fb15k237_one,
                                       load_benchmark,
                                       neighbor_table,
                                       umls_one,
)
from course_lib.faan.episodes import Episode, EpisodeSampler
from course_lib.faan.evaluation import evaluate_few_shot, model_scorer, prototype_scorer, random_mrr
from course_lib.faan.model import FAAN, FAANConfig, aggregate_references, margin_loss, neighbor_attention

__all__ = ["FAAN", "Episode", "EpisodeSampler", "FAANConfig", "FewShotBenchmark", "NeighborTable",
           "aggregate_references", "carve_few_shot", "evaluate_few_shot", "fb15k237_one", "load_benchmark",
           "margin_loss", "model_scorer", "neighbor_attention", "neighbor_table", "prototype_scorer", "random_mrr",
           "umls_one"]
