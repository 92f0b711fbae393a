"""Peers on the same volumes, clicks and metric: a classical seeded 3D random walker and a DeepEdit-style 3D U-Net.

Both follow the session API of :mod:`course_lib.lim_net.pipeline` (``step(click) -> mask``, ``masks``,
``current``), so :func:`~course_lib.lim_net.pipeline.run_session` drives them with the same simulated user.
"""
from __future__ import annotations

import numpy as np
import torch

from course_lib.lim_net.clicks import Click, encode_volume_clicks
from course_lib.lim_net.models import UNet3D, pad_to_multiple


class _Session:
    def __init__(self, image):
        self.image = np.asarray(image, dtype=np.float32)
        if self.image.ndim != 3:
            raise ValueError(f"image must be (Z, H, W), got {self.image.shape}")
        self.clicks: list[Click] = []
        self.masks: list[np.ndarray] = []

    @property
    def current(self) -> np.ndarray:
        return self.masks[-1] if self.masks else np.zeros(self.image.shape, dtype=bool)

    def _check(self, click: Click) -> None:
        Z, H, W = self.image.shape
        if not (0 <= click.z < Z and 0 <= click.y < H and 0 <= click.x < W):
            raise ValueError(f"click {click} outside the volume of shape {self.image.shape}")


class RandomWalkerSession(_Session):
    """skimage's 3D random walker (Grady 2006) seeded from the clicks.

    Seeds: a disk of ``seed_radius`` pixels around each click on its slice (label 1 for positive, 2 for
    negative clicks) plus a background band of ``border`` pixels along the in-plane border of every slice.
    ``beta`` is the edge weight sharpness of ``exp(-beta (g_i - g_j)^2)`` (skimage scales it by the variance).
    """

    def __init__(self, image, *, beta: float = 2000.0, seed_radius: int = 2, border: int = 2, tol: float = 1e-3):
        super().__init__(image)
        self.beta, self.seed_radius, self.border, self.tol = beta, seed_radius, border, tol

    def seeds(self) -> np.ndarray:
        """The int label volume handed to ``random_walker`` (0 = unknown, 1 = target, 2 = background)."""
        Z, H, W = self.image.shape
        lab = np.zeros((Z, H, W), dtype=np.int32)
        b = self.border
        lab[:, :b], lab[:, -b:], lab[:, :, :b], lab[:, :, -b:] = 2, 2, 2, 2
        yy, xx = np.mgrid[0:H, 0:W]
        for c in self.clicks:
            disk = (yy - c.y) ** 2 + (xx - c.x) ** 2 <= self.seed_radius**2
            lab[c.z][disk] = 1 if c.positive else 2
        return lab

    def step(self, click: Click) -> np.ndarray:
        from skimage.segmentation import random_walker

        self._check(click)
        self.clicks.append(click)
        seeds = self.seeds()
        if not (seeds == 1).any():  # only negative clicks so far: nothing is foreground
            mask = np.zeros(self.image.shape, dtype=bool)
        else:
            out = random_walker(self.image, seeds, beta=self.beta, mode="cg_j", tol=self.tol)
            mask = out == 1
        self.masks.append(mask)
        return mask


class UNet3DSession(_Session):
    """DeepEdit-style 3D U-Net peer: ``[image, pos guidance, neg guidance]`` for the whole volume, every round.

    Guidance = 3D Gaussians of width ``sigma`` around the clicks (:func:`~course_lib.lim_net.clicks.
    encode_volume_clicks`). The volume is zero-padded to a multiple of ``2^(levels-1)`` and cropped back.
    """

    def __init__(self, net: UNet3D, image, *, sigma: float = 2.0, threshold: float = 0.5,
                 device: torch.device | str | None = None):
        super().__init__(image)
        self.net, self.sigma, self.threshold = net, sigma, threshold
        self.device = torch.device(device) if device is not None else next(net.parameters()).device

    @torch.no_grad()
    def predict(self) -> np.ndarray:
        """Foreground probability ``(Z, H, W)`` for the current clicks."""
        self.net.eval()
        img = torch.as_tensor(self.image, device=self.device)
        guide = encode_volume_clicks(self.clicks, img.shape, sigma=self.sigma, device=self.device)
        x = torch.cat([img[None], guide], dim=0)[None]
        x, (Z, H, W) = pad_to_multiple(x, 2 ** (self.net.levels - 1))
        return torch.sigmoid(self.net(x))[0, 0, :Z, :H, :W].cpu().numpy()

    def step(self, click: Click) -> np.ndarray:
        self._check(click)
        self.clicks.append(click)
        mask = self.predict() > self.threshold
        self.masks.append(mask)
        return mask
