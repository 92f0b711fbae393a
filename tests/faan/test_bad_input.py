import pytest
import torch

from course_lib.faan.episodes import EpisodeSampler
from course_lib.faan.evaluation import evaluate_few_shot
from tests.faan.test_evaluation import tiny_bench


def zeros(task, refs, heads, cands):
    return torch.zeros(len(heads), len(cands))


def test_k_larger_than_the_references_available():
    with pytest.raises(ValueError, match="K = 5 references requested but task 'r' has only 5 triples"):
        evaluate_few_shot(zeros, tiny_bench(), 5)
    with pytest.raises(ValueError, match="shots"):
        evaluate_few_shot(zeros, tiny_bench(), 0)
    with pytest.raises(TypeError, match="shots"):
        evaluate_few_shot(zeros, tiny_bench(), 1.5)


def test_unknown_task_relation():
    with pytest.raises(KeyError, match="no task relation 'nope'; its tasks are r"):
        evaluate_few_shot(zeros, tiny_bench(), 1, tasks=("nope",))
    with pytest.raises(KeyError, match="no task relation"):
        tiny_bench().candidate_set("nope")


def test_empty_candidate_set():
    bench = tiny_bench()
    bench.candidates["r"] = torch.tensor([], dtype=torch.long)
    with pytest.raises(ValueError, match="empty candidate set"):
        evaluate_few_shot(zeros, bench, 1)


def test_true_tail_missing_from_candidates():
    bench = tiny_bench()
    bench.candidates["r"] = torch.tensor([1, 2])
    with pytest.raises(ValueError, match="missing from the candidate set"):
        evaluate_few_shot(zeros, bench, 1)


def test_sampler_refuses_bad_settings(umls_bench):
    task = umls_bench.splits["train"][0]
    with pytest.raises(ValueError, match="K = 1000 references requested"):
        EpisodeSampler(umls_bench, 1000, 8)
    with pytest.raises(ValueError, match="queries"):
        EpisodeSampler(umls_bench, 3, 0)
    with pytest.raises(KeyError, match="no task relation"):
        EpisodeSampler(umls_bench, 3, 8, tasks=(task, "not a relation"))
    with pytest.raises(ValueError, match="split"):
        evaluate_few_shot(zeros, umls_bench, 3, split="validation")
