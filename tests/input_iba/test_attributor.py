"""InputIBA's KL with the GAN prior (Zhang et al. Eq. 9) and the three-stage orchestrator."""
import pytest
import torch

from course_lib.input_iba.attributor import (
    CALIBRATION,
    FAST,
    InputIBAConfig,
    explain,
    explain_batch,
    input_bottleneck,
    input_iba_kl,
)
from course_lib.input_iba.bottleneck import iba_kl
from course_lib.input_iba.model import make_cnn
from course_lib.input_iba.prior import GANConfig
from course_lib.input_iba.welford import estimate_layer_stats

G = torch.Generator().manual_seed(0)
X = torch.randn(2000, generator=G) * 2
LAM = torch.rand(2000, generator=G) * 0.999


def test_input_kl_is_nonnegative_for_any_prior():
    lam_g = torch.rand(2000, generator=G)
    assert (input_iba_kl(X, LAM, lam_g) >= -1e-6).all()
    assert (input_iba_kl(X, LAM, lam_g, mean=0.5, std=2.0) >= -1e-6).all()


def test_input_kl_equals_iba_kl_without_prior():
    torch.testing.assert_close(input_iba_kl(X, LAM, torch.zeros(())), iba_kl(X, LAM, 0.0, 1.0))
    torch.testing.assert_close(input_iba_kl(X, LAM, torch.zeros(()), 0.3, 2.0), iba_kl(X, LAM, 0.3, 2.0))


def test_input_kl_vanishes_as_the_prior_opens():
    gaps = [input_iba_kl(X, LAM, torch.full((), g)).max().item() for g in (0.9, 0.99, 0.999, 1.0)]
    assert gaps[-1] == 0.0
    assert gaps[0] > gaps[1] > gaps[2] > 0  # monotone towards 0


def test_input_kl_is_the_gaussian_kl_of_the_shared_noise_derivation():
    lam_g = torch.rand(2000, generator=G) * 0.99
    mu, sd = 0.3, 1.5
    p_mean, p_std = LAM * X + (1 - LAM) * mu, (1 - LAM) * sd
    q_mean, q_std = lam_g * LAM * X + (1 - lam_g * LAM) * mu, (1 - lam_g * LAM) * sd
    direct = torch.log(q_std / p_std) + (p_std ** 2 + (p_mean - q_mean) ** 2) / (2 * q_std ** 2) - 0.5
    torch.testing.assert_close(input_iba_kl(X, LAM, lam_g, mu, sd), direct, atol=2e-3, rtol=1e-3)


def _setup(n=2):
    model = make_cnn(0).eval().requires_grad_(False)
    g = torch.Generator().manual_seed(3)
    images = torch.randn(n, 1, 32, 32, generator=g)
    stats = estimate_layer_stats(model, "pool1", torch.randn(64, 1, 32, 32, generator=g))
    return model, images, model(images).argmax(1), stats


SMOKE = InputIBAConfig(feat_steps=3, gan=GANConfig(epochs=1, dataset_size=32, batch_size=16, critic_iter=2),
                       input_steps=10, input_samples=4)


def test_input_bottleneck_mask_range_and_loss_decreases():
    model, images, targets, _ = _setup()
    torch.manual_seed(0)
    res = input_bottleneck(model, images, targets, torch.full_like(images, 0.5), steps=10)
    assert res.mask.shape == images.shape and res.mask.min() >= 0 and res.mask.max() <= 1
    assert (res.kl >= 0).all() and (res.loss[-1] < res.loss[0]).all()


def test_explain_batch_returns_the_three_maps_separately():
    model, images, targets, stats = _setup()
    res = explain_batch(model, images, targets, stats, config=SMOKE, seed=0)
    for name in ("feature_capacity", "lambda_g", "input_mask", "input_capacity"):
        m = getattr(res, name)
        assert m.shape == (2, 32, 32) and torch.isfinite(m).all(), name
    assert res.input_mask.min() >= 0 and res.input_mask.max() <= 1
    assert res.lambda_g.min() >= 0 and res.lambda_g.max() <= 1
    assert (res.feature_capacity >= 0).all() and (res.input_capacity >= -1e-6).all()
    assert res.attribution is res.input_mask and res.seconds > 0
    assert set(res.stage_seconds) == {"feature", "prior", "input"} and sum(res.stage_seconds.values()) <= res.seconds
    assert res.prior.critic_loss.shape == (2, 2) and res.input.loss.shape == (10, 2)
    again = explain_batch(model, images, targets, stats, config=SMOKE, seed=0)
    torch.testing.assert_close(again.input_mask, res.input_mask)
    chunked = explain_batch(model, images, targets, stats, config=SMOKE, chunk=1, seed=0)
    assert chunked.input_mask.shape == (2, 32, 32) and chunked.prior.critic_loss.shape == (2, 2)


def test_explain_single_image_and_options():
    model, images, targets, stats = _setup(1)
    res = explain(model, images[0], int(targets[0]), stats, config=SMOKE, real_samples="official",
                  prior_init="zero")
    assert res.input_mask.shape == (1, 32, 32)
    # zero-initialised prior: λ_G starts at 0.5 and moves little in one generator step
    assert (res.lambda_g - 0.5).abs().max() < 0.05


def test_presets_differ_in_the_expensive_stages():
    assert CALIBRATION.gan.epochs == 20 and CALIBRATION.input_steps == 60 and CALIBRATION.input_beta == 20
    assert FAST.gan.epochs * FAST.input_steps * FAST.input_samples < CALIBRATION.gan.epochs * 60 * 10
    with pytest.raises(ValueError, match="real_samples"):
        InputIBAConfig(real_samples="capacity").validate()
    with pytest.raises(ValueError, match="prior_init"):
        InputIBAConfig(prior_init="random").validate()
