import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.counting.component import (
    Counter,
    attention_graph,
    count_confidence,
    count_from_graph,
    distance_matrix,
    hand_set_counter,
    inter_object_dedup,
    inter_object_similarity,
    interpolated_one_hot,
    intra_object_dedup,
    select_top_proposals,
    self_loop_correction,
)
from course_lib.counting.reference import counter_loop
from course_lib.counting.toy import ToyCountingDataset, duplicate_scene, grid_boxes


def randomised_counter(seed=0, n=10):
    torch.manual_seed(seed)
    counter = Counter(n)
    with torch.no_grad():
        for f in counter.f:
            f.weight.copy_(torch.rand(16) + 0.05)
    return counter


@settings(max_examples=30, deadline=None)
@given(st.lists(st.booleans(), min_size=10, max_size=10))
def test_identity_count_equals_sum_for_separate_boxes(bits):
    a = torch.tensor([bits], dtype=torch.float32)
    c = Counter(10).count(grid_boxes(10)[None], a)
    assert c.item() == pytest.approx(sum(bits), abs=1e-5)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 10), st.integers(0, 9), st.sampled_from([0.0, 0.05]))
def test_duplicates_count_as_one(k, m, jitter):
    m = min(m, 10 - k)
    scene = duplicate_scene(k, m, jitter=jitter, seed=k)
    c = hand_set_counter(10).count(scene.boxes, scene.attention)
    assert c.item() == pytest.approx(1 + m, abs=1e-5)


def test_identity_counter_does_not_merge_jittered_duplicates():
    scene = duplicate_scene(4, 0, jitter=0.05)
    assert Counter(10).count(scene.boxes, scene.attention).item() > 1.1


def test_interpolated_one_hot():
    o = interpolated_one_hot(torch.tensor([2.75]), 3)
    assert torch.allclose(o, torch.tensor([[0.0, 0.0, 0.25, 0.75]]))
    c = torch.tensor([0.0, 0.4, 3.0, 9.9, 10.0, 12.0, -1.0])
    o = interpolated_one_hot(c, 10)
    assert torch.allclose(o.sum(1), torch.ones(7))
    assert torch.allclose((o * torch.arange(11.0)).sum(1), c.clamp(0, 10))
    with pytest.raises(ValueError):
        interpolated_one_hot(c, 0)
    with pytest.raises(TypeError):
        interpolated_one_hot(torch.tensor([1, 2]), 3)


def test_interpolation_gradient_flows_through_fraction():
    c = torch.tensor([1.3], requires_grad=True)
    (interpolated_one_hot(c, 3) * torch.arange(4.0)).sum().backward()
    assert c.grad.item() == pytest.approx(1.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_batched_equals_per_example_loop(seed):
    counter = randomised_counter(seed)
    batch = ToyCountingDataset(0.4, 0.3, seed=seed).batch(16)
    with torch.no_grad():
        assert torch.allclose(
            counter(batch.boxes, batch.attention),
            counter_loop(counter, batch.boxes, batch.attention),
            atol=1e-5,
        )


def test_steps_compose_to_forward():
    counter = randomised_counter(3)
    b = ToyCountingDataset(0.5, 0.2, seed=3).batch(8)
    f = counter.f
    A, D = attention_graph(b.attention), distance_matrix(b.boxes)
    At = intra_object_dedup(A, D, f[0], f[1])
    sim = inter_object_similarity(b.attention, f[3](A) * f[4](D), f[2])
    C, s = inter_object_dedup(At, sim)
    c = count_from_graph(C, self_loop_correction(b.attention, s, f[0]))
    out = interpolated_one_hot(c, 10) * count_confidence(b.attention, D, f[5], f[6], f[7])
    assert torch.allclose(out, counter(b.boxes, b.attention))
    assert torch.allclose(D.diagonal(dim1=1, dim2=2), torch.zeros(8, 10))
    assert torch.allclose(sim, sim.transpose(1, 2)) and torch.allclose(A, A.transpose(1, 2))


def test_chunking_does_not_change_similarity():
    counter = randomised_counter(4)
    b = ToyCountingDataset(0.5, 0.2, seed=4).batch(9)
    X = counter.f[3](attention_graph(b.attention)) * counter.f[4](distance_matrix(b.boxes))
    full = inter_object_similarity(b.attention, X, counter.f[2])
    tiny = inter_object_similarity(b.attention, X, counter.f[2], max_elements=1)
    assert torch.allclose(full, tiny)


def test_count_is_permutation_invariant():
    counter = randomised_counter(5)
    b = ToyCountingDataset(0.5, 0.1, seed=5).batch(6)
    perm = torch.randperm(10)
    with torch.no_grad():
        assert torch.allclose(
            counter.count(b.boxes, b.attention),
            counter.count(b.boxes[:, perm], b.attention[:, perm]),
            atol=1e-5,
        )


def test_top_n_selection_ignores_low_attention_extras():
    b = ToyCountingDataset(0.3, 0.0, seed=6).batch(4)
    extra_boxes = torch.cat([b.boxes, torch.rand(4, 5, 4).sort(-1).values], 1)
    extra_att = torch.cat([b.attention, torch.full((4, 5), -1.0)], 1)
    boxes, att = select_top_proposals(extra_boxes, extra_att, 10)
    assert att.shape == (4, 10) and (att >= 0).all()
    with pytest.raises(ValueError):
        select_top_proposals(b.boxes, b.attention, 11)


def test_gradient_reaches_all_eight_functions():
    counter = Counter(10)
    b = ToyCountingDataset(0.5, 0.3, seed=0).batch(32)
    (counter(b.boxes, b.attention) * torch.randn(32, 11)).sum().backward()
    assert all(f.weight.grad is not None and f.weight.grad.abs().sum() > 0 for f in counter.f)


def test_attention_validation_and_logits_mode():
    b = ToyCountingDataset(0.5, 0.0, seed=0).batch(3)
    with pytest.raises(ValueError):
        Counter(10)(b.boxes, b.attention * 3)
    logits = torch.logit(b.attention.clamp(1e-4, 1 - 1e-4))
    out = Counter(10, attention_is_logits=True)(b.boxes, logits)
    ref = Counter(10)(b.boxes, torch.sigmoid(logits))
    assert torch.allclose(out, ref)
    with pytest.raises(ValueError):
        Counter(0)
    with pytest.raises(ValueError):
        attention_graph(torch.rand(10))


def test_trace_diagonal_holds_self_loops():
    a = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    trace = Counter(4).trace(grid_boxes(4)[None], a)
    assert torch.allclose(trace.C[0].diagonal(), torch.tensor([1.0, 1.0, 0.0, 0.0]))
    assert trace.C.sum().item() == pytest.approx(4.0) and trace.count.item() == pytest.approx(2.0)
