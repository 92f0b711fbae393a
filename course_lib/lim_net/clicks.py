"""Click encoding: user clicks -> the click-map channels of the 2D interaction network (and of the 3D peer).

A click is a voxel ``(z, y, x)`` with a sign (positive = "this is the target", negative = "this is not").
On one slice the clicks become two maps, positive and negative, stacked with the image and the previous-round
mask into the network input (the paper's exact click encoding is **[not retrieved]**,
the disk / Gaussian encodings are workbook design choices following RITM and MONAI's ``AddGuidanceSignald``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from course_lib.checks import is_int

ENCODINGS = ("disk", "gaussian")


@dataclasses.dataclass(frozen=True)
class Click:
    """One click at voxel ``(z, y, x)``; ``positive`` marks the target (True) or the background (False)."""

    z: int
    y: int
    x: int
    positive: bool = True

    def __post_init__(self):
        for name in ("z", "y", "x"):  # ints or numpy integers (np.argwhere output), stored as Python ints
            value = getattr(self, name)
            if not is_int(value):
                raise TypeError(f"Click.{name} must be an int voxel index (or a numpy integer), got "
                                f"{type(value).__name__} {value!r}")
            if value < 0:
                raise ValueError(f"Click.{name} must be >= 0, got {value}")
            object.__setattr__(self, name, int(value))
        if isinstance(self.positive, np.bool_):
            object.__setattr__(self, "positive", bool(self.positive))


def _check_clicks(clicks: Iterable[Click]) -> list[Click]:
    clicks = list(clicks)
    for c in clicks:
        if not isinstance(c, Click):
            raise TypeError(f"clicks must be Click objects, got {type(c).__name__}")
    return clicks


def point_maps(points: torch.Tensor, positive: torch.Tensor, height: int, width: int, *, mode: str = "disk",
               radius: float = 3.0) -> torch.Tensor:
    """Encode 2D points as a ``(2, H, W)`` float map: channel 0 positive, channel 1 negative clicks.

    ``mode="disk"``: 1 inside a disk of ``radius`` pixels around each click, else 0 (RITM-style).
    ``mode="gaussian"``: ``max_i exp(-|p - c_i|^2 / (2 radius^2))`` (MONAI ``AddGuidanceSignald``-style, with
    ``radius`` as sigma). Overlapping clicks of one sign combine with a max, so the map stays in [0, 1].
    ``points`` is ``(N, 2)`` (y, x) on any device; ``positive`` is an ``(N,)`` bool tensor.
    """
    if mode not in ENCODINGS:
        raise ValueError(f"mode must be one of {ENCODINGS}, got {mode!r}")
    if radius <= 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be >= 1, got {height}x{width}")
    points = torch.as_tensor(points, dtype=torch.float32)
    device = points.device
    out = torch.zeros(2, height, width, device=device)
    if points.numel() == 0:
        return out
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2) as (y, x), got {tuple(points.shape)}")
    positive = torch.as_tensor(positive, dtype=torch.bool, device=device).reshape(-1)
    if positive.numel() != points.shape[0]:
        raise ValueError(f"positive has {positive.numel()} entries for {points.shape[0]} points")
    yy = torch.arange(height, device=device, dtype=torch.float32).view(1, height, 1)
    xx = torch.arange(width, device=device, dtype=torch.float32).view(1, 1, width)
    d2 = (yy - points[:, 0].view(-1, 1, 1)) ** 2 + (xx - points[:, 1].view(-1, 1, 1)) ** 2  # (N, H, W)
    if mode == "disk":
        val = (d2 <= radius**2).float()
    else:
        val = torch.exp(-d2 / (2 * radius**2))
    for channel, sign in ((0, positive), (1, ~positive)):
        if sign.any():
            out[channel] = val[sign].amax(dim=0)
    return out


def encode_slice_clicks(clicks: Iterable[Click], z: int, height: int, width: int, *, mode: str = "disk",
                        radius: float = 3.0, device: torch.device | str | None = None) -> torch.Tensor:
    """The ``(2, H, W)`` click maps of slice ``z`` (clicks on other slices are ignored); see :func:`point_maps`."""
    on_slice = [c for c in _check_clicks(clicks) if c.z == z]
    for c in on_slice:
        if c.y >= height or c.x >= width:
            raise ValueError(f"click {c} lies outside the {height}x{width} slice")
    pts = torch.tensor([[c.y, c.x] for c in on_slice], dtype=torch.float32, device=device).reshape(-1, 2)
    pos = torch.tensor([c.positive for c in on_slice], dtype=torch.bool, device=device)
    return point_maps(pts, pos, height, width, mode=mode, radius=radius)


def encode_volume_clicks(clicks: Iterable[Click], shape: Sequence[int], *, sigma: float = 2.0,
                         z_scale: float = 1.0, device: torch.device | str | None = None) -> torch.Tensor:
    """3D Gaussian guidance maps ``(2, Z, H, W)`` for the DeepEdit-style 3D U-Net peer.

    ``max_i exp(-((z-z_i)^2 z_scale^2 + (y-y_i)^2 + (x-x_i)^2) / (2 sigma^2))`` per sign, as MONAI's
    ``AddGuidanceSignald`` (which uses sigma = 2 by default). ``z_scale`` stretches z for anisotropic voxels.
    """
    if len(shape) != 3:
        raise ValueError(f"shape must be (Z, H, W), got {tuple(shape)}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    Z, H, W = (int(s) for s in shape)
    clicks = _check_clicks(clicks)
    out = torch.zeros(2, Z, H, W, device=device)
    zz = torch.arange(Z, device=device, dtype=torch.float32).view(Z, 1, 1)
    yy = torch.arange(H, device=device, dtype=torch.float32).view(1, H, 1)
    xx = torch.arange(W, device=device, dtype=torch.float32).view(1, 1, W)
    for c in clicks:
        if c.z >= Z or c.y >= H or c.x >= W:
            raise ValueError(f"click {c} lies outside the volume of shape {(Z, H, W)}")
        d2 = ((zz - c.z) * z_scale) ** 2 + (yy - c.y) ** 2 + (xx - c.x) ** 2
        ch = 0 if c.positive else 1
        out[ch] = torch.maximum(out[ch], torch.exp(-d2 / (2 * sigma**2)))
    return out


def interaction_input(image: torch.Tensor, click_maps: torch.Tensor, prev_mask: torch.Tensor | None) -> torch.Tensor:
    """Stack ``[image, positive map, negative map, previous mask]`` -> the 4-channel input of the click U-Net.

    ``image`` and ``prev_mask`` are ``(H, W)`` (or batched ``(B, H, W)``); ``click_maps`` is ``(2, H, W)``
    (or ``(B, 2, H, W)``). A missing previous mask (round 1) is a zero map. The paper's module takes 5 channels
    (image replicated to 3); with a grayscale slice the 4-channel version carries the same information.
    Always returns a batched ``(B, 4, H, W)`` tensor.
    """
    batched = image.ndim == 3
    if not batched:
        image, click_maps = image[None], click_maps[None]
        prev_mask = None if prev_mask is None else prev_mask[None]
    if image.ndim != 3 or click_maps.ndim != 4 or click_maps.shape[1] != 2:
        raise ValueError(f"expected image (B,H,W) and click maps (B,2,H,W); got {tuple(image.shape)} and "
                         f"{tuple(click_maps.shape)}")
    if click_maps.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"click maps {tuple(click_maps.shape)} do not match image {tuple(image.shape)}")
    if prev_mask is None:
        prev_mask = torch.zeros_like(image)
    if prev_mask.shape != image.shape:
        raise ValueError(f"prev_mask {tuple(prev_mask.shape)} must match image {tuple(image.shape)}")
    x = torch.cat([image[:, None], click_maps.to(image.dtype), prev_mask[:, None].to(image.dtype)], dim=1)
    return x
