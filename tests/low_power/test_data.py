"""Data of the low-power series: shapes, splits, provenance, offline generation."""
import pytest
import torch

from course_lib.low_power import data


def test_digits_split_is_stratified_and_scaled():
    s = data.load_digits()
    assert s.x_train.shape == (1347, 1, 8, 8) and s.x_test.shape == (450, 1, 8, 8)
    assert float(s.x_train.max()) <= 1.0 and float(s.x_train.min()) >= 0.0
    assert torch.bincount(s.y_test).min() >= 40  # every class present in the held-out quarter
    assert s.registry_name is None and data.provenance(s).kind == "bundled"
    assert s.example().shape == (1, 1, 8, 8)


def test_mnist1d_generates_offline(monkeypatch):
    import socket

    def refuse(*a, **k):
        raise AssertionError("MNIST-1D must not touch the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    s = data.load_mnist1d()
    assert s.x_train.shape == (4000, 1, 40) and s.x_test.shape == (1000, 1, 40)
    assert set(s.y_train.unique().tolist()) == set(range(10))
    assert data.provenance(s).kind == "generated"  # procedural signals, not a data set shipped in a package


def test_mnist_comes_from_the_registry_or_says_it_is_unavailable():
    from course_lib.data import DataUnavailable

    try:
        s = data.load_mnist()
    except DataUnavailable as exc:
        assert "mnist-t10k" in str(exc)
        return
    assert s.x_train.shape == (8000, 1, 28, 28) and s.x_test.shape == (2000, 1, 28, 28)
    assert data.provenance(s).name == "mnist-t10k"


def test_bad_input():
    with pytest.raises(ValueError, match="unknown data set"):
        data.load("cifar")
    with pytest.raises(ValueError, match="test_size"):
        data.load_digits(test_size=1.5)
    with pytest.raises(ValueError, match="n_train"):
        data.load_mnist(n_train=10_000)
