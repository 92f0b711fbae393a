import pytest
import torch

from course_lib.counting.boxes import pairwise_iou
from course_lib.counting.toy import ToyCountingDataset, duplicate_scene, grid_boxes, toy_scene


def test_shapes_ranges_and_reproducibility():
    b1 = ToyCountingDataset(0.3, 0.2, seed=1).batch(64)
    b2 = ToyCountingDataset(0.3, 0.2, seed=1).batch(64)
    assert torch.equal(b1.boxes, b2.boxes) and torch.equal(b1.attention, b2.attention)
    assert b1.boxes.shape == (64, 10, 4) and b1.attention.shape == (64, 10) and b1.count.dtype == torch.long
    assert (b1.attention >= 0).all() and (b1.attention <= 1).all() and (b1.count <= 10).all()
    side = b1.boxes[..., 2:] - b1.boxes[..., :2]
    assert torch.allclose(side, torch.full_like(side, 0.3), atol=1e-6)
    assert b1.boxes.min() >= 0 and b1.boxes.max() <= 1 + 1e-6
    assert not torch.equal(ToyCountingDataset(0.3, 0.2, seed=2).batch(64).boxes, b1.boxes)


def test_attention_is_max_iou_with_true_boxes():
    b = ToyCountingDataset(0.4, 0.0, seed=3).batch(32)
    for i in range(32):
        c = int(b.count[i])
        if c == 0:
            assert b.attention[i].abs().max() == 0
            continue
        iou = pairwise_iou(b.boxes[i])[:, :c].amax(1)
        assert torch.allclose(b.attention[i], iou)
        assert torch.allclose(b.attention[i, :c], torch.ones(c))


def test_tiny_boxes_make_the_sum_exact():
    b = ToyCountingDataset(0.0, 0.0, seed=4).batch(256)
    assert torch.allclose(b.attention.sum(1), b.count.float())


def test_full_noise_forgets_the_signal():
    b = ToyCountingDataset(0.5, 1.0, seed=5).batch(2048)
    corr = torch.corrcoef(torch.stack([b.attention.sum(1), b.count.float()]))[0, 1]
    assert abs(corr.item()) < 0.1


def test_count_distribution_is_uniform():
    counts = torch.bincount(ToyCountingDataset(0.5, 0.0, seed=6).batch(11_000).count, minlength=11).float()
    assert (counts / 1000 - 1).abs().max() < 0.15


def test_scenes():
    s = toy_scene(3, 0.2, 0.0)
    assert int(s.count) == 3 and torch.allclose(s.attention[0, :3], torch.ones(3))
    d = duplicate_scene(3, 2)
    assert int(d.count) == 3 and d.attention.sum() == 5
    g = grid_boxes(10)
    iou = pairwise_iou(g)
    assert torch.allclose(iou, torch.eye(10))


def test_errors():
    with pytest.raises(ValueError):
        ToyCountingDataset(1.5, 0.0)
    with pytest.raises(ValueError):
        ToyCountingDataset(0.5, -0.1)
    with pytest.raises(ValueError):
        ToyCountingDataset(0.5, 0.0).batch(0)
    with pytest.raises(ValueError):
        ToyCountingDataset(0.5, 0.0).batch(4, count=11)
    with pytest.raises(ValueError):
        duplicate_scene(8, 5)
