import math

import pytest
import torch

from course_lib.kg import RotatE, TrainConfig, evaluate, toy_pattern_kg, train_kge
from course_lib.kg.sampling import NegativeSampler
from course_lib.ote import GCOTE, OTE, group_distance, orthogonalize_qr


def test_ote_score_is_the_group_distance_of_the_scaled_orthogonal_map():
    torch.manual_seed(0)
    m = OTE(9, 3, 12, group_size=4, gamma=5.0)
    with torch.no_grad():
        m.log_scale.normal_()
    h, r, t = 2, 1, 7
    u = orthogonalize_qr(m.relation[r])
    s = m.log_scale[r].exp()
    fh = torch.stack([(s[i] * m.entity[h].view(3, 4)[i]) @ u[i] for i in range(3)])
    expected = 5.0 - torch.linalg.vector_norm(fh - m.entity[t].view(3, 4), dim=-1).sum()
    got = m.score(torch.tensor([h]), torch.tensor([r]), torch.tensor([t]), "tail")
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    # head prediction uses the exact inverse on the tail
    inv = torch.stack([(m.entity[t].view(3, 4)[i] @ u[i].T) / s[i] for i in range(3)])
    expected_head = 5.0 - torch.linalg.vector_norm(inv - m.entity[h].view(3, 4), dim=-1).sum()
    got_head = m.score(torch.tensor([h]), torch.tensor([r]), torch.tensor([t]), "head")
    assert got_head.item() == pytest.approx(expected_head.item(), rel=1e-5)


def test_score_all_matches_score_for_both_sides():
    torch.manual_seed(1)
    m = OTE(8, 2, 8, group_size=2)
    anchor, rel, every = torch.tensor([0, 5]), torch.tensor([1, 0]), torch.arange(8)[None]
    torch.testing.assert_close(m.score_all(anchor, rel, "tail"), m.score(anchor[:, None], rel[:, None], every))
    torch.testing.assert_close(m.score_all(anchor, rel, "head"),
                               m.score(every, rel[:, None], anchor[:, None], "head"))


def test_k2_rotation_reproduces_rotate():
    torch.manual_seed(2)
    rot = RotatE(6, 2, 5, gamma=4.0)
    ote = OTE(6, 2, 10, group_size=2, gamma=4.0)
    theta = rot.phase(torch.arange(2))                        # (R, 5)
    c, s = torch.cos(theta), torch.sin(theta)
    u = torch.stack([torch.stack([c, s], -1), torch.stack([-s, c], -1)], -2)   # row-vector rotation, det +1
    with torch.no_grad():
        ote.relation.copy_(u)
        re, im = rot.entity.chunk(2, dim=-1)
        ote.entity.copy_(torch.stack([re, im], -1).flatten(-2))   # pair (re_j, im_j) = group j
    assert torch.allclose(torch.linalg.det(orthogonalize_qr(ote.relation)), torch.ones(2, 5), atol=1e-5)
    for side in ("tail", "head"):
        torch.testing.assert_close(ote.score_all(torch.arange(6), torch.tensor([0, 1, 0, 1, 0, 1]), side),
                                   rot.score_all(torch.arange(6), torch.tensor([0, 1, 0, 1, 0, 1]), side),
                                   atol=1e-4, rtol=1e-5)


def test_ote_learns_symmetry_and_inversion_on_the_toy_graph():
    kg = toy_pattern_kg(80)
    torch.manual_seed(0)
    m = OTE(kg.num_entities, kg.num_relations, 32, group_size=4)
    train_kge(m, kg, TrainConfig(steps=600, batch_size=32, num_negatives=16, lr=1e-2, log_every=200),
              progress=False)
    assert evaluate(m, kg, progress=False).mrr > 0.9


def test_ote_bad_input():
    with pytest.raises(ValueError, match="multiple of group_size"):
        OTE(5, 2, 10, group_size=4)
    with pytest.raises(ValueError, match="scaling"):
        OTE(5, 2, 8, scaling="softplus")
    with pytest.raises(ValueError, match="orthogonalizer"):
        OTE(5, 2, 8, orthogonalizer="svd")


# ---- GC-OTE ----------------------------------------------------------------------------------------------
def _gc(gnn="gat", dummy=True, seed=0):
    kg = toy_pattern_kg(16)
    torch.manual_seed(seed)
    return kg, GCOTE(kg.num_entities, kg.num_relations, 8, kg.train, group_size=4, gnn_type=gnn, add_dummy=dummy)


def test_removing_the_batch_edges_changes_the_context():
    kg, m = _gc()
    h, _, t = kg.train[0].tolist()
    c_in, c_out = m.contexts()
    c_in2, c_out2 = m.contexts(exclude=kg.train[:1])
    assert not torch.allclose(c_in[t], c_in2[t]) and not torch.allclose(c_out[h], c_out2[h])
    untouched = [e for e in range(kg.num_entities) if e not in (h, t)]
    torch.testing.assert_close(c_in[untouched], c_in2[untouched])


def test_dummy_node_gives_every_entity_a_context():
    kg, m = _gc(dummy=False)
    isolated_in = torch.ones(kg.num_entities, dtype=torch.bool)
    isolated_in[kg.train[:, 2]] = False
    assert isolated_in.any()
    c_in, _ = m.contexts()
    assert (c_in[isolated_in] == 0).all()                  # no incoming edge, no dummy: an empty context
    _, md = _gc(dummy=True)
    c_in_d, _ = md.contexts()
    assert (c_in_d[isolated_in].abs().sum(-1) > 0).all()   # the dummy's message fills it


def test_gcn_context_is_the_mean_message():
    kg, m = _gc(gnn="gcn", dummy=False)
    c_in, _ = m.contexts()
    e = int(kg.train[0, 2])
    edges = kg.train[kg.train[:, 2] == e]
    msgs = m.transform(m.entity[edges[:, 0]], edges[:, 1])
    torch.testing.assert_close(c_in[e], msgs.mean(0), atol=1e-6, rtol=1e-5)


def test_gcote_score_is_the_four_term_average_and_tables_match_per_edge():
    kg, m = _gc()
    m.eval()
    h, r, t = (torch.tensor([v]) for v in kg.test[0].tolist())
    c_in, c_out = m.contexts()
    fh, ft = m.transform(m.entity[h], r), m.transform(m.entity[t], r, inverse=True)
    d = (group_distance(fh, m.entity[t], 4) + group_distance(fh, c_in[t], 4)
         + group_distance(ft, m.entity[h], 4) + group_distance(ft, c_out[h], 4)) / 4
    for side in ("tail", "head"):
        assert m.score(h, r, t, side).item() == pytest.approx(m.gamma - d.item(), rel=1e-5)
    fast = m.score_all(torch.arange(4), torch.tensor([0, 1, 2, 0]), "tail")
    m.table_elements = 0
    m.train(False)  # clears the cache
    torch.testing.assert_close(m.score_all(torch.arange(4), torch.tensor([0, 1, 2, 0]), "tail"), fast)


def test_gcote_trains_from_ote_and_rejects_bad_input():
    kg = toy_pattern_kg(16)
    ote = OTE(kg.num_entities, kg.num_relations, 8, group_size=4)
    gc = GCOTE.from_ote(ote, kg.train)
    torch.testing.assert_close(gc.entity, ote.entity)
    batch = NegativeSampler(kg, 8, 4).batch()
    pos, neg = gc(batch.positives, batch.negatives, batch.corrupt_head)
    (pos.sum() - neg.sum()).backward()
    assert gc.dummy.grad is not None and math.isfinite(gc.dummy.grad.abs().sum().item())
    with pytest.raises(ValueError, match="gnn_type"):
        GCOTE(5, 2, 8, kg.train, gnn_type="gin")
    with pytest.raises(ValueError, match="ids must lie"):
        GCOTE(3, 2, 8, kg.train)
    with pytest.raises(ValueError, match="relation ids must lie"):  # the dummy relation is not a user relation
        gc.score(torch.tensor([0]), torch.tensor([kg.num_relations]), torch.tensor([1]))
