"""The GAN prior: generator algebra, independent batched critics, the two real-sample variants, WGAN training."""
import pytest
import torch

from course_lib.input_iba.bottleneck import iba
from course_lib.input_iba.model import make_cnn
from course_lib.input_iba.prior import Critic, GANConfig, MaskGenerator, real_samples, train_prior
from course_lib.input_iba.welford import estimate_layer_stats, layer_output


def test_generator_is_the_masked_input_plus_learned_noise():
    images = torch.randn(3, 2, 8, 8)
    gen = MaskGenerator(images, torch.full((3, 1, 8, 8), 40.0))  # λ_G = 1: the image itself
    z = gen(4)
    assert z.shape == (4, 3, 2, 8, 8)
    torch.testing.assert_close(z, images.expand_as(z))
    gen = MaskGenerator(images, torch.full((3, 2, 8, 8), -40.0))  # λ_G = 0: pure noise N(μ_G, σ_G²)
    with torch.no_grad():
        gen.mu.fill_(2.0)
        gen.sigma.fill_(0.5)
    z = gen(500)
    assert z.mean().item() == pytest.approx(2.0, abs=0.01) and z.std().item() == pytest.approx(0.5, abs=0.01)
    assert torch.equal(MaskGenerator(images).mask, torch.full_like(images, 0.5))


def test_batched_critics_are_independent():
    torch.manual_seed(0)
    critic = Critic(3, 4, 8, 8)
    z = torch.randn(6, 3, 4, 8, 8)
    out = critic(z)
    assert out.shape == (6, 3)
    z2 = z.clone()
    z2[:, 1] += torch.randn_like(z2[:, 1])  # changing image 1's samples leaves critics 0 and 2 unchanged
    out2 = critic(z2)
    torch.testing.assert_close(out2[:, [0, 2]], out[:, [0, 2]])
    assert not torch.allclose(out2[:, 1], out[:, 1])
    critic.clip_(0.01)
    assert max(p.abs().max().item() for p in critic.parameters()) <= 0.01


def _setup():
    model = make_cnn(0).eval().requires_grad_(False)
    g = torch.Generator().manual_seed(2)
    images = torch.randn(2, 1, 32, 32, generator=g)
    stats = estimate_layer_stats(model, "pool1", torch.randn(64, 1, 32, 32, generator=g))
    targets = model(images).argmax(1)
    feat = iba(model, images, targets, "pool1", stats, steps=3, seed=0)
    return model, images, stats, feat, layer_output(model, "pool1", images)


def test_real_samples_paper_and_official():
    model, images, stats, feat, r = _setup()
    torch.manual_seed(0)
    paper = real_samples(r, feat.mask, feat.kl, stats, 30, kind="paper")
    official = real_samples(r, feat.mask, feat.kl, stats, 30, kind="official")
    assert paper.shape == official.shape == (30, *r.shape)
    assert torch.isfinite(paper).all() and torch.isfinite(official).all()
    ones = real_samples(r, torch.ones_like(feat.mask), feat.kl, stats, 4, kind="paper")
    torch.testing.assert_close(ones, (r * stats.active).expand_as(ones))  # λ* = 1: the features themselves
    with pytest.raises(ValueError, match="paper"):
        real_samples(r, feat.mask, feat.kl, stats, 4, kind="capacity")


def test_train_prior_runs_the_official_schedule_shape():
    model, images, stats, feat, r = _setup()
    torch.manual_seed(0)
    real = real_samples(r, feat.mask, feat.kl, stats, 40, kind="paper")
    cfg = GANConfig(epochs=2, dataset_size=40, batch_size=16)  # 3 batches per epoch: 6 critic, 1 generator step
    res = train_prior(model, "pool1", images, real, logits_init=None, config=cfg)
    assert res.critic_loss.shape == (6, 2) and res.generator_loss.shape == (1, 2)
    assert res.mask.shape == images.shape and res.mask.min() >= 0 and res.mask.max() <= 1
    assert torch.isfinite(res.critic_loss).all() and res.mu.shape == res.sigma.shape == (2, 1, 1, 1)
    # the generator step moved the mask logits (from 0), μ_G (from 0) and σ_G (from 1)
    assert not torch.allclose(res.mask, torch.full_like(res.mask, 0.5))
    assert (res.mu != 0).all() and (res.sigma != 1).all()
    init = train_prior(model, "pool1", images, real, logits_init=torch.full((2, 1, 32, 32), -1.0), config=cfg)
    assert (init.mask - torch.sigmoid(torch.tensor(-1.0))).abs().max() < 0.05  # starts from the given logits


def test_reused_fakes_keep_the_schedule_and_train():
    model, images, stats, feat, r = _setup()
    torch.manual_seed(0)
    real = real_samples(r, feat.mask, feat.kl, stats, 40, kind="paper")
    cfg = GANConfig(epochs=2, dataset_size=40, batch_size=16, critic_iter=2, fresh_fakes=False)
    res = train_prior(model, "pool1", images, real, config=cfg)
    assert res.critic_loss.shape == (6, 2) and res.generator_loss.shape == (3, 2)
    assert torch.isfinite(res.critic_loss).all() and not torch.allclose(res.mask, torch.full_like(res.mask, 0.5))
