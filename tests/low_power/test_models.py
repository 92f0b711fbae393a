"""Models, the training entry point and the cached baselines."""
import pytest
import torch

from course_lib import cost
from course_lib.low_power import data, models


@pytest.mark.parametrize("name,params", [("digits_cnn", 38282), ("digits_mlp", 1210), ("mnist1d_cnn", 5098),
                                         ("mnist1d_mlp", 15210), ("mnist_cnn", 105866)])
def test_parameter_counts_and_macs_agree_with_the_flop_counter(name, params):
    m = models.build(name, 0)
    assert cost.count_params(m) == params
    shape = {"digits": (1, 1, 8, 8), "mnist1d": (1, 1, 40), "mnist": (1, 1, 28, 28)}[models.DATASET_OF[name]]
    x = torch.randn(shape)
    assert m(x).shape == (1, 10)
    assert cost.count_macs(m, x) == cost.flop_counter_macs(m, x)


def test_training_through_the_loop_learns_digits():
    s = data.load_digits()
    m = models.build("digits_mlp", 0)
    hist = models.train(m, s, epochs=3, device="cpu")
    assert list(hist.columns[:2]) == ["epoch", "train_loss"] or "train_loss" in hist.columns
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]
    assert hist["test_acc"].iloc[-1] > 60


def test_batches_are_reproducible_and_cover_the_data():
    x, y = torch.arange(10.0)[:, None], torch.arange(10)
    a, b = models.batches(x, y, 4, seed=3)(0), models.batches(x, y, 4, seed=3)(0)
    assert all(torch.equal(p[0], q[0]) for p, q in zip(a, b))
    assert sorted(torch.cat([t for _, t in a]).tolist()) == list(range(10))


def test_cached_baseline_loads_and_is_accurate():
    m = models.baseline("digits_cnn", 0, device="cpu", train_if_missing=False)
    s = data.load_digits()
    assert models.accuracy(m, s.x_test, s.y_test) > 97


def test_bad_input():
    with pytest.raises(ValueError, match="unknown model"):
        models.build("resnet")
    with pytest.raises(ValueError, match="no baseline"):
        models.baseline("resnet")
    with pytest.raises(ValueError, match="equal length"):
        models.accuracy(models.build("digits_mlp"), torch.zeros(3, 1, 8, 8), torch.zeros(2, dtype=torch.long))
