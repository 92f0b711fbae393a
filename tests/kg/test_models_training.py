import math

import pytest
import torch

from course_lib.kg import RotatE, TrainConfig, TransE, evaluate, random_kg, toy_pattern_kg, train_kge


def test_transe_and_rotate_scores_match_their_formulas():
    torch.manual_seed(0)
    m = TransE(6, 2, 4, gamma=3.0)
    h, r, t = torch.tensor([1]), torch.tensor([0]), torch.tensor([4])
    expected = 3.0 - (m.entity[1] + m.relation[0] - m.entity[4]).abs().sum()
    assert m.score(h, r, t).item() == pytest.approx(expected.item(), rel=1e-6)
    rot = RotatE(6, 2, 3, gamma=3.0)
    c = torch.complex(rot.entity[:, :3], rot.entity[:, 3:])
    rel = torch.polar(torch.ones(3), rot.phase(torch.tensor(1)))
    expected = 3.0 - (c[2] * rel - c[5]).abs().sum()
    assert rot.score(torch.tensor([2]), torch.tensor([1]), torch.tensor([5])).item() == pytest.approx(
        expected.item(), rel=1e-5)


@pytest.mark.parametrize("cls, width", [(TransE, 8), (RotatE, 4)])
def test_score_all_equals_score_and_sides_agree(cls, width):
    torch.manual_seed(1)
    m = cls(7, 3, width)
    anchor, rel = torch.tensor([0, 3, 6]), torch.tensor([2, 0, 1])
    all_t = m.score_all(anchor, rel, "tail")
    every = torch.arange(7)[None]
    torch.testing.assert_close(all_t, m.score(anchor[:, None], rel[:, None], every, "tail"))
    # TransE and RotatE: the head query gives the same distance as the tail query for the same triple
    torch.testing.assert_close(m.score(anchor[:, None], rel[:, None], every, "head"), all_t, atol=1e-5, rtol=1e-5)


def test_models_reject_bad_input():
    m = TransE(5, 2, 4)
    with pytest.raises(ValueError, match="relation ids must lie"):
        m.score(torch.tensor([0]), torch.tensor([2]), torch.tensor([1]))
    with pytest.raises(TypeError, match="integer id tensor"):
        m.score(torch.tensor([0.0]), torch.tensor([0]), torch.tensor([1]))
    with pytest.raises(ValueError, match="side must be"):
        m.score_all(torch.tensor([0]), torch.tensor([0]), "middle")
    with pytest.raises(ValueError, match="num_entities"):
        TransE(0, 2, 4)
    with pytest.raises(ValueError, match="gamma"):
        RotatE(5, 2, 4, gamma=float("nan"))


def test_training_stops_on_a_non_finite_loss():
    kg = random_kg(20, 2, 100, 10)
    m = TransE(20, 2, 8)
    with torch.no_grad():
        m.entity[3] = float("nan")
    with pytest.raises(FloatingPointError):
        train_kge(m, kg, TrainConfig(steps=20, batch_size=100, num_negatives=4, log_every=10), progress=False)


def test_train_kge_rejects_a_mismatched_model():
    kg = random_kg(20, 2, 100, 10)
    with pytest.raises(ValueError, match="entities"):
        train_kge(TransE(21, 2, 8), kg, TrainConfig(steps=1), progress=False)


def test_rotate_learns_the_pattern_toy_and_transe_cannot_model_symmetry():
    kg = toy_pattern_kg(80)
    cfg = TrainConfig(steps=400, batch_size=32, num_negatives=16, lr=1e-2, log_every=100)
    torch.manual_seed(0)
    rot = RotatE(kg.num_entities, kg.num_relations, 16)
    hist = train_kge(rot, kg, cfg, progress=False)
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]
    assert evaluate(rot, kg, progress=False).mrr > 0.9
    assert math.isfinite(hist["train_loss"].iloc[-1])
