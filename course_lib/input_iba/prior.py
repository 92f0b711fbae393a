"""InputIBA's generative input prior (Zhang et al., NeurIPS 2021, §3.2): a mask on the input trained with a
Wasserstein GAN so that the network's features of the masked input look like the IBA-bottlenecked features Z*.

* :class:`MaskGenerator` — Z_G = λ_G ⊙ I + (1 − λ_G) ⊙ ε_G, ε_G ~ N(μ_G, σ_G²) with learnable per-channel μ_G
  (init 0), σ_G (init 1) and λ_G = sigmoid(mask logits) (Zhang et al. Eq. 7); the generated sample is f(Z_G), the
  network up to the bottleneck layer.
* :class:`Critic` — the official WGAN critic (three conv + BN + LeakyReLU blocks, three linear layers), one
  independent critic per image, all evaluated at once (grouped convolutions, a batched matmul).
* :func:`real_samples` — the "real" data Z* of the GAN; two variants (``kind``):

  - ``"paper"`` (default): Z* = λ* ⊙ R + (1 − λ*) ⊙ ε, ε ~ N(μ_R, σ_R²) — the latent bottleneck of stage 1 exactly as
    the paper defines it (Zhang et al. Eq. 6), with IBA's mask λ* and the data statistics of the layer;
  - ``"official"``: what the authors' code does — m ⊙ R + (1 − m) ⊙ η with m = the per-element **KL capacity in
    nats** (not λ*; it is not even bounded by 1) and η ~ N(μ_s, σ_s²), μ_s ~ U(−2, 2), σ_s ~ U(0, 5) redrawn for every
    block of 20 samples. The code carries a note asking whether the capacity or sigmoid(α) should be passed.

* :func:`train_prior` — WGAN with weight clipping (Arjovsky et al. 2017): critic loss −E[D(Z*)] + E[D(f(Z_G))],
  generator loss −E[D(f(Z_G))], critic weights clipped to ±``clip`` after each step, one generator step every
  ``critic_iter`` critic steps, RMSprop (critic 5e-5; μ_G 0.1, σ_G 0.05, mask logits 0.003). Mask logits are
  initialised from the IBA capacity map (bits, used directly as logits) or from zeros (the ablation).

Every image has its own generator and critic; a batch of N images is trained in one set of tensor operations
and is exactly N independent problems (losses summed, per-parameter optimisers).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.input_iba.bottleneck import bottleneck
from course_lib.input_iba.welford import LayerStats, layer_output

REAL_SAMPLES = ("paper", "official")


class MaskGenerator(nn.Module):
    """N input masks with per-channel noise: Z_G = λ_G ⊙ I + (1 − λ_G) ⊙ (μ_G + σ_G ⊙ n), n ~ N(0, 1)
    (Zhang et al. Eq. 7). ``images`` (N, C, H, W); ``logits_init`` (N, C, H, W) or broadcastable (zeros if None)."""

    def __init__(self, images: torch.Tensor, logits_init: torch.Tensor | None = None):
        super().__init__()
        n, c = images.shape[:2]
        self.register_buffer("images", images)
        init = torch.zeros_like(images) if logits_init is None else logits_init.to(images).expand_as(images)
        self.logits = nn.Parameter(init.clone())
        self.mu = nn.Parameter(torch.zeros(n, c, 1, 1, device=images.device))
        self.sigma = nn.Parameter(torch.ones(n, c, 1, 1, device=images.device))

    @property
    def mask(self) -> torch.Tensor:
        """λ_G = sigmoid(logits), (N, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.logits)

    def forward(self, samples: int) -> torch.Tensor:
        """``samples`` draws of Z_G per image, (samples, N, C, H, W)."""
        noise = torch.randn(samples, *self.images.shape, device=self.images.device)
        return bottleneck(self.images, self.mask, self.mu, self.sigma, noise)


class _GroupLinear(nn.Module):
    """N independent linear layers applied at once: (S, N, in) → (S, N, out); nn.Linear's initialisation."""

    def __init__(self, groups: int, d_in: int, d_out: int, device=None):
        super().__init__()
        bound = 1 / d_in ** 0.5
        self.weight = nn.Parameter(torch.empty(groups, d_in, d_out, device=device).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(groups, d_out, device=device).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("sni,nio->sno", x, self.weight) + self.bias


class Critic(nn.Module):
    """N independent WGAN critics on feature maps (C, h, w), as in the official ``vision_discriminator.py``:
    Conv(C→2C, 4, s2, p1) + BN + LReLU(0.2) → Conv(2C→4C, 4, s2, p1) + BN + LReLU → Conv(4C→C, 3, s1, p1) + BN +
    LReLU → FC(C·h/4·w/4 → 512) → LReLU → FC(512 → 256) → LReLU → FC(256 → 1). Input (S, N, C, h, w), output (S, N).
    Grouped convolutions (groups = N) and per-image batch norm keep the N critics separate."""

    def __init__(self, groups: int, channels: int, height: int, width: int, device=None):
        super().__init__()
        n, c = groups, channels
        self.n, self.c = n, c
        self.convs = nn.Sequential(
            nn.Conv2d(n * c, n * 2 * c, 4, 2, 1, groups=n), nn.BatchNorm2d(n * 2 * c), nn.LeakyReLU(0.2),
            nn.Conv2d(n * 2 * c, n * 4 * c, 4, 2, 1, groups=n), nn.BatchNorm2d(n * 4 * c), nn.LeakyReLU(0.2),
            nn.Conv2d(n * 4 * c, n * c, 3, 1, 1, groups=n), nn.BatchNorm2d(n * c), nn.LeakyReLU(0.2),
        ).to(device)
        d = c * (height // 4) * (width // 4)
        self.fc1 = _GroupLinear(n, d, 512, device)
        self.fc2 = _GroupLinear(n, 512, 256, device)
        self.fc3 = _GroupLinear(n, 256, 1, device)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        s = z.shape[0]
        h = self.convs(z.reshape(s, self.n * self.c, *z.shape[-2:]))
        h = h.reshape(s, self.n, -1)
        h = F.leaky_relu(self.fc1(h), 0.2)
        h = F.leaky_relu(self.fc2(h), 0.2)
        return self.fc3(h)[..., 0]

    @torch.no_grad()
    def clip_(self, clip: float) -> None:
        """Weight clipping of the WGAN: every parameter clamped to [−clip, clip]."""
        for p in self.parameters():
            p.clamp_(-clip, clip)


def real_samples(r: torch.Tensor, mask: torch.Tensor, kl: torch.Tensor, stats: LayerStats, size: int, *,
                 kind: str = "paper", block: int = 20) -> torch.Tensor:
    """The GAN's "real" samples, (size, N, C, h, w), for features ``r`` (N, C, h, w) of N images.

    ``kind="paper"``: Z* = λ* ⊙ R + (1 − λ*) ⊙ ε, ε ~ N(μ_R, σ_R²), times the active-neuron mask (Zhang et al.
    Eq. 6; ``mask`` = IBA's λ*). ``kind="official"``: m ⊙ R + (1 − m) ⊙ η with m = ``kl`` (IBA's per-element
    capacity in nats) and η ~ N(μ_s, σ_s²), μ_s ~ U(−2, 2), σ_s ~ U(0, 5) drawn per block of ``block`` samples
    (the authors' ``VisionSyntheticDataset``)."""
    if kind not in REAL_SAMPLES:
        raise ValueError(f"real_samples kind must be one of {REAL_SAMPLES}, got {kind!r}")
    shape = (size, *r.shape)
    if kind == "paper":
        return bottleneck(r, mask, stats.mean, stats.std, torch.randn(shape, device=r.device)) * stats.active
    blocks = -(-size // block)
    mu_s = torch.empty(blocks, r.shape[0], 1, 1, 1, device=r.device).uniform_(-2, 2)
    sigma_s = torch.empty(blocks, r.shape[0], 1, 1, 1, device=r.device).uniform_(0, 5)
    mu_s = mu_s.repeat_interleave(block, 0)[:size]
    sigma_s = sigma_s.repeat_interleave(block, 0)[:size]
    return bottleneck(r, kl, mu_s, sigma_s, torch.randn(shape, device=r.device))


@dataclass(frozen=True)
class GANConfig:
    """WGAN schedule and optimiser settings; the defaults are the official vision configuration (20 epochs over
    200 real samples in batches of 32: 140 critic and 28 generator updates).

    ``fresh_fakes=False`` is this course's shortcut: the generated batch of each generator step (and one batch drawn
    at the start) also serves, detached, as the critic's fake batch for the next ``critic_iter`` critic steps, instead
    of a fresh draw through the network for every critic step. The generator moves one small step in between, so the
    critic sees fakes one generator step old; it saves most of the forward passes through the network's prefix."""

    epochs: int = 20
    dataset_size: int = 200
    batch_size: int = 32
    critic_iter: int = 5
    clip: float = 0.01
    lr_critic: float = 5e-5
    lr_mu: float = 0.1
    lr_sigma: float = 0.05
    lr_mask: float = 0.003
    fresh_fakes: bool = True


@dataclass
class PriorResult:
    """:func:`train_prior`'s output for N images: ``mask`` λ_G (N, C, H, W) in [0, 1], ``mu``/``sigma`` (N, C, 1, 1)
    the learned noise, ``critic_loss`` (critic steps, N) and ``generator_loss`` (generator steps, N)."""

    mask: torch.Tensor
    mu: torch.Tensor
    sigma: torch.Tensor
    critic_loss: torch.Tensor
    generator_loss: torch.Tensor


def train_prior(model: nn.Module, layer: str, images: torch.Tensor, real: torch.Tensor, *,
                logits_init: torch.Tensor | None = None, config: GANConfig = GANConfig()) -> PriorResult:
    """Train N mask generators (:class:`MaskGenerator`) against N critics (:class:`Critic`) so that f(Z_G), the
    model's ``layer`` output for the masked input, matches ``real`` (dataset_size, N, C, h, w) — the WGAN of
    Zhang et al. §3.2 with weight clipping. ``logits_init``: the initial mask logits (the IBA capacity map in
    bits, resized to the input, as in the official code) or None for zeros. Runs on the images' device."""
    device = images.device
    n = len(images)
    size = real.shape[0]
    gen = MaskGenerator(images, logits_init)
    critic = Critic(n, *real.shape[2:], device=device)
    opt_d = torch.optim.RMSprop(critic.parameters(), lr=config.lr_critic)
    opt_g = torch.optim.RMSprop([{"params": [gen.mu], "lr": config.lr_mu},
                                 {"params": [gen.sigma], "lr": config.lr_sigma},
                                 {"params": [gen.logits], "lr": config.lr_mask}])

    def fake(samples: int) -> torch.Tensor:
        z = gen(samples)
        f = layer_output(model, layer, z.reshape(samples * n, *images.shape[1:]), grad=True)
        return f.reshape(samples, n, *f.shape[1:])

    d_losses, g_losses, step = [], [], 0
    pool = None
    if not config.fresh_fakes:
        with torch.no_grad():
            pool = fake(config.batch_size)
    for _ in range(config.epochs):
        order = torch.randperm(size, device=device)
        for i in range(0, size, config.batch_size):
            batch = real[order[i:i + config.batch_size]]
            if pool is None:
                with torch.no_grad():
                    fake_batch = fake(len(batch))
            else:
                fake_batch = pool[:len(batch)]
            loss_d = -critic(batch).mean(0) + critic(fake_batch).mean(0)
            opt_d.zero_grad(set_to_none=True)
            loss_d.sum().backward()
            opt_d.step()
            critic.clip_(config.clip)
            d_losses.append(loss_d.detach())
            step += 1
            if step % config.critic_iter == 0:
                generated = fake(config.batch_size)
                if pool is not None:
                    pool = generated.detach()
                loss_g = -critic(generated).mean(0)
                opt_g.zero_grad(set_to_none=True)
                loss_g.sum().backward()
                opt_g.step()
                g_losses.append(loss_g.detach())
    stack = lambda xs: torch.stack(xs) if xs else torch.empty(0, n, device=device)  # noqa: E731
    return PriorResult(mask=gen.mask.detach(), mu=gen.mu.detach(), sigma=gen.sigma.detach(),
                       critic_loss=stack(d_losses), generator_loss=stack(g_losses))


__all__ = ["Critic", "GANConfig", "MaskGenerator", "PriorResult", "REAL_SAMPLES", "real_samples", "train_prior"]
