import pytest
import torch

from course_lib.faan.benchmark import FewShotBenchmark
from course_lib.faan.evaluation import evaluate_few_shot, random_mrr, random_scorer
from course_lib.kg import NonFiniteScoreError


def tiny_bench():
    pairs = torch.tensor([[0, 1], [0, 2], [3, 4], [3, 2], [5, 1]])
    return FewShotBenchmark(name="tiny", seed=0, entities=tuple(f"e{i}" for i in range(6)), relations=("b", "b_inv"),
                            background=torch.tensor([[0, 0, 3], [3, 1, 0]]), tasks={"r": pairs},
                            candidates={"r": torch.tensor([1, 2, 4])},
                            splits={"train": ("r",), "dev": ("r",), "test": ("r",)})


def test_known_true_tails_are_filtered():
    bench = tiny_bench()
    # queries (after K=1 reference (0,1)): (0,2), (3,4), (3,2), (5,1); candidates 1, 2, 4
    def scorer(task, refs, heads, cands):  # prefers candidate 1, then 2, then 4
        return torch.tensor([3.0, 2.0, 1.0]).expand(len(heads), -1)
    res = evaluate_few_shot(scorer, bench, 1)
    # (0,2): tail 1 is a known tail of head 0 -> filtered -> rank 1; (3,4): 1 and 2 ... 2 is known for head 3
    # -> filtered, 1 is not -> rank 2; (3,2): 4 known, 1 not -> rank 2; (5,1): rank 1
    assert res.ranks.tolist() == [1.0, 2.0, 2.0, 1.0]
    assert res.sizes.tolist() == [2, 2, 2, 3]


def test_all_equal_scores_give_the_mean_rank_under_realistic():
    bench = tiny_bench()
    res = evaluate_few_shot(lambda t, r, h, c: torch.zeros(len(h), len(c)), bench, 1)
    assert res.ranks.tolist() == [1.5, 1.5, 1.5, 2.0]
    pess = evaluate_few_shot(lambda t, r, h, c: torch.zeros(len(h), len(c)), bench, 1, tie="pessimistic")
    assert pess.ranks.tolist() == [2.0, 2.0, 2.0, 3.0]


def test_random_mrr_matches_simulation():
    sizes = torch.tensor([1, 2, 10, 50])
    assert random_mrr(sizes) == pytest.approx(sum(sum(1 / k for k in range(1, n + 1)) / n for n in [1, 2, 10, 50]) / 4)
    bench = tiny_bench()
    rr = torch.cat([1 / evaluate_few_shot(random_scorer(s), bench, 1).ranks for s in range(400)])
    assert rr.mean().item() == pytest.approx(random_mrr(torch.tensor([2, 2, 2, 3])), abs=0.03)


def test_non_finite_scores_raise():
    with pytest.raises(NonFiniteScoreError):
        evaluate_few_shot(lambda t, r, h, c: torch.full((len(h), len(c)), float("nan")), tiny_bench(), 1)
