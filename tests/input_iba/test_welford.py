"""Welford's estimator equals numpy's mean / std (ddof=1) and counts active neurons."""
import numpy as np
import pytest
import torch

from course_lib.input_iba.model import make_cnn
from course_lib.input_iba.welford import WelfordEstimator, estimate_layer_stats, layer_output


def test_welford_matches_numpy_over_uneven_batches():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(257, 4, 3)).astype(np.float32)
    x[:, 0, 0] = 0.0
    x[:2, 1, 1] = 0.0
    est = WelfordEstimator()
    for lo, hi in [(0, 1), (1, 50), (50, 51), (51, 257)]:
        est.update(torch.from_numpy(x[lo:hi]))
    assert est.n == 257
    np.testing.assert_allclose(est.mean().numpy(), x.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(est.std().numpy(), x.std(0, ddof=1), rtol=1e-5, atol=1e-5)
    active = est.active().numpy()
    assert not active[0, 0] and active[1, 1] and active.sum() == 11
    stats = est.stats(min_std=0.5)
    assert stats.std[0, 0] == 0.5 and stats.shape == (4, 3)


def test_welford_errors():
    est = WelfordEstimator()
    with pytest.raises(ValueError, match="at least 1"):
        est.mean()
    est.update(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="at least 2"):
        est.std()
    with pytest.raises(ValueError, match="sample shape"):
        est.update(torch.zeros(2, 4))


def test_layer_stats_match_direct_features():
    model = make_cnn(0).eval()
    images = torch.randn(60, 1, 32, 32)
    stats = estimate_layer_stats(model, "pool1", images, batch_size=16)
    r = layer_output(model, "pool1", images)
    assert r.shape == (60, 32, 16, 16) and stats.shape == (32, 16, 16)
    torch.testing.assert_close(stats.mean, r.mean(0), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(stats.std, r.std(0).clamp_min(0.01), atol=1e-5, rtol=1e-4)
    assert not r.requires_grad


def test_exact_claim_functions():
    from course_lib.input_iba import exact

    assert exact.kl_min(0) >= -1e-6
    assert exact.kl_gap_without_prior(0) < 1e-4
    open_prior = [exact.kl_with_open_prior(g) for g in (0.9, 0.99, 0.999, 1.0)]
    assert open_prior == sorted(open_prior, reverse=True) and open_prior[-1] == 0.0
    assert exact.identity_error(0) == 0.0
    assert exact.noise_stats_error(0) < 0.05
    assert exact.welford_error(0) < 1e-4
    assert exact.mask_range(torch.tensor([0.2, 0.9])) == pytest.approx((0.2, 0.9))
