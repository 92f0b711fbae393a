"""Image windows: ``get_subwindow`` with border replication (as in the released code), optional resizing, and
the search-window rule of ``search_window.m``."""
from __future__ import annotations

import cv2
import numpy as np


def get_subwindow(im: np.ndarray, center: tuple[float, float], size: tuple[int, int],
                  out_size: tuple[int, int] | None = None) -> np.ndarray:
    """Window of ``size`` = (h, w) centred on ``center`` = (y, x) (0-based pixels), out-of-image pixels
    replicate the border; resized to ``out_size`` = (h, w) when given (area filter when shrinking, bilinear
    otherwise).

    Pixel rows ``floor(y) - floor(h/2) + 0..h-1`` as in ``get_subwindow.m`` (shifted to 0-based indices)."""
    if im.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {im.shape}")
    h, w = int(size[0]), int(size[1])
    if h < 1 or w < 1:
        raise ValueError(f"window size must be positive, got {size}")
    y0 = int(np.floor(center[0])) - h // 2
    x0 = int(np.floor(center[1])) - w // 2
    ih, iw = im.shape[:2]
    if y0 >= 0 and x0 >= 0 and y0 + h <= ih and x0 + w <= iw:
        patch = im[y0:y0 + h, x0:x0 + w]
    else:
        ys = np.clip(np.arange(y0, y0 + h), 0, ih - 1)
        xs = np.clip(np.arange(x0, x0 + w), 0, iw - 1)
        patch = im[ys[:, None], xs[None, :]]
    if out_size is not None and (int(out_size[0]), int(out_size[1])) != (h, w):
        oh, ow = int(out_size[0]), int(out_size[1])
        interp = cv2.INTER_AREA if oh * ow < h * w else cv2.INTER_LINEAR
        patch = cv2.resize(np.ascontiguousarray(patch), (ow, oh), interpolation=interp)
    return patch


def search_window(target_sz: tuple[float, float], image_sz: tuple[int, int], padding: float = 1.8,
                  cell_size: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(window_sz, app_sz) as (h, w) int arrays, following ``search_window.m``:

    tall targets (h/w > 2): (1.4·h, (1+padding)·w); large targets (min side > 80 px and > 10 % of the image):
    2× the target; otherwise (1+padding)× the target. The long-term filter's window is the target + 2 cells.
    """
    t = np.asarray(target_sz, float)
    if t.shape != (2,) or np.any(t <= 0):
        raise ValueError(f"target size must be a positive (h, w) pair, got {target_sz}")
    if t[0] / t[1] > 2:
        window = np.floor(t * np.array([1.4, 1 + padding]))
    elif t.min() > 80 and t.prod() / float(image_sz[0] * image_sz[1]) > 0.1:
        window = np.floor(t * 2)
    else:
        window = np.floor(t * (1 + padding))
    app = np.floor(t) + 2 * cell_size
    return window.astype(int), app.astype(int)
