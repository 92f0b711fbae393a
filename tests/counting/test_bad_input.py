"""Bad input to boxes, the counter and its steps gets a clear error naming what was expected (issue 13)."""
import numpy as np
import pytest
import torch

from course_lib.counting.boxes import box_area, check_boxes, nms_keep, pairwise_iou
from course_lib.counting.component import Counter, distance_matrix, interpolated_one_hot, select_top_proposals
from course_lib.counting.piecewise import PiecewiseLinear
from course_lib.counting.reference import counter_single
from course_lib.counting.toy import ToyCountingDataset


def _boxes():
    return torch.tensor([[[0.0, 0.0, 0.5, 0.5], [0.2, 0.1, 0.6, 0.9], [0.3, 0.3, 0.4, 0.4]]])


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_pairwise_iou_rejects_nonfinite_boxes(bad):
    boxes = _boxes()
    boxes[0, 1, 2] = bad
    with pytest.raises(ValueError, match=r"^boxes must be finite \(no NaN or ±inf\); found"):
        pairwise_iou(boxes)
    with pytest.raises(ValueError, match=r"^b must be finite"):
        pairwise_iou(_boxes(), boxes)
    with pytest.raises(ValueError, match="boxes must be finite"):
        distance_matrix(boxes)


def test_inverted_boxes_are_an_error_with_a_hint():
    boxes = _boxes()
    boxes[0, 2] = torch.tensor([0.4, 0.3, 0.3, 0.4])  # x2 < x1
    with pytest.raises(ValueError, match=r"x1 <= x2 and y1 <= y2; 1 of 3 boxes .* \(x, y, x \+ w, y \+ h\)"):
        pairwise_iou(boxes)
    for fn in (box_area, check_boxes, distance_matrix):
        with pytest.raises(ValueError, match="x1 <= x2"):
            fn(boxes)
    with pytest.raises(ValueError, match="x1 <= x2"):
        nms_keep(boxes, torch.rand(1, 3))
    degenerate = torch.tensor([[[0.2, 0.2, 0.2, 0.2]]])  # zero area is allowed
    assert pairwise_iou(degenerate).item() == 1.0


def test_nms_rejects_nonfinite_scores():
    with pytest.raises(ValueError, match="scores must be finite"):
        nms_keep(_boxes(), torch.tensor([[0.9, float("nan"), 0.1]]))


def test_interpolated_one_hot_rejects_nonfinite_counts_and_accepts_numpy_n():
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"c \(counts\) must be finite"):
            interpolated_one_hot(torch.tensor([1.5, bad]), 3)
    out = interpolated_one_hot(torch.tensor([2.75]), np.int64(3))
    assert torch.allclose(out, torch.tensor([[0.0, 0.0, 0.25, 0.75]]))
    with pytest.raises(TypeError, match="must be an int"):
        interpolated_one_hot(torch.tensor([1.0]), True)


def test_counter_validates_boxes_and_attention_once():
    counter = Counter(np.int64(3), np.int64(4))
    assert counter.n_objects == 3 and counter.f[0].d == 4
    boxes, att = _boxes(), torch.tensor([[0.9, 0.8, 0.1]])
    assert counter(boxes, att).shape == (1, 4)
    inverted = boxes.clone()
    inverted[0, 0, 3] = -1.0
    with pytest.raises(ValueError, match="x1 <= x2"):
        counter(inverted, att)
    with pytest.raises(ValueError, match="attention must be finite"):
        counter(boxes, torch.tensor([[0.9, float("nan"), 0.1]]))
    with pytest.raises(ValueError, match=r"attention must lie in \[0, 1\]"):
        counter(boxes, torch.tensor([[0.9, 1.5, 0.1]]))
    logits = Counter(3, 4, attention_is_logits=True)
    with pytest.raises(ValueError, match="attention must be finite"):
        logits(boxes, torch.tensor([[0.9, float("inf"), 0.1]]))


def test_numpy_integers_elsewhere():
    assert PiecewiseLinear(np.int32(5)).d == 5
    b, a = select_top_proposals(_boxes(), torch.tensor([[0.1, 0.9, 0.5]]), np.int64(2))
    assert torch.equal(a, torch.tensor([[0.9, 0.5]]))
    data = ToyCountingDataset(0.3, 0.1, n=np.int64(4), seed=0)
    assert data.batch(np.int64(2)).boxes.shape == (2, 4, 4)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        data.batch(2.0)


def test_loop_reference_builds_its_one_hot_on_the_input_device():
    counter = Counter(3, 4)
    boxes, att = _boxes()[0], torch.tensor([0.9, 0.8, 0.1])
    out = counter_single(counter, boxes, att)
    assert out.device == att.device and torch.allclose(out, counter(boxes[None], att[None])[0], atol=1e-6)
