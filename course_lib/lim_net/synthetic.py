"""Synthetic 3D volumes: organ-like blobs whose outline changes smoothly along z.

Each blob is a rotated ellipse per slice whose centre, radii and angle drift sinusoidally with z, whose radii
shrink to zero at its two z-ends (so it starts and stops like an organ), and whose outline carries a few angular
harmonics. The image adds a body-like ellipse, low-pass texture, per-region intensity offsets, Gaussian noise
and a multiplicative bias field. Used for training (together with CT bones/muscles) and for the smoke scale.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage


@dataclasses.dataclass(frozen=True)
class SyntheticVolume:
    """``image`` float32 ``(Z, H, W)`` in [0, 1]; ``labels`` int16 ``(Z, H, W)``, 0 = background, 1..n = blobs."""

    image: np.ndarray
    labels: np.ndarray
    names: dict[int, str]


def _lowpass(rng: np.random.Generator, shape, sigma) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma=sigma, mode="wrap")
    return field / (field.std() + 1e-6)


def blob_mask(shape: tuple[int, int, int], *, center: tuple[float, float, float], radii: tuple[float, float, float],
              angle: float, drift: float, twist: float, harmonics: np.ndarray, phase: float) -> np.ndarray:
    """Boolean ``(Z, H, W)`` mask of one blob: per slice a rotated ellipse with angular harmonics.

    For slice z with ``u = (z - cz) / rz`` (|u| <= 1 inside the blob), the in-plane radii are
    ``(ry, rx) * sqrt(1 - u^2)^0.6``, the centre drifts by ``drift * sin(pi u + phase)`` pixels and the angle
    rotates by ``twist * u``; the outline radius is multiplied by ``1 + sum_k a_k cos(k theta + phase_k)``.
    """
    Z, H, W = shape
    cz, cy, cx = center
    rz, ry, rx = radii
    zz = np.arange(Z, dtype=np.float32)[:, None, None]
    u = (zz - cz) / rz
    inside_z = np.abs(u) < 1
    env = np.sqrt(np.clip(1 - u**2, 0, 1)) ** 0.6
    cyz = cy + drift * np.sin(np.pi * u + phase)
    cxz = cx + drift * np.cos(np.pi * u + 0.5 * phase)
    th = angle + twist * u
    yy = np.arange(H, dtype=np.float32)[None, :, None] - cyz
    xx = np.arange(W, dtype=np.float32)[None, None, :] - cxz
    a = yy * np.cos(th) + xx * np.sin(th)
    b = -yy * np.sin(th) + xx * np.cos(th)
    theta = np.arctan2(b / rx, a / ry)
    mod = np.ones_like(theta)
    for k, (amp, ph) in enumerate(harmonics, start=2):
        mod = mod + amp * np.cos(k * theta + ph + 0.7 * u)
    rho = np.sqrt((a / (ry * env + 1e-6)) ** 2 + (b / (rx * env + 1e-6)) ** 2)
    return (rho <= mod) & inside_z


def make_synthetic_volume(shape: tuple[int, int, int] = (32, 64, 64), n_blobs: int = 3, seed: int = 0, *,
                          noise: float = 0.04, bias: float = 0.25, min_contrast: float = 0.12) -> SyntheticVolume:
    """Generate one synthetic volume with ``n_blobs`` labelled organ-like blobs (see module docstring).

    Blob intensities differ from the local background by at least ``min_contrast`` (before noise), so a
    structure is visible but a click is still needed to say *which* structure is meant.
    """
    if len(shape) != 3 or min(shape) < 8:
        raise ValueError(f"shape must be (Z, H, W) with every side >= 8, got {shape}")
    if not 1 <= n_blobs <= 8:
        raise ValueError(f"n_blobs must be in 1..8, got {n_blobs}")
    rng = np.random.default_rng(seed)
    Z, H, W = shape
    # body: a large ellipse; outside is dark (air)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    by, bx = rng.uniform(0.38, 0.46) * H, rng.uniform(0.40, 0.48) * W
    body2d = ((yy - H / 2) / by) ** 2 + ((xx - W / 2) / bx) ** 2 <= 1
    body = np.broadcast_to(body2d, shape)
    base = rng.uniform(0.3, 0.5)
    image = np.where(body, base, 0.02).astype(np.float32)
    # soft-tissue texture and large regions with different means (fat / muscle-like)
    image += body * 0.06 * _lowpass(rng, shape, sigma=(2, 3, 3))
    regions = _lowpass(rng, shape, sigma=(4, 8, 8)) > 0.6
    image += body * regions * rng.uniform(-0.12, 0.12)
    labels = np.zeros(shape, dtype=np.int16)
    names = {}
    for k in range(1, n_blobs + 1):
        rz = rng.uniform(0.3, 0.55) * Z
        cz = rng.uniform(0.3, 0.7) * Z
        ry, rx = rng.uniform(0.08, 0.2) * H, rng.uniform(0.08, 0.2) * W
        cy = rng.uniform(H / 2 - by * 0.55, H / 2 + by * 0.55)
        cx = rng.uniform(W / 2 - bx * 0.55, W / 2 + bx * 0.55)
        n_h = rng.integers(1, 4)
        harmonics = np.stack([rng.uniform(0.0, 0.18, n_h), rng.uniform(0, 2 * np.pi, n_h)], axis=1)
        mask = blob_mask(shape, center=(cz, cy, cx), radii=(rz, ry, rx), angle=rng.uniform(0, np.pi),
                         drift=rng.uniform(0, 0.12) * H, twist=rng.uniform(-1.0, 1.0), harmonics=harmonics,
                         phase=rng.uniform(0, 2 * np.pi))
        mask &= body
        local = float(np.median(image[mask])) if mask.any() else base
        delta = rng.uniform(min_contrast, 0.4) * rng.choice([-1.0, 1.0])
        level = float(np.clip(local + delta, 0.05, 0.95))
        if abs(level - local) < min_contrast:  # clipped: flip to the other side
            level = float(np.clip(local - delta, 0.05, 0.95))
        image[mask] = level + 0.03 * _lowpass(rng, shape, sigma=1.5)[mask]
        labels[mask] = k
        names[k] = f"blob_{k}"
    field = 1 + bias * _lowpass(rng, shape, sigma=(Z / 3, H / 3, W / 3)) / 2
    image = image * field + noise * rng.standard_normal(shape).astype(np.float32)
    image = ndimage.gaussian_filter(image, sigma=(0, 0.6, 0.6))
    image = np.clip(image, 0, 1).astype(np.float32)
    return SyntheticVolume(image=image, labels=labels, names=names)
