"""The information bottleneck of IBA (Schulz et al., ICLR 2020) at a named layer, and its closed-form KL.

* :func:`bottleneck` — Z = λ ⊙ R + (1 − λ) ⊙ ε, ε ~ N(μ_R, σ_R²) (Schulz et al. Eq. 2).
* :func:`iba_kl` — per element KL(P(Z|R) ‖ Q(Z)) with Q(Z) = N(μ_R, σ_R²): with r̃ = (R − μ_R)/σ_R,
  P(Z̃|R) = N(λ r̃, (1 − λ)²) and Q = N(0, 1), so KL = −½ [1 + log (1 − λ)² − (λ r̃)² − (1 − λ)²]
  (Schulz et al. Eq. 4 in closed form; R is given, so the only randomness of Z̃ is (1 − λ) ε̃ with ε̃ ~ N(0, 1),
  whence Var(Z̃|R) = (1 − λ)²).
* :func:`gaussian_kernel` / :func:`smooth` — the fixed depthwise Gaussian smoothing of the mask (σ = 1, kernel size
  2·round(2σ) + 1, reflection padding).
* :func:`capacity_to_saliency` — Σ_c KL → bits → × (h·w)/(H·W) → bilinear resize to the input (IBA's saliency map).
* :func:`iba` — the per-image optimisation of min L_CE + β·mean(KL) over the mask logits α (Schulz et al. Eq. 3),
  for a batch of images at once (each image has its own mask; the loss is the sum of the per-image losses, so the
  images do not interact).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.input_iba.welford import LayerStats, named_layer

#: The IBA initial mask logit (λ = sigmoid(5) ≈ 0.993: the bottleneck starts open) and the floor of 1 − λ in logs.
ALPHA_INIT, EPS = 5.0, 1e-7


def bottleneck(r: torch.Tensor, lam: torch.Tensor, mean: torch.Tensor, std: torch.Tensor,
               noise: torch.Tensor | None = None) -> torch.Tensor:
    """Z = λ ⊙ R + (1 − λ) ⊙ ε with ε = μ + σ ⊙ ``noise`` and ``noise`` ~ N(0, 1) (drawn if None) — Schulz et al.
    Eq. 2. λ = 1 gives Z = R (identity); λ = 0 gives Z = ε (pure noise with mean μ and std σ)."""
    if noise is None:
        noise = torch.randn_like(r)
    return lam * r + (1 - lam) * (mean + std * noise)


def iba_kl(r: torch.Tensor, lam: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Per-element KL(P(Z|R) ‖ N(μ_R, σ_R²)) in nats (Schulz et al. Eq. 4, closed form):
    KL = −½ [1 + log (1 − λ)² − (λ r̃)² − (1 − λ)²] with r̃ = (R − μ_R) / σ_R. Always ≥ 0."""
    r_norm = (r - mean) / std
    var_z = (1 - lam) ** 2
    return -0.5 * (1 + 2 * torch.log((1 - lam).clamp_min(EPS)) - (lam * r_norm) ** 2 - var_z)


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """The 2-D Gaussian smoothing kernel of IBA: size 2·round(2σ) + 1, normalised to sum 1."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    half = round(2 * sigma)
    x = torch.arange(-half, half + 1, dtype=torch.float32)
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    k = torch.outer(g, g)
    return k / k.sum()


def smooth(mask: torch.Tensor, sigma: float | None) -> torch.Tensor:
    """Depthwise Gaussian smoothing of a (N, C, H, W) mask with reflection padding (identity if ``sigma`` is
    None or 0). Smoothing a mask in [0, 1] keeps it in [0, 1] (a convex combination)."""
    if not sigma:
        return mask
    k = gaussian_kernel(sigma).to(mask)
    pad = k.shape[-1] // 2
    channels = mask.shape[1]
    weight = k.expand(channels, 1, *k.shape)
    return F.conv2d(F.pad(mask, (pad, pad, pad, pad), mode="reflect"), weight, groups=channels)


def capacity_to_saliency(kl: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """IBA's saliency map (``_to_saliency_map``): per-location capacity Σ_c KL (nats) → bits (÷ ln 2) → bits per
    input pixel (× h·w / (H·W)) → bilinear resize to ``size``. ``kl``: (N, C, h, w); returns (N, H, W)."""
    h, w = kl.shape[-2:]
    bits = kl.sum(1, keepdim=True) / math.log(2) * (h * w) / (size[0] * size[1])
    return F.interpolate(bits, size=size, mode="bilinear", align_corners=False)[:, 0]


class BottleneckHook:
    """A forward hook on ``layer`` that replaces its output R (N, C, h, w) by Z = λ ⊙ R + (1 − λ) ⊙ ε for
    ``samples`` independent noise draws per image: the output becomes (samples · N, C, h, w), ordered sample-major
    (row s·N + n is image n, draw s), so the network's prefix runs once per image, not once per draw.

    Set :attr:`lam` (N, C, h, w) before each forward; :attr:`r` keeps the last R. Use as a context manager."""

    def __init__(self, model: nn.Module, layer: str, stats: LayerStats, samples: int):
        self.module = named_layer(model, layer)
        self.stats, self.samples = stats, samples
        self.lam: torch.Tensor | None = None
        self.r: torch.Tensor | None = None
        self.handle = None

    def __call__(self, _module, _inputs, r):
        self.r = r
        lam = self.lam.expand_as(r)
        rs = r.expand(self.samples, *r.shape)
        noise = torch.randn_like(rs)
        z = bottleneck(rs, lam, self.stats.mean, self.stats.std, noise) * self.stats.active
        return z.reshape(-1, *r.shape[1:])

    def __enter__(self):
        self.handle = self.module.register_forward_hook(self)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


@dataclass
class IBAResult:
    """What :func:`iba` returns for N images: ``capacity`` (N, H, W) bits per input pixel (the IBA attribution),
    ``kl`` (N, C, h, w) per-element KL in nats at the layer, ``mask`` λ (N, C, h, w) in [0, 1], ``loss``
    (steps, N) the per-image objective L_CE + β·mean(KL) at each step."""

    capacity: torch.Tensor
    kl: torch.Tensor
    mask: torch.Tensor
    loss: torch.Tensor


def iba(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, layer: str, stats: LayerStats, *,
        beta: float = 10.0, steps: int = 10, lr: float = 1.0, samples: int = 10, sigma: float | None = 1.0,
        seed: int | None = None) -> IBAResult:
    """Information Bottleneck Attribution (Schulz et al. 2020, Eq. 3): for each image, minimise
    L = mean_s CE(f(Z_s), y) + β · mean(KL) over the mask logits α (λ = smooth_σ(sigmoid(α)), α₀ = 5) with Adam
    (``lr``, ``steps``), ``samples`` noise draws per step. All N images are optimised together (sum of the
    per-image losses; Adam is per-parameter, so each image's mask follows its own problem).

    ``images`` (N, C, H, W) normalised, ``targets`` (N,) class indices; ``stats`` from
    :func:`~course_lib.input_iba.welford.estimate_layer_stats`. The model is used as is (eval mode, frozen);
    everything runs on the images' device; ``seed`` fixes the noise draws (the global RNG is left untouched).
    Inputs are validated by the public entry points of :mod:`course_lib.input_iba.attributor`; this function
    trusts them.
    """
    stats = stats.to(images.device)
    n = len(images)
    alpha = torch.full((n, *stats.shape), ALPHA_INIT, device=images.device, requires_grad=True)
    opt = torch.optim.Adam([alpha], lr=lr)
    targets_rep = targets.repeat(samples)
    losses = []
    with BottleneckHook(model, layer, stats, samples) as hook, torch.random.fork_rng(
            devices=[images.device] if images.device.type == "cuda" else []):
        if seed is not None:
            torch.manual_seed(seed)
        for _ in range(steps):
            hook.lam = smooth(torch.sigmoid(alpha), sigma)
            logits = model(images)
            ce = F.cross_entropy(logits, targets_rep, reduction="none").view(samples, n).mean(0)
            kl = iba_kl(hook.r, hook.lam, stats.mean, stats.std) * stats.active
            per_image = ce + beta * kl.flatten(1).mean(1)
            opt.zero_grad(set_to_none=True)
            per_image.sum().backward()
            opt.step()
            losses.append(per_image.detach())
        with torch.no_grad():
            lam = smooth(torch.sigmoid(alpha), sigma)
            r = hook.r.detach()
            kl = iba_kl(r, lam, stats.mean, stats.std) * stats.active
    return IBAResult(capacity=capacity_to_saliency(kl, images.shape[-2:]), kl=kl, mask=lam,
                     loss=torch.stack(losses) if losses else torch.empty(0, n))
