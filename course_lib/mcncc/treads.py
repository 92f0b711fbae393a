"""A procedural shoe-tread generator with crime-scene degradations: paired query / reference domains (§5.3).

* References (the "lab" domain): clean binary renders of a tread pattern inside an outsole silhouette, dark tread
  on white paper, as the FID-300 reference impressions.
* Queries (the "crime-scene" domain): a partial crop (40–70 % of the area) of the same print, rotated ±10°,
  polarity flipped half of the time (dust vs oil), with a smooth random gain over the print, a low-passed real
  background texture from scikit-image's bundled images (``brick``, ``grass``, ``gravel``; nothing downloads),
  blur, speckle dropout and JPEG compression. The valid region of a query is returned as a mask.

Patterns: tiled bars, chevrons, circles (square or hexagonal lattice), hexagon cells, waves and blocks, with random
period and orientation; forefoot and heel get independent patterns.
"""
from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np

FAMILIES = ("bars", "chevrons", "circles", "hexagons", "waves", "blocks")
TEXTURES = ("brick", "grass", "gravel")


@dataclasses.dataclass
class Query:
    """One crime-scene query: gray image in [0, 1], its valid-pixel mask, the true reference index, and where it
    came from (crop box (y0, x0, h, w) in the reference, rotation in degrees, polarity flipped or not)."""

    image: np.ndarray
    mask: np.ndarray
    label: int
    box: tuple[int, int, int, int]
    angle: float
    flipped: bool


def _family(name: str, yy: np.ndarray, xx: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    period = rng.uniform(5.0, 11.0) * scale
    th = rng.uniform(0, np.pi)
    u = xx * np.cos(th) + yy * np.sin(th)
    v = -xx * np.sin(th) + yy * np.cos(th)
    duty = rng.uniform(0.35, 0.6)
    if name == "bars":
        return (u % period) < duty * period
    if name == "chevrons":
        slope = rng.uniform(0.5, 1.5)
        return ((v + slope * np.abs(u - u.mean())) % period) < duty * period
    if name == "waves":
        amp = rng.uniform(0.15, 0.4) * period
        return ((u + amp * np.sin(2 * np.pi * v / (2.5 * period))) % period) < duty * period
    if name == "blocks":
        return ((u % period) < duty * period) ^ ((v % (1.3 * period)) < 0.5 * 1.3 * period)
    if name == "circles":
        r = rng.uniform(0.22, 0.4) * period
        row = np.floor(v / period)
        shift = 0.5 * period * (row % 2) if rng.random() < 0.5 else 0.0
        du = (u + shift) % period - period / 2
        dv = v % period - period / 2
        return du ** 2 + dv ** 2 < r ** 2
    if name == "hexagons":
        # distance to the nearest point of a hexagonal lattice, drawn as cell walls
        a = period
        q1 = u / a
        q2 = (u * 0.5 + v * np.sqrt(3) / 2) / a
        f = np.minimum.reduce([np.abs(q1 - np.round(q1)), np.abs(q2 - np.round(q2)),
                               np.abs((q2 - q1) - np.round(q2 - q1))])
        return f < rng.uniform(0.08, 0.16)
    raise ValueError(f"unknown family {name!r}; known: {FAMILIES}")


def outsole(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random outsole silhouette (forefoot and heel ellipses joined by a waist), boolean (H, W)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    cx = w / 2 + rng.uniform(-0.04, 0.04) * w
    fore = ((xx - cx) / (0.48 * w)) ** 2 + ((yy - 0.3 * h) / (0.3 * h)) ** 2 < 1
    heel = ((xx - cx) / (rng.uniform(0.36, 0.44) * w)) ** 2 + ((yy - 0.8 * h) / (0.19 * h)) ** 2 < 1
    waist = (np.abs(xx - cx) < rng.uniform(0.28, 0.38) * w) & (yy > 0.3 * h) & (yy < 0.8 * h)
    return fore | heel | waist


def render_tread(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """One clean reference: dark tread (0) on white paper (1) inside a random outsole, float32 (H, W)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    scale = h / 128.0
    sole = outsole(shape, rng)
    split = rng.uniform(0.5, 0.65) * h
    front = _family(FAMILIES[rng.integers(len(FAMILIES))], yy, xx, rng, scale)
    back = _family(FAMILIES[rng.integers(len(FAMILIES))], yy, xx, rng, scale)
    tread = np.where(yy < split, front, back) & sole
    rim = sole & ~cv2.erode(sole.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return np.where(tread | rim, 0.0, 1.0).astype(np.float32)


def make_references(n: int, shape: tuple[int, int] = (128, 64), seed: int = 0) -> np.ndarray:
    """``n`` distinct reference renders (n, H, W) from one seed (patterns, periods, orientations all random)."""
    if n < 1 or min(shape) < 16:
        raise ValueError(f"need n ≥ 1 and a shape of at least 16×16, got n={n}, shape={shape}")
    rng = np.random.default_rng(seed)
    return np.stack([render_tread(shape, rng) for _ in range(n)])


@functools.cache
def _texture(name: str) -> np.ndarray:
    from skimage import data as skdata

    if name not in TEXTURES:
        raise ValueError(f"unknown texture {name!r}; bundled ones used here: {TEXTURES}")
    return getattr(skdata, name)().astype(np.float32) / 255.0


def background(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A low-passed random crop of a bundled scikit-image texture, rescaled to [0, 1]."""
    tex = _texture(TEXTURES[rng.integers(len(TEXTURES))])
    h, w = shape
    zoom = rng.uniform(0.5, 1.5)
    ch, cw = min(tex.shape[0], int(h / zoom) + 1), min(tex.shape[1], int(w / zoom) + 1)
    y0, x0 = rng.integers(0, tex.shape[0] - ch + 1), rng.integers(0, tex.shape[1] - cw + 1)
    crop = cv2.resize(tex[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_AREA)
    crop = cv2.GaussianBlur(crop, (0, 0), rng.uniform(0.8, 2.0))
    return (crop - crop.min()) / max(float(np.ptp(crop)), 1e-6)


def degrade(clean: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Crime-scene degradations of an aligned clean crop (no geometry change): polarity flip (p = 0.5), smooth
    per-region gain, background texture, blur, speckle dropout, JPEG. ``strength`` scales every nuisance."""
    return _degrade(clean, rng, strength)[0]


def _degrade(clean: np.ndarray, rng: np.random.Generator, strength: float) -> tuple[np.ndarray, bool]:
    h, w = clean.shape
    ink = 1.0 - clean                                   # 1 on the tread
    keep = rng.random((h, w)) > 0.25 * strength         # speckle dropout of the print
    gain = cv2.resize(rng.uniform(0.3, 1.0, (3, 2)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    gain = 1.0 - strength * (1.0 - np.clip(gain, 0.2, 1.0))
    print_ = ink * keep * gain
    bg = background((h, w), rng)
    flipped = bool(rng.random() < 0.5)
    alpha = rng.uniform(0.25, 0.5) * strength           # background contrast
    img = (0.7 * print_ + alpha * bg) if flipped else (1.0 - 0.7 * print_ - alpha * (1 - bg))
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 0.4 + 0.6 * strength * rng.random())
    img = img + rng.normal(0, 0.03 * strength, img.shape)
    img = np.clip((img - img.min()) / max(float(np.ptp(img)), 1e-6), 0, 1)
    ok, enc = cv2.imencode(".jpg", (img * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY,
                                                                   int(rng.integers(30, 80))])
    return cv2.imdecode(enc, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0, flipped


def rotate_with_mask(image: np.ndarray, angle: float, mask: np.ndarray | None = None, fill: float | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Rotate ``image`` by ``angle`` degrees (counter-clockwise) about its centre on an enlarged canvas that holds
    the whole result; returns (image, mask) where the mask marks pixels coming from valid input pixels."""
    h, w = image.shape
    mask = np.ones((h, w), np.float32) if mask is None else mask.astype(np.float32)
    if angle == 0:
        return image.astype(np.float32), mask > 0.5
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(rot[0, 0]), abs(rot[0, 1])
    nw, nh = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    rot[0, 2] += nw / 2 - w / 2
    rot[1, 2] += nh / 2 - h / 2
    fill = float(np.mean(image)) if fill is None else fill
    out = cv2.warpAffine(image.astype(np.float32), rot, (nw, nh), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    m = cv2.warpAffine(mask, rot, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out, m > 0.999


def make_query(reference: np.ndarray, label: int, rng: np.random.Generator, max_angle: float = 10.0,
               area=(0.4, 0.7), strength: float = 1.0) -> Query:
    """A crime-scene query from one reference: random crop of ``area`` of the print, degradations
    (:func:`degrade`), then a rotation uniform in ±``max_angle`` degrees."""
    h, w = reference.shape
    frac = rng.uniform(*area)
    fw = rng.uniform(max(frac, 0.6), 1.0)              # crops keep most of the width, like crime-scene partials
    ch, cw = int(round(h * min(1.0, frac / fw))), int(round(w * fw))
    y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    crop = reference[y0:y0 + ch, x0:x0 + cw]
    noisy, flipped = _degrade(crop, rng, strength)
    angle = float(rng.uniform(-max_angle, max_angle))
    img, mask = rotate_with_mask(noisy, angle)
    return Query(img, mask, label, (int(y0), int(x0), ch, cw), angle, flipped)


def make_queries(references: np.ndarray, seed: int = 1, per_reference: int = 1, **kw) -> list[Query]:
    """``per_reference`` crime-scene queries for every reference (labels = reference indices)."""
    rng = np.random.default_rng(seed)
    return [make_query(ref, i, rng, **kw) for i, ref in enumerate(references) for _ in range(per_reference)]


def aligned_pairs(references: np.ndarray, crop: tuple[int, int], rng: np.random.Generator, strength: float = 1.0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Training pairs without geometry change: a random ``crop`` (h, w) of each reference and its degraded version
    (same pixels), each (n, h, w) — for training features through the MCNCC score."""
    n, h, w = references.shape
    ch, cw = crop
    if ch > h or cw > w:
        raise ValueError(f"crop {crop} is larger than the references {(h, w)}")
    refs, qs = [], []
    for ref in references:
        y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        clean = ref[y0:y0 + ch, x0:x0 + cw]
        refs.append(clean)
        qs.append(degrade(clean, rng, strength))
    return np.stack(refs).astype(np.float32), np.stack(qs).astype(np.float32)
