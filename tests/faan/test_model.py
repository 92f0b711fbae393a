import pytest
import torch

from course_lib.faan.benchmark import neighbor_table
from course_lib.faan.episodes import EpisodeSampler, pair_keys
from course_lib.faan.model import (
    FAAN,
    FAANConfig,
    PairEncoder,
    aggregate_references,
    margin_loss,
    neighbor_attention,
    transe_prototype_scores,
)


def test_padding_gets_zero_weight_and_weights_sum_to_one():
    g = torch.Generator().manual_seed(0)
    rhat, rel = torch.randn(6, 8, generator=g), torch.randn(6, 5, 8, generator=g)
    mask = torch.rand(6, 5, generator=g) < 0.6
    mask[:, 0] = True
    mask[5] = False  # an entity without neighbours
    alpha = neighbor_attention(rhat, rel, mask, torch.randn(8, 8, generator=g))
    assert (alpha[~mask] == 0).all()
    assert torch.allclose(alpha[:5].sum(1), torch.ones(5))
    assert (alpha[5] == 0).all() and torch.isfinite(alpha).all()
    static = neighbor_attention(rhat, rel, mask, None)
    assert torch.allclose(static[:5], mask[:5].float() / mask[:5].sum(1, keepdim=True))


def test_neighbour_whose_relation_is_rhat_dominates():
    rhat = torch.tensor([[3.0, 0.0, 0.0]])
    rel = torch.tensor([[[3.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [-3.0, 0.0, 0.0]]])
    alpha = neighbor_attention(rhat, rel, torch.ones(1, 4, dtype=torch.bool), torch.eye(3))
    assert alpha[0, 0] > 0.5
    assert alpha[0].argmax() == 0


def test_identical_references_are_returned_for_any_query():
    ref = torch.randn(1, 16)
    refs = ref.expand(4, -1)
    for _ in range(3):
        s_r, beta = aggregate_references(torch.randn(7, 16), refs)
        assert torch.allclose(s_r, ref.expand(7, -1), atol=1e-6)
        assert torch.allclose(beta.sum(-1), torch.ones(7))
    s_r, beta = aggregate_references(torch.randn(2, 16), torch.randn(3, 16), adaptive=False)
    assert torch.allclose(beta, torch.full((2, 3), 1 / 3))


def test_query_aware_weights_follow_the_query():
    refs = torch.eye(4) * 10
    _, beta = aggregate_references(refs[[2]], refs)
    assert beta[0].argmax() == 2 and beta[0, 2] > 0.9


def test_margin_loss():
    assert margin_loss(torch.tensor([10.0]), torch.tensor([0.0]), 5.0) == 0
    assert margin_loss(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0]), 5.0) == pytest.approx(4.5)


def test_pair_encoder_positions_follow_the_module_device():
    enc = PairEncoder(8, layers=1, heads=2)
    assert enc.positions.device == enc.relation_token.device
    assert enc(torch.randn(3, 8), torch.randn(3, 8)).shape == (3, 8)
    with pytest.raises(ValueError, match="divisible"):
        PairEncoder(10, heads=3)


def test_faan_scores_and_gradients(umls_bench):
    torch.manual_seed(0)
    nt = neighbor_table(umls_bench, 4)
    ent, rel = torch.randn(umls_bench.num_entities, 8), torch.randn(umls_bench.num_relations, 8)
    model = FAAN(ent, rel, nt, FAANConfig(dim=8, dropout=0.0))
    ep = EpisodeSampler(umls_bench, 3, 5, seed=0)(0)
    pos, neg = model(ep.refs, ep.positives, ep.negatives)
    assert pos.shape == neg.shape == (5,)
    margin_loss(pos, neg, 5.0).backward()
    assert model.neighbors.w_b.grad is not None and model.entity.weight.grad is None  # frozen embeddings
    model.eval()
    cands = umls_bench.candidates[umls_bench.splits["test"][0]]
    direct = model.score_candidates(ep.refs, int(ep.positives[0, 0]), cands)
    assert direct.shape == (len(cands),)
    with pytest.raises(ValueError, match="width"):
        FAAN(ent, rel, nt, FAANConfig(dim=16))


def test_episodes_are_deterministic_and_negatives_are_not_known(umls_bench):
    a, b = EpisodeSampler(umls_bench, 3, 16, seed=4), EpisodeSampler(umls_bench, 3, 16, seed=4)
    for step in (0, 5, 17):
        ea, eb = a(step), b(step)
        assert torch.equal(ea.refs, eb.refs) and torch.equal(ea.negatives, eb.negatives)
        task = a.task_of(step)
        known = pair_keys(umls_bench.tasks[task], umls_bench.num_entities)
        assert torch.isin(pair_keys(ea.positives, umls_bench.num_entities), known).all()
        assert torch.equal(ea.negatives[:, 0], ea.positives[:, 0])
        assert not torch.isin(pair_keys(ea.negatives, umls_bench.num_entities), known).any()
    # one pass visits every meta-train task once
    assert sorted(a.task_of(s) for s in range(len(a.tasks))) == sorted(a.tasks)


def test_transe_prototype_ranks_the_translated_tail_first():
    ent = torch.tensor([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [6.0, 5.0], [0.0, 3.0]])
    refs = torch.tensor([[0, 1]])  # relation = +x
    scores = transe_prototype_scores(ent, refs, torch.tensor([2]), torch.tensor([0, 1, 3, 4]))
    assert scores[0].argmax() == 2  # entity 3 = 2 + x
