"""The cached CNN: loads without training, reaches the required test accuracy; layer names; the GPU hooks on CPU."""
import pytest
import torch

from course_lib.input_iba import gpu
from course_lib.input_iba.data import cluttered_digits
from course_lib.input_iba.model import (
    BOTTLENECK_LAYER,
    CACHE,
    GRADCAM_LAYER,
    MIN_TEST_ACCURACY,
    TrainConfig,
    accuracy,
    cached_info,
    load_cnn,
    make_cnn,
)
from course_lib.input_iba.welford import layer_output


def test_cached_cnn_reaches_the_required_accuracy_on_held_out_digits():
    assert CACHE.exists(), "data/input_iba/cnn.pt is missing: python -m course_lib.input_iba.model --retrain"
    info = cached_info()
    cfg = TrainConfig(**info["config"])
    model = load_cnn("cpu")
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    test = cluttered_digits(cfg.n_test, clutter=cfg.clutter, noise=cfg.noise, split="test", seed=cfg.test_seed)
    acc = accuracy(model, test.images, test.labels)
    assert acc == pytest.approx(info["test_accuracy"], abs=1e-9)
    assert acc >= MIN_TEST_ACCURACY


def test_layer_names_and_shapes():
    model = make_cnn(0).eval()
    names = [n for n, _ in model.named_children()]
    assert names == ["conv1", "relu1", "conv2", "relu2", "pool1", "conv3", "relu3", "pool2", "conv4", "relu4",
                     "gap", "flatten", "fc"]
    x = torch.randn(3, 1, 32, 32)
    assert model(x).shape == (3, 10)
    assert layer_output(model, BOTTLENECK_LAYER, x).shape == (3, 32, 16, 16)
    assert layer_output(model, GRADCAM_LAYER, x).shape == (3, 64, 8, 8)
    torch.testing.assert_close(make_cnn(0)(x), make_cnn(0)(x))


def test_gpu_hooks_run_on_the_cpu():
    out = gpu.fixed_forward(torch.device("cpu"))
    assert out.shape == (8 * 10 + 8,) and torch.isfinite(out).all()
    metrics = gpu.smoke(torch.device("cpu"), amp=False)
    assert metrics and all(isinstance(v, float) and v == v for v in metrics.values())
    assert 0 <= metrics["mean Λ"] <= 1 and 0 <= metrics["mean λ_G"] <= 1
