"""IBA's bottleneck and closed-form KL (Schulz et al. 2020): exact properties, smoothing, the saliency map."""
import math

import pytest
import torch

from course_lib.input_iba.bottleneck import (
    BottleneckHook,
    bottleneck,
    capacity_to_saliency,
    gaussian_kernel,
    iba,
    iba_kl,
    smooth,
)
from course_lib.input_iba.model import make_cnn
from course_lib.input_iba.welford import estimate_layer_stats


def test_kl_is_nonnegative_and_matches_the_gaussian_kl():
    g = torch.Generator().manual_seed(0)
    r = torch.randn(5000, generator=g) * 3
    lam = torch.rand(5000, generator=g) * 0.999
    mean, std = torch.randn(5000, generator=g), torch.rand(5000, generator=g) + 0.1
    kl = iba_kl(r, lam, mean, std)
    assert (kl >= -1e-6).all()
    # KL(N(m1, s1²) ‖ N(m2, s2²)) of Z = λR + (1-λ)ε given R, against Q = N(μ, σ²), computed from its definition
    m1, s1 = lam * r + (1 - lam) * mean, (1 - lam) * std
    direct = torch.log(std / s1) + (s1 ** 2 + (m1 - mean) ** 2) / (2 * std ** 2) - 0.5
    torch.testing.assert_close(kl, direct, atol=1e-3, rtol=1e-4)
    assert iba_kl(torch.tensor(2.0), torch.tensor(0.0), torch.tensor(2.0), torch.tensor(1.0)).abs() < 1e-6


def test_bottleneck_identity_at_one_and_pure_noise_at_zero():
    r = torch.randn(4000, 3)
    mean, std = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.5, 2.0, 1.0])
    z1 = bottleneck(r, torch.ones(()), mean, std)
    assert torch.equal(z1, r)
    z0 = bottleneck(r, torch.zeros(()), mean, std)
    torch.testing.assert_close(z0.mean(0), mean, atol=0.1, rtol=0)
    torch.testing.assert_close(z0.std(0), std, atol=0.1, rtol=0)
    assert abs(torch.corrcoef(torch.stack([z0[:, 0], r[:, 0]]))[0, 1]) < 0.06  # independent of R


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_smoothing_kernel_sums_to_one_and_keeps_masks_in_range(sigma):
    k = gaussian_kernel(sigma)
    assert k.shape == (2 * round(2 * sigma) + 1,) * 2 and k.sum().item() == pytest.approx(1.0, abs=1e-6)
    m = torch.rand(2, 3, 10, 10)
    s = smooth(m, sigma)
    assert s.shape == m.shape and s.min() >= 0 and s.max() <= 1
    torch.testing.assert_close(smooth(torch.full((1, 2, 8, 8), 0.3), sigma), torch.full((1, 2, 8, 8), 0.3))
    assert smooth(m, None) is m
    with pytest.raises(ValueError, match="sigma"):
        gaussian_kernel(0)


def test_capacity_to_saliency_converts_to_bits_per_input_pixel():
    kl = torch.full((2, 4, 8, 8), math.log(2))  # one bit per channel and location
    s = capacity_to_saliency(kl, (32, 32))
    assert s.shape == (2, 32, 32)
    torch.testing.assert_close(s, torch.full((2, 32, 32), 4 * 64 / 1024))
    assert s.sum(dim=(1, 2))[0].item() == pytest.approx(kl.sum(dim=(1, 2, 3))[0].item() / math.log(2))


def _setup(n=3):
    model = make_cnn(0).eval().requires_grad_(False)
    g = torch.Generator().manual_seed(1)
    images = torch.randn(n, 1, 32, 32, generator=g)
    stats = estimate_layer_stats(model, "pool1", torch.randn(64, 1, 32, 32, generator=g))
    return model, images, stats


def test_hook_expands_the_noise_samples_and_leaves_the_model_clean():
    model, images, stats = _setup(2)
    with BottleneckHook(model, "pool1", stats, samples=5) as hook:
        hook.lam = torch.ones(2, *stats.shape)
        out = model(images)
    assert out.shape == (10, 10)
    clean = model(images)
    torch.testing.assert_close(out.view(5, 2, 10), clean.expand(5, 2, 10), atol=1e-5, rtol=1e-5)  # λ = 1: identity
    assert not model.pool1._forward_hooks


def test_iba_shapes_ranges_and_the_loss_decreases():
    model, images, stats = _setup(3)
    targets = model(images).argmax(1)
    res = iba(model, images, targets, "pool1", stats, steps=10, seed=0)
    assert res.capacity.shape == (3, 32, 32) and res.kl.shape == (3, *stats.shape) and res.loss.shape == (10, 3)
    assert (res.kl >= 0).all() and torch.isfinite(res.capacity).all()
    assert res.mask.min() >= 0 and res.mask.max() <= 1
    assert (res.loss[-1] < res.loss[0]).all()
    again = iba(model, images, targets, "pool1", stats, steps=10, seed=0)
    torch.testing.assert_close(again.capacity, res.capacity)
