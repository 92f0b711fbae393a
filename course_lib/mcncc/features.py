"""Feature maps fed to MCNCC (§2.3 of the paper uses ImageNet ResNet-50 res2bx; no ImageNet weights can be had
offline, so the workbook uses):

* :class:`GaborBank` — a fixed bank of complex Gabor filters (orientations × wavelengths); the feature is the
  **magnitude** of each response, average-pooled by ``stride``. The magnitude is unchanged by a polarity flip of
  the image (dark-on-light vs light-on-dark prints), the first domain shift of shoeprints.
* :class:`TreadCNN` — a small CNN (3 conv layers, stride 2) trained from scratch on synthetic treads through
  the MCNCC score (``course_lib.mcncc.weighted.train_cnn``).

Both map gray images (B, 1, H, W) in [0, 1] to (B, C, H/stride, W/stride). :func:`feature_mask` brings an
image-space validity mask to feature space (eroded so that features touching invalid pixels are ignored).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def gabor_kernels(orientations: int = 8, wavelengths=(4.0, 8.0), size: int | None = None,
                  sigma_ratio: float = 0.56) -> torch.Tensor:
    """Complex Gabor kernels as (2·K, 1, s, s) real tensors (even parts, then odd parts), K = orientations ×
    wavelengths: g(x, y) = exp(−(x'² + y'²)/(2σ²)) · exp(i 2π x'/λ), σ = sigma_ratio·λ, x' along θ.
    The even part is made zero-mean (no response to flat regions)."""
    if orientations < 1 or not wavelengths:
        raise ValueError("need at least one orientation and one wavelength")
    lam_max = max(wavelengths)
    size = size or int(2 * math.ceil(sigma_ratio * lam_max * 2.5) + 1)
    half = size // 2
    yy, xx = torch.meshgrid(torch.arange(-half, half + 1.0), torch.arange(-half, half + 1.0), indexing="ij")
    even, odd = [], []
    for lam in wavelengths:
        sigma = sigma_ratio * lam
        env = torch.exp(-(xx ** 2 + yy ** 2) / (2 * sigma ** 2))
        for k in range(orientations):
            th = math.pi * k / orientations
            xr = xx * math.cos(th) + yy * math.sin(th)
            e = env * torch.cos(2 * math.pi * xr / lam)
            e = e - env * (e.sum() / env.sum())
            o = env * torch.sin(2 * math.pi * xr / lam)
            norm = torch.sqrt((e ** 2).sum() + (o ** 2).sum())
            even.append(e / norm)
            odd.append(o / norm)
    return torch.stack(even + odd)[:, None].float()


class GaborBank(nn.Module):
    """Fixed Gabor magnitude features: |g_k * I| for K = orientations × wavelengths channels, average-pooled by
    ``stride`` (the workbook's stand-in for ResNet res2bx features, §2.3)."""

    def __init__(self, orientations: int = 8, wavelengths=(4.0, 8.0), stride: int = 2):
        super().__init__()
        self.register_buffer("kernels", gabor_kernels(orientations, tuple(wavelengths)))
        self.k = orientations * len(wavelengths)
        self.stride = stride
        self.pad = self.kernels.shape[-1] // 2

    @property
    def channels(self) -> int:
        return self.k

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = _check_images(images)
        x = nn.functional.pad(images, (self.pad,) * 4, mode="replicate")
        resp = nn.functional.conv2d(x, self.kernels.to(images.dtype))
        mag = torch.sqrt(resp[:, :self.k] ** 2 + resp[:, self.k:] ** 2 + 1e-12)
        return nn.functional.avg_pool2d(mag, self.stride) if self.stride > 1 else mag


class TreadCNN(nn.Module):
    """A small feature CNN trained from scratch: conv5×5(1→width)–ReLU–conv3×3–ReLU–avgpool(stride)–conv3×3
    (width→C), no normalisation layers (MCNCC normalises each channel itself)."""

    def __init__(self, channels: int = 16, width: int = 24, stride: int = 2):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.stride = stride
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 5, padding=2, padding_mode="replicate"), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1, padding_mode="replicate"), nn.ReLU(),
            nn.AvgPool2d(stride) if stride > 1 else nn.Identity(),
            nn.Conv2d(width, channels, 3, padding=1, padding_mode="replicate"))
        self.c = channels

    @property
    def channels(self) -> int:
        return self.c

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(_check_images(images).to(self.net[0].weight.dtype))


def _check_images(images) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        images = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    if images.dim() == 2:
        images = images[None, None]
    elif images.dim() == 3:
        images = images[:, None]
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"images must be gray: (H, W), (B, H, W) or (B, 1, H, W); got {tuple(images.shape)}")
    return images.float() if not images.is_floating_point() else images


def feature_mask(mask, stride: int, erode: int = 1) -> torch.Tensor:
    """Image-space validity mask (…, H, W) -> feature-space mask (…, H/stride, W/stride): a feature cell is valid
    when all its pixels are, then the mask is eroded by ``erode`` cells (filter support reaching outside)."""
    m = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask).float()
    lead = m.shape[:-2]
    m = m.reshape(-1, 1, *m.shape[-2:])
    if stride > 1:
        m = -nn.functional.max_pool2d(-m, stride)  # min-pool: every pixel of the cell valid
    if erode > 0:
        m = nn.functional.pad(m, (erode,) * 4, value=0.0)  # outside the array counts as invalid
        m = -nn.functional.max_pool2d(-m, 2 * erode + 1, stride=1)
    m = (m > 0.5).float()
    return m.reshape(*lead, *m.shape[-2:])
