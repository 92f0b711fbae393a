"""Dense features on a 4-px cell grid: gray, local intensity histograms, an
illumination-invariant rank transform, and our own vectorised HOG in the 31-channel Felzenszwalb layout; plus
the cosine window and the Gaussian regression target of the correlation filters.

All functions are pure numpy/OpenCV, accept ``float32`` images in [0, 1] and are vectorised over the pixels
(the HOG also over a leading batch axis, which the scale filter uses for its 33 samples)."""
from __future__ import annotations

import functools

import cv2
import numpy as np

FEATURE_SETS = ("gray", "hist", "hog", "hog+hist")


def _check_image(im: np.ndarray, name: str = "image", batch: bool = False) -> np.ndarray:
    if not isinstance(im, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(im).__name__}")
    if im.ndim not in ((2, 3) if batch else (2,)):
        want = "(H, W) or (B, H, W)" if batch else "(H, W)"
        raise ValueError(f"{name} must be a gray image of shape {want}, got shape {im.shape}")
    return im.astype(np.float32, copy=False)


def to_gray(frame: np.ndarray) -> np.ndarray:
    """RGB or gray ``uint8``/float frame -> float32 gray image in [0, 1] (ITU-R 601 luma, as ``rgb2gray``)."""
    if not isinstance(frame, np.ndarray) or frame.ndim not in (2, 3):
        raise ValueError(f"frame must be an (H, W) or (H, W, 3) array, got {getattr(frame, 'shape', frame)}")
    if frame.ndim == 3:
        if frame.shape[2] != 3:
            raise ValueError(f"colour frames must have 3 channels (RGB), got {frame.shape[2]}")
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    out = frame.astype(np.float32)
    return out / 255.0 if frame.dtype == np.uint8 else out


def cosine_window(shape: tuple[int, int]) -> np.ndarray:
    """2-D Hann window ``hann(M) hann(N)^T`` that makes the patch periodic (KCF §2.1, ``cos_window``)."""
    m, n = shape
    if m < 2 or n < 2:
        raise ValueError(f"window shape must be at least 2x2, got {shape}")
    return np.outer(np.hanning(m), np.hanning(n)).astype(np.float32)


def gaussian_labels(shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Regression target y(m, n) = exp(-((m)^2 + (n)^2) / (2 s^2)) with the peak circularly shifted to (0, 0).

    The released code's labels (``gaussian_shaped_labels.m``); the shift to the origin means a detection response whose
    maximum sits at index (i, j) encodes the displacement (i, j) modulo the grid (see ``peak_displacement``).
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    m, n = shape
    rs = np.fft.ifftshift(np.arange(m) - m // 2)
    cs = np.fft.ifftshift(np.arange(n) - n // 2)
    y = np.exp(-0.5 * (rs[:, None] ** 2 + cs[None, :] ** 2) / sigma**2)
    return y.astype(np.float32)


# ------------------------------------------------------------------------------------- HOG (fHOG layout)
_HOG_EPS = 1e-4


@functools.lru_cache(maxsize=64)
def _cell_index(b: int, h: int, w: int, cell_size: int, n_bins: int) -> np.ndarray:
    """Flat index ``(batch, cell_row, cell_col) * n_bins`` of every pixel of a (B, h, w) stack (cached per
    shape)."""
    hc, wc = h // cell_size, w // cell_size
    rows = np.arange(hc * cell_size)[:, None] // cell_size
    cell = rows * wc + np.arange(wc * cell_size)[None, :] // cell_size
    idx = (np.arange(b)[:, None, None] * (hc * wc) + cell[None]) * n_bins
    return idx.ravel()


def _soft_cells(sub: np.ndarray) -> np.ndarray:
    """Bilinear spatial binning from 2-px sub-cells: cell k = [¼, ¾, ¾, ¼] · sub-cells 2k−1 … 2k+2 (both
    axes)."""
    p = np.pad(sub, ((0, 0), (1, 1), (1, 1), (0, 0)))
    rows = 0.25 * p[:, 0:-2:2] + 0.75 * p[:, 1:-1:2] + 0.75 * p[:, 2::2] + 0.25 * p[:, 3::2]
    return (0.25 * rows[:, :, 0:-2:2] + 0.75 * rows[:, :, 1:-1:2]
            + 0.75 * rows[:, :, 2::2] + 0.25 * rows[:, :, 3::2])


def hog_features(im: np.ndarray, cell_size: int = 4, n_orients: int = 9, clip: float = 0.2,
                 soft: bool = True) -> np.ndarray:
    """Felzenszwalb-style HOG, 31 channels per cell (fHOG, truncation channel removed).

    Per pixel: central-difference gradient, magnitude put in the nearest of 2·n_orients signed orientation
    bins; per cell: bilinear spatial binning (``soft``, as Piotr's ``fhog``; computed exactly at 2-px sub-cell
    resolution) or a plain sum over the cell. Each cell histogram is divided by the norms of the four 2×2-cell
    blocks around it and clipped at ``clip``; output channels are [2·n_orients signed | n_orients unsigned |
    4 texture (gradient energy per block normalisation)].
    ``im``: (H, W) or (B, H, W) float in [0, 1]; returns (H//c, W//c, 31) or (B, H//c, W//c, 31) float32."""
    im = _check_image(im, batch=True)
    single = im.ndim == 2
    if single:
        im = im[None]
    b, h, w = im.shape
    hc, wc = h // cell_size, w // cell_size
    if hc < 1 or wc < 1:
        raise ValueError(f"image {h}x{w} is smaller than one {cell_size}-px cell")
    if soft and cell_size % 2:
        raise ValueError(f"soft spatial binning needs an even cell size, got {cell_size}")
    hh, ww = hc * cell_size, wc * cell_size
    pad = np.pad(im[:, :hh + 1, :ww + 1], ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = np.ascontiguousarray(pad[:, 1:hh + 1, 2:ww + 2] - pad[:, 1:hh + 1, :ww]).reshape(b * hh, ww)
    gy = np.ascontiguousarray(pad[:, 2:hh + 2, 1:ww + 1] - pad[:, :hh, 1:ww + 1]).reshape(b * hh, ww)
    mag, ang = cv2.cartToPolar(gx, gy)  # ang in [0, 2*pi)
    n_signed = 2 * n_orients
    ori = (ang.ravel() * np.float32(n_signed / (2 * np.pi)) + 0.5).astype(np.intp)
    ori[ori >= n_signed] -= n_signed
    bin_px = cell_size // 2 if soft else cell_size
    nh, nw = hh // bin_px, ww // bin_px
    base = _cell_index(b, hh, ww, bin_px, n_signed)
    hist = np.bincount(base + ori, weights=mag.ravel(), minlength=b * nh * nw * n_signed)
    hist = hist.astype(np.float32).reshape(b, nh, nw, n_signed)
    if soft:
        hist = _soft_cells(hist)
    unsigned = hist[..., :n_orients] + hist[..., n_orients:]
    energy = np.einsum("...k,...k->...", unsigned, unsigned)  # (B, hc, wc)
    e = np.pad(energy, ((0, 0), (1, 1), (1, 1)), mode="edge")
    # block sums of the 2x2 cell neighbourhoods: s[i, j] = e[i:i+2, j:j+2].sum() on the padded grid
    s = e[:, :-1, :-1] + e[:, 1:, :-1] + e[:, :-1, 1:] + e[:, 1:, 1:]  # (B, hc+1, wc+1)
    out = np.empty((b, hc, wc, n_signed + n_orients + 4), np.float32)
    signed_acc = np.zeros_like(hist)
    unsigned_acc = np.zeros_like(unsigned)
    for k, (di, dj) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        nk = (1.0 / np.sqrt(s[:, di:di + hc, dj:dj + wc] + _HOG_EPS))[..., None]
        hs = np.minimum(hist * nk, clip)
        signed_acc += hs
        unsigned_acc += np.minimum(unsigned * nk, clip)
        out[..., n_signed + n_orients + k] = 0.2357 * hs.sum(axis=-1)
    out[..., :n_signed] = 0.5 * signed_acc
    out[..., n_signed:n_signed + n_orients] = 0.5 * unsigned_acc
    return out[0] if single else out


# ------------------------------------------------------------------------------------------------ histograms
@functools.lru_cache(maxsize=64)
def _window_gather(h: int, w: int, cell_size: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel indices (into the edge-padded image) of every ``window``×``window`` window centred on a cell, and
    the cell id of each; cached per shape so ``intensity_histograms`` is one gather and one ``bincount``."""
    hc, wc = h // cell_size, w // cell_size
    wp = w + window  # width of the edge-padded image
    off = np.arange(window)
    r = (np.arange(hc) * cell_size + cell_size // 2)[:, None, None, None] + off[None, None, :, None]
    c = (np.arange(wc) * cell_size + cell_size // 2)[None, :, None, None] + off[None, None, None, :]
    pix = (r * wp + c).reshape(-1)  # window offsets start at centre - half, i.e. padded index = centre + off
    cells = np.repeat(np.arange(hc * wc), window * window)
    return pix, cells


def intensity_histograms(im: np.ndarray, cell_size: int = 4, n_bins: int = 8, window: int = 6) -> np.ndarray:
    """Local intensity histograms (``histcImWin`` in the released code): for every cell, the fraction of the
    ``window``×``window`` pixels around its centre falling in each of ``n_bins`` equal bins spanning the
    patch's [min, max] range (``histcImWin(im, nbins, ...)`` with a scalar bin count does the same). Returns
    (H//c, W//c, n_bins) float32, each cell summing to 1."""
    im = _check_image(im)
    if n_bins < 1 or window < 1:
        raise ValueError(f"n_bins and window must be >= 1, got {n_bins}, {window}")
    h, w = im.shape
    hc, wc = h // cell_size, w // cell_size
    half = window // 2
    lo, hi = float(im.min()), float(im.max())
    q = np.clip(((im - lo) * (n_bins / max(hi - lo, 1e-6))).astype(np.intp), 0, n_bins - 1)
    qp = np.pad(q, ((half, window - half), (half, window - half)), mode="edge").ravel()
    pix, cells = _window_gather(h, w, cell_size, window)
    counts = np.bincount(cells * n_bins + qp[pix], minlength=hc * wc * n_bins)
    return (counts.reshape(hc, wc, n_bins) / np.float32(window * window)).astype(np.float32)


def rank_transform(im: np.ndarray, window: int = 4, n_bins: int = 32) -> np.ndarray:
    """Illumination-invariant local rank: fraction of the ``window``×``window`` neighbours whose
    ``n_bins``-level quantised intensity is <= the pixel's (our stand-in for ``calcIIF``, the
    locality-sensitive-histogram IIF; both are unchanged by monotone brightness changes). Returns (H, W)
    float32 in [0, 1]."""
    im = _check_image(im)
    q = np.clip((im * n_bins).astype(np.int32), 0, n_bins - 1)
    pad_lo, pad_hi = window // 2, window - 1 - window // 2
    qp = np.pad(q, ((pad_lo, pad_hi), (pad_lo, pad_hi)), mode="edge")
    h, w = q.shape
    count = np.zeros((h, w), np.float32)
    for di in range(window):
        for dj in range(window):
            count += qp[di:di + h, dj:dj + w] <= q
    return count / np.float32(window * window)


def extract_features(patch: np.ndarray, kind: str = "hog+hist", cell_size: int = 4) -> np.ndarray:
    """Feature map (H//c, W//c, D) of a gray patch for one of ``FEATURE_SETS``.

    ``gray``: mean intensity per cell minus 0.5 (1 channel); ``hist``: gray + 8-bin local histograms of the
    intensity and of the rank transform (17); ``hog``: 31-channel HOG; ``hog+hist``: HOG + both histograms
    (47 channels, the released code's feature set with ``rank_transform`` standing in for IIF).
    """
    if kind not in FEATURE_SETS:
        raise ValueError(f"feature set must be one of {FEATURE_SETS}, got {kind!r}")
    patch = _check_image(patch, "patch")
    h, w = patch.shape
    hc, wc = h // cell_size, w // cell_size
    parts = []
    if kind in ("gray", "hist"):
        cropped = patch[:hc * cell_size, :wc * cell_size]
        cells = cropped.reshape(hc, cell_size, wc, cell_size).mean(axis=(1, 3))
        parts.append((cells - 0.5)[..., None])
    if kind in ("hog", "hog+hist"):
        parts.append(hog_features(patch, cell_size))
    if kind in ("hist", "hog+hist"):
        parts.append(intensity_histograms(patch, cell_size))
        parts.append(intensity_histograms(1.0 - rank_transform(patch), cell_size))
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)


def feature_channels(kind: str) -> int:
    """Number of channels ``extract_features`` returns for ``kind``."""
    return {"gray": 1, "hist": 17, "hog": 31, "hog+hist": 47}[kind]
