import pytest
import torch

from course_lib.counting.boxes import pairwise_iou
from course_lib.counting.coins import CoinsCountingDataset, coin_boxes, coins_image


def test_coin_boxes_are_the_24_separate_coins():
    boxes = coin_boxes()
    assert boxes.shape == (24, 4)
    iou = pairwise_iou(boxes)
    assert torch.allclose(iou, torch.eye(24))
    side = boxes[:, 2:] - boxes[:, :2]
    assert (side > 30).all() and (side < 80).all()
    h, w = coins_image().shape
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()


def test_batches_look_like_the_toy_task():
    ds = CoinsCountingDataset(seed=0)
    batch, crops = ds.batch(256, return_crops=True)
    assert batch.boxes.shape == (256, 10, 4) and batch.attention.shape == (256, 10)
    assert batch.boxes.min() >= 0 and batch.boxes.max() <= 1
    assert (batch.attention >= 0).all() and (batch.attention <= 1).all()
    assert (batch.count >= 0).all() and (batch.count <= 10).all() and batch.count.float().std() > 1
    assert (crops[:, 2] <= 192 + 1e-4).all()  # left region only
    centre = (coin_boxes()[:, :2] + coin_boxes()[:, 2:]) / 2
    inside = ((centre[None] >= crops[:, None, :2]) & (centre[None] < crops[:, None, 2:])).all(-1).sum(1)
    assert torch.equal(inside.clamp(max=10), batch.count)


def test_score_sum_overcounts_because_of_duplicates():
    batch = CoinsCountingDataset(seed=1, false_boxes=0).batch(512)
    assert (batch.attention.sum(1) - batch.count).mean() > 0.3
    clean = CoinsCountingDataset(seed=1, duplicates=0, false_boxes=0).batch(512)
    assert (clean.attention > 0).sum(1).le(clean.count + 1).float().mean() > 0.95


def test_regions_and_errors():
    right = CoinsCountingDataset(region="right", seed=0).batch(64, return_crops=True)[1]
    assert (right[:, 0] >= 192 - 1e-4).all()
    with pytest.raises(ValueError):
        CoinsCountingDataset(region="top")
    with pytest.raises(ValueError):
        CoinsCountingDataset(crop_range=(100, 300))


def test_pretrained_models_load_and_count(tmp_path, monkeypatch):
    from course_lib.counting import pretrained
    from course_lib.counting.toy import ToyCountingDataset

    model, nms = pretrained.load_pretrained("toy")
    batch = ToyCountingDataset(0.5, 0.0, seed=99).batch(512)
    with torch.no_grad():
        acc = (model(batch.boxes, batch.attention).argmax(1) == batch.count).float().mean().item()
    assert acc > 0.9 and 0 < nms.iou_threshold <= 1
    monkeypatch.setattr(pretrained, "DATA_DIR", tmp_path)  # missing file: trains a (tiny) model instead
    monkeypatch.setitem(pretrained.TASKS, "coins", {"iterations": 3, "batch_size": 8, "seed": 0})
    model, _ = pretrained.load_pretrained("coins")
    assert model(batch.boxes, batch.attention).shape == (512, 11)
    with pytest.raises(ValueError):
        pretrained.load_pretrained("vqa")
