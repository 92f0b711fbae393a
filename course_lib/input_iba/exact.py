"""The exact properties of the series as numbers, for the claims ledger and the tests (random tensors, no
training; each takes a seed and returns a float).

* :func:`kl_min` — min over random inputs of IBA's KL (Schulz et al. Eq. 4) and InputIBA's KL (Zhang et al.
  Eq. 9): ≥ 0 (a KL divergence).
* :func:`kl_gap_without_prior` — max |KL_InputIBA(λ_G = 0) − KL_IBA|: 0 (Eq. 9 reduces to Eq. 4).
* :func:`kl_with_open_prior` — max KL_InputIBA at λ_G = ``lam_g``: → 0 as λ_G → 1.
* :func:`identity_error` — max |Z − R| at λ = 1 (Schulz et al. Eq. 2): 0.
* :func:`noise_stats_error` — at λ = 0, max over elements of |mean(Z) − μ| and |std(Z) − σ| over many draws: → 0.
* :func:`welford_error` — max |Welford − numpy| over mean and std (ddof = 1): float rounding only.
* :func:`mask_range` — (min, max) of a mask, e.g. InputIBA's Λ: within [0, 1].
"""
from __future__ import annotations

import numpy as np
import torch

from course_lib.input_iba.attributor import input_iba_kl
from course_lib.input_iba.bottleneck import bottleneck, iba_kl
from course_lib.input_iba.welford import WelfordEstimator


def _draws(seed: int, n: int = 20_000):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g) * 3
    lam = torch.rand(n, generator=g) * 0.999
    lam_g = torch.rand(n, generator=g)
    mean, std = torch.randn(n, generator=g), torch.rand(n, generator=g) * 2 + 0.1
    return x, lam, lam_g, mean, std


def kl_min(seed: int = 0) -> float:
    """min over random (x, λ, λ_G, μ, σ) of IBA's KL and InputIBA's KL (nats): a KL is ≥ 0."""
    x, lam, lam_g, mean, std = _draws(seed)
    return min(iba_kl(x, lam, mean, std).min().item(), input_iba_kl(x, lam, lam_g, mean, std).min().item())


def kl_gap_without_prior(seed: int = 0) -> float:
    """max |KL_InputIBA(x; Λ, λ_G = 0, μ, σ) − KL_IBA(x; Λ, μ, σ)| (nats): Eq. 9 with λ_G = 0 is Eq. 4."""
    x, lam, _, mean, std = _draws(seed)
    return (input_iba_kl(x, lam, torch.zeros(()), mean, std) - iba_kl(x, lam, mean, std)).abs().max().item()


def kl_with_open_prior(lam_g: float, seed: int = 0) -> float:
    """max over random (x, Λ, μ, σ) of KL_InputIBA at a prior mask λ_G = ``lam_g`` (nats): 0 at λ_G = 1."""
    x, lam, _, mean, std = _draws(seed)
    return input_iba_kl(x, lam, torch.full((), float(lam_g)), mean, std).max().item()


def identity_error(seed: int = 0) -> float:
    """max |Z − R| with λ = 1 (the bottleneck lets everything through)."""
    x, _, _, mean, std = _draws(seed)
    return (bottleneck(x, torch.ones(()), mean, std) - x).abs().max().item()


def noise_stats_error(seed: int = 0, draws: int = 20_000) -> float:
    """At λ = 0 (the bottleneck passes only noise): max over 8 elements with random μ, σ of |mean(Z) − μ| and
    |std(Z) − σ|, relative to σ, over ``draws`` draws (Monte-Carlo error ≈ 3/√draws)."""
    g = torch.Generator().manual_seed(seed)
    mean, std = torch.randn(8, generator=g), torch.rand(8, generator=g) * 2 + 0.1
    r = torch.randn(draws, 8, generator=g) * 5
    z = bottleneck(r, torch.zeros(()), mean, std, torch.randn(draws, 8, generator=g))
    return max(((z.mean(0) - mean).abs() / std).max().item(), ((z.std(0) - std).abs() / std).max().item())


def welford_error(seed: int = 0) -> float:
    """max |Welford − numpy| over the mean and the std (ddof = 1) of 1 000 samples fed in uneven batches."""
    x = np.random.default_rng(seed).normal(2.0, 3.0, size=(1000, 5, 4)).astype(np.float32)
    est = WelfordEstimator()
    for lo, hi in [(0, 7), (7, 500), (500, 1000)]:
        est.update(torch.from_numpy(x[lo:hi]))
    return max(np.abs(est.mean().numpy() - x.mean(0)).max(), np.abs(est.std().numpy() - x.std(0, ddof=1)).max())


def mask_range(mask: torch.Tensor) -> tuple[float, float]:
    """(min, max) of a mask such as InputIBA's Λ or λ_G: both within [0, 1]."""
    return mask.min().item(), mask.max().item()
