import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from course_lib.kg import (
    NonFiniteScoreError,
    evaluate,
    fixed_subset,
    from_labels,
    random_kg,
    ranks_from_scores,
    relation_categories,
)


def test_tie_rule_on_all_equal_scores():
    scores = torch.zeros(3, 11)
    targets = torch.tensor([0, 5, 10])
    assert ranks_from_scores(scores, targets, tie="optimistic").tolist() == [1, 1, 1]
    assert ranks_from_scores(scores, targets, tie="pessimistic").tolist() == [11, 11, 11]
    assert ranks_from_scores(scores, targets).tolist() == [6, 6, 6]  # realistic = mean of the two


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_scores_raise_instead_of_ranking_first(bad):
    scores = torch.randn(4, 6)
    scores[2, 3] = bad
    with pytest.raises(NonFiniteScoreError, match="diverged"):
        ranks_from_scores(scores, torch.zeros(4, dtype=torch.long))


def test_filter_and_candidate_restriction():
    scores = torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0]])
    target = torch.tensor([3])
    assert ranks_from_scores(scores, target).item() == 4
    exclude = torch.tensor([[True, False, False, True, False]])  # the target itself is never filtered
    assert ranks_from_scores(scores, target, exclude=exclude).item() == 3
    allowed = torch.tensor([[False, False, True, True, True]])
    assert ranks_from_scores(scores, target, allowed=allowed).item() == 2
    with pytest.raises(ValueError, match="candidate set"):
        ranks_from_scores(scores, target, allowed=torch.tensor([[True, True, True, False, True]]))


def _brute_force(table, kg, triples, side):
    known = {tuple(t) for t in kg.all_triples().tolist()}
    ranks = []
    for h, r, t in triples.tolist():
        anchor, target = (h, t) if side == "tail" else (t, h)
        s = table[side][anchor, r]
        better = equal = 0
        for e in range(kg.num_entities):
            if e == target:
                continue
            triple = (h, r, e) if side == "tail" else (e, r, t)
            if triple in known:
                continue
            better += bool(s[e] > s[target])
            equal += bool(s[e] == s[target])
        ranks.append(1 + better + equal / 2)
    return ranks


@given(seed=st.integers(0, 1000), batch=st.integers(1, 40))
def test_evaluate_matches_a_brute_force_loop(seed, batch):
    kg = random_kg(12, 3, 80, 20, seed=seed)
    g = torch.Generator().manual_seed(seed)
    # integer-valued scores so that ties happen
    table = {side: torch.randint(0, 4, (12, 3, 12), generator=g).float() for side in ("head", "tail")}

    def scorer(anchor, relation, side):
        return table[side][anchor, relation]

    result = evaluate(scorer, kg, batch_size=batch, progress=False)
    for side in ("head", "tail"):
        assert result.ranks[side].tolist() == _brute_force(table, kg, kg.test, side)


def test_bounded_memory_batches_and_metrics():
    kg = random_kg(50, 4, 300, 40, seed=1)
    calls = []

    def scorer(anchor, relation, side):
        calls.append(len(anchor))
        return torch.zeros(len(anchor), kg.num_entities)

    result = evaluate(scorer, kg, memory_elements=50 * 3 * 7, progress=False)  # width 1 + 2 → 7 queries
    assert max(calls) == 7
    m = result.metrics()
    assert set(m) == {"MRR", "MR", "H@1", "H@3", "H@10"}
    assert result.table().index.tolist() == ["head", "tail", "both"]
    cats = result.by_relation_group(relation_categories(kg))
    assert cats["queries"].sum() == len(kg.test)


def test_evaluate_candidate_restriction_per_relation():
    kg = from_labels("c", train=[("a", "r", "b"), ("c", "s", "d")], test=[("a", "r", "d")])
    allowed = torch.zeros(kg.num_relations, kg.num_entities, dtype=torch.bool)
    allowed[kg.relation_id("r"), [kg.entity_id("a"), kg.entity_id("d")]] = True
    flat = evaluate(lambda a, r, s: torch.zeros(len(a), kg.num_entities), kg, progress=False, sides=("tail",))
    restricted = evaluate(lambda a, r, s: torch.zeros(len(a), kg.num_entities), kg, progress=False,
                          sides=("tail",), candidates=allowed)
    # all tied: 3 unfiltered candidates (a, c, d; b is a known answer) vs 2 (a, d)
    assert flat.ranks["tail"].item() == 2.0 and restricted.ranks["tail"].item() == 1.5


def test_evaluate_rejects_bad_input():
    kg = random_kg(10, 2, 40, 5)
    ok = lambda a, r, s: torch.zeros(len(a), 10)  # noqa: E731
    with pytest.raises(ValueError, match="returned shape"):
        evaluate(lambda a, r, s: torch.zeros(len(a), 9), kg, progress=False)
    with pytest.raises(ValueError, match="tie"):
        evaluate(ok, kg, tie="random", progress=False)
    with pytest.raises(ValueError, match="sides"):
        evaluate(ok, kg, sides=("left",), progress=False)
    with pytest.raises(ValueError, match="candidates"):
        evaluate(ok, kg, candidates=torch.ones(9, dtype=torch.bool), progress=False)
    with pytest.raises(ValueError, match="ids must lie"):
        evaluate(ok, kg, torch.tensor([[0, 5, 1]]), progress=False)
    with pytest.raises(TypeError, match="score_all"):
        evaluate(42, kg, progress=False)


def test_fixed_subset_is_deterministic_and_ordered():
    t = torch.arange(300).reshape(100, 3)
    a, b = fixed_subset(t, 10, seed=4), fixed_subset(t, 10, seed=4)
    assert torch.equal(a, b) and len(a) == 10
    assert (a[1:, 0] > a[:-1, 0]).all()
    assert fixed_subset(t, None) is t
