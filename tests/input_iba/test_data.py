"""Cluttered digits: deterministic, shaped as documented, masks on the target digit, disjoint digit pools."""
import numpy as np
import pytest
import torch

from course_lib.input_iba.data import MEAN, STD, _digit_pools, cluttered_digits, denormalize, normalize


def test_shapes_ranges_and_determinism():
    a = cluttered_digits(50, seed=3)
    b = cluttered_digits(50, seed=3)
    c = cluttered_digits(50, seed=4)
    assert a.images.shape == (50, 1, 32, 32) and a.images.dtype == torch.float32
    assert a.labels.shape == (50,) and a.labels.dtype == torch.int64 and set(a.labels.tolist()) <= set(range(10))
    assert a.masks.shape == (50, 32, 32) and a.masks.dtype == torch.bool
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)
    grey = denormalize(a.images)
    assert grey.min() >= 0 and grey.max() <= 1
    assert torch.allclose(normalize(grey), a.images, atol=1e-6)
    assert a.background == pytest.approx((0.15 - MEAN) / STD)


def test_mask_lies_in_the_box_and_is_bright():
    d = cluttered_digits(40, clutter=0, noise=0.2, seed=0)
    grey = denormalize(d.images[:, 0])
    for i in range(len(d)):
        r0, c0, r1, c1 = d.boxes[i].tolist()
        outside = d.masks[i].clone()
        outside[r0:r1, c0:c1] = False
        assert not outside.any()
        assert d.masks[i].sum() > 10
        assert (grey[i][d.masks[i]] > 0.25).all()  # max-blending keeps the digit's pixels


def test_pools_are_disjoint_and_splits_differ():
    train_x, _, test_x, _ = _digit_pools()
    assert len(train_x) + len(test_x) == 1797
    flat_train = {x.tobytes() for x in train_x}
    assert not any(x.tobytes() in flat_train for x in test_x[:50])
    assert not torch.equal(cluttered_digits(5, split="train").images, cluttered_digits(5, split="test").images)


@pytest.mark.parametrize("kwargs, error", [({"n": 0}, ValueError), ({"n": 2.5}, TypeError),
                                           ({"n": 3, "split": "val"}, ValueError),
                                           ({"n": 3, "noise": 2.0}, ValueError), ({"n": 3, "size": 8}, ValueError)])
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        cluttered_digits(**kwargs)


def test_subset():
    d = cluttered_digits(10)
    s = d.subset([1, 3])
    assert len(s) == 2 and torch.equal(s.images[1], d.images[3]) and np.isclose(s.noise, d.noise)
