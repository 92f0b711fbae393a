import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.counting.boxes import box_area, nms_keep, pairwise_iou


def random_boxes(g, *shape, min_side=0.0):
    corner = torch.rand(*shape, 2, generator=g)
    side = min_side + torch.rand(*shape, 2, generator=g) * 0.5
    return torch.cat([corner, corner + side], -1)


def brute_iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def test_iou_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    a, b = random_boxes(g, 6, min_side=0.01).double(), random_boxes(g, 4, min_side=0.01).double()
    iou = pairwise_iou(a, b)
    for i in range(6):
        for j in range(4):
            assert iou[i, j].item() == pytest.approx(brute_iou(a[i].tolist(), b[j].tolist()), abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 1.0), st.integers(0, 10_000))
def test_self_iou_is_one_for_any_size(log_side, seed):
    side = 10 ** (-8 * log_side)  # 1 ... 1e-8
    g = torch.Generator().manual_seed(seed)
    corner = torch.rand(3, 5, 2, generator=g) * 0.9
    boxes = torch.cat([corner, corner + side], -1)
    iou = pairwise_iou(boxes)
    assert torch.equal(iou.diagonal(dim1=-2, dim2=-1), torch.ones(3, 5))
    assert torch.allclose(iou, iou.transpose(-1, -2)) and iou.min() >= 0 and iou.max() <= 1


def test_zero_area_boxes():
    boxes = torch.tensor([[0.2, 0.2, 0.2, 0.2], [0.2, 0.2, 0.2, 0.2], [0.5, 0.5, 0.5, 0.5]])
    iou = pairwise_iou(boxes)
    assert torch.equal(iou, torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))


def test_official_epsilon_reproduces_tiny_box_bug():
    box = torch.tensor([[0.3, 0.3, 0.3 + 1e-6, 0.3 + 1e-6]], dtype=torch.float64)
    assert pairwise_iou(box, abs_eps=1e-12)[0, 0].item() == pytest.approx(0.5, abs=1e-3)
    assert pairwise_iou(box)[0, 0].item() == 1.0


def test_area_and_errors():
    assert box_area(torch.tensor([[0.0, 0.0, 2.0, 3.0], [1.0, 1.0, 1.0, 1.0]])).tolist() == [6.0, 0.0]
    with pytest.raises(ValueError, match="x1 <= x2"):  # an inverted box is an error, not an empty box
        box_area(torch.tensor([[1.0, 1.0, 0.0, 0.0]]))
    with pytest.raises(ValueError):
        pairwise_iou(torch.rand(3, 5))
    with pytest.raises(TypeError):
        pairwise_iou(torch.ones(3, 4, dtype=torch.long))


def naive_nms(boxes, scores, thr):
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep = []
    for i in order:
        if all(brute_iou(boxes[i], boxes[j]) <= thr for j in keep):
            keep.append(i)
    return sorted(keep)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.05, 0.95))
def test_nms_matches_naive_greedy(seed, thr):
    g = torch.Generator().manual_seed(seed)
    boxes = random_boxes(g, 8, 12, min_side=0.05).double()
    scores = torch.rand(8, 12, generator=g).double()
    keep = nms_keep(boxes, scores, thr)
    for b in range(8):
        expected = naive_nms(boxes[b].tolist(), scores[b].tolist(), thr)
        assert keep[b].nonzero().flatten().tolist() == expected


def test_nms_duplicates_and_errors():
    box = torch.tensor([0.1, 0.1, 0.4, 0.4])
    boxes = torch.stack([box, box, box + 0.5])[None]
    keep = nms_keep(boxes, torch.tensor([[0.9, 0.8, 0.7]]), 0.5)
    assert keep.tolist() == [[True, False, True]]
    with pytest.raises(ValueError):
        nms_keep(boxes, torch.rand(1, 2))
    with pytest.raises(ValueError):
        nms_keep(boxes, torch.rand(1, 3), iou_threshold=1.5)
