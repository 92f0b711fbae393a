import pytest
import torch

from course_lib.kg import NegativeSampler, from_labels, self_adversarial_loss, toy_pattern_kg
from course_lib.kg.sampling import relation_tph_hpt, subsampling_weights, triple_keys


def test_uniform_sampler_alternates_sides_and_avoids_known_triples():
    kg = toy_pattern_kg(40)
    s = NegativeSampler(kg, 16, 32, seed=0)
    known = set(triple_keys(kg.train, kg.num_entities, kg.num_relations).tolist())
    sides = []
    for _ in range(6):
        b = s.batch()
        assert b.positives.shape == (16, 3) and b.negatives.shape == (16, 32)
        sides.append(bool(b.corrupt_head.all()) if b.corrupt_head.any() else False)
        h = torch.where(b.corrupt_head[:, None], b.negatives, b.positives[:, :1])
        t = torch.where(b.corrupt_head[:, None], b.positives[:, 2:], b.negatives)
        keys = (h * kg.num_relations + b.positives[:, 1:2]) * kg.num_entities + t
        assert not any(k in known for k in keys.flatten().tolist())
    assert sides == [True, False] * 3


def test_sampler_epochs_cover_every_training_triple_and_state_restores():
    kg = toy_pattern_kg(40)
    s = NegativeSampler(kg, 9, 4, seed=3)
    seen = torch.cat([s.batch().positives for _ in range(len(kg.train) // 9)])
    assert len(torch.unique(seen, dim=0)) == len(seen)
    state = s.state_dict()
    a = s.batch()
    s.load_state_dict(state)
    b = s.batch()
    assert torch.equal(a.positives, b.positives) and torch.equal(a.negatives, b.negatives)


def test_bernoulli_corrupts_the_one_side_more_often():
    # relation "fan": 1 head -> many tails (tph high): Bernoulli corrupts the head with prob tph/(tph+hpt)
    train = [("hub", "fan", f"t{i}") for i in range(20)] + [(f"s{i}", "in", "sink") for i in range(20)]
    kg = from_labels("b", train=train)
    tph, hpt = relation_tph_hpt(kg.train, kg.num_relations)
    s = NegativeSampler(kg, 40, 2, mode="bernoulli", filtered=False, seed=0)
    fan = kg.relation_id("fan")
    heads = torch.cat([(b.corrupt_head[b.positives[:, 1] == fan]).float() for b in s.batches(50)])
    assert tph[fan] == 20 and hpt[fan] == 1
    assert heads.mean().item() == pytest.approx(20 / 21, abs=0.03)


def test_subsampling_weight_formula():
    kg = from_labels("w", train=[("a", "r", "b"), ("a", "r", "c"), ("d", "r", "b")])
    w = subsampling_weights(kg.train, kg.num_entities, kg.num_relations)
    # (a, r, b): count(a, r) = 2, count(b, r⁻¹) = 2 → 1/sqrt(2 + 2 + 8)
    assert w[0].item() == pytest.approx(12 ** -0.5)


def test_self_adversarial_loss_formula_and_detached_weights():
    torch.manual_seed(0)
    pos = torch.randn(5, requires_grad=True)
    neg = torch.randn(5, 7, requires_grad=True)
    alpha = 0.7
    loss = self_adversarial_loss(pos, neg, adversarial_temperature=alpha)
    p = torch.softmax(alpha * neg.detach(), 1)
    expected = -0.5 * (torch.nn.functional.logsigmoid(pos).mean()
                       + (p * torch.nn.functional.logsigmoid(-neg)).sum(1).mean())
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    # with p a constant, d loss / d neg_j = 0.5/B · p_j · σ(neg_j); a gradient through p would add terms
    manual = 0.5 / 5 * p * torch.sigmoid(neg.detach())
    torch.testing.assert_close(neg.grad, manual)


def test_loss_and_sampler_reject_bad_input():
    with pytest.raises(ValueError, match=r"\(B,\) and negative scores \(B, n\)"):
        self_adversarial_loss(torch.zeros(3), torch.zeros(4, 2))
    kg = toy_pattern_kg(8)
    with pytest.raises(ValueError, match="mode"):
        NegativeSampler(kg, 4, 4, mode="adversarial")
    with pytest.raises(ValueError, match="num_negatives"):
        NegativeSampler(kg, 4, 0)
