"""Online re-detector of LCT 2.0: a passive-aggressive linear SVM on binary quantised channels,
scanned densely over a window and weighted by a Gaussian prior around the last position.

The CVPR'15 paper used random ferns instead (S = 8 binary tests per fern, M = 50 ferns on the same kind of
binary features; each fern indexes a 2^S-bin posterior table, the classifier averages the log-odds); the
released code replaced them by this SVM. Only the SVM is implemented here; the notebooks explain both.
"""
from __future__ import annotations

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from course_lib.lct.features import rank_transform
from course_lib.lct.patches import get_subwindow


def detector_channels(region: np.ndarray) -> np.ndarray:
    """Binary maps of ``get_feature_detector.m``: colour input -> [1 − IIF, L, a, b] each thresholded at 4
    levels; gray input -> [1 − IIF, gray] at 8 levels (16 channels either way). ``region``: uint8 (H, W) or
    (H, W, 3) RGB. ``rank_transform`` (4×4, 32 levels) stands in for ``calcIIF``. Returns (H, W, 16) float32
    in {0, 1}."""
    if region.dtype != np.uint8:
        raise TypeError(f"detector input must be uint8 (RGB or gray), got {region.dtype}")
    colour = region.ndim == 3 and not (np.array_equal(region[..., 0], region[..., 1])
                                       and np.array_equal(region[..., 1], region[..., 2]))
    if colour:
        lab = cv2.cvtColor(region, cv2.COLOR_RGB2LAB).astype(np.float32) / 255.0
        gray = lab[..., 0]
        chans = [1.0 - rank_transform(gray), lab[..., 0], lab[..., 1], lab[..., 2]]
        nth = 4
    else:
        gray = (region[..., 0] if region.ndim == 3 else region).astype(np.float32) / 255.0
        chans = [1.0 - rank_transform(gray), gray]
        nth = 8
    thr = np.arange(1, nth + 1, dtype=np.float32) / (nth + 1)
    stack = np.stack(chans, axis=-1)  # (H, W, n_chan)
    return (stack[..., :, None] > thr).reshape(*stack.shape[:2], -1).astype(np.float32)


def box_iou(boxes: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """IoU of (n, 4) boxes (x, y, w, h) with one reference box (the ``get_iou`` of ``det_samples.m``)."""
    boxes = np.atleast_2d(np.asarray(boxes, float))
    ref = np.asarray(ref, float)
    left = np.maximum(boxes[:, 0], ref[0])
    top = np.maximum(boxes[:, 1], ref[1])
    right = np.minimum(boxes[:, 0] + boxes[:, 2], ref[0] + ref[2])
    bottom = np.minimum(boxes[:, 1] + boxes[:, 3], ref[1] + ref[3])
    inter = np.maximum(right - left, 0) * np.maximum(bottom - top, 0)
    return inter / (boxes[:, 2] * boxes[:, 3] + ref[2] * ref[3] - inter)


def pa_update(w: np.ndarray, x: np.ndarray, y: np.ndarray, c: float = 0.5,
              order: np.ndarray | None = None) -> int:
    """Passive-aggressive pass in place over samples ``x`` (n, d) with labels ``y`` in {−1, +1}; ``w`` has
    d + 1 entries, the last one a bias (an implicit constant feature 1). For each sample,
    ℓ = max(0, 1 − y·(w·x + b)) and w ← w + ℓ / (‖x‖² + 1 + 1/(2C)) · y·[x, 1]  (``onlineSVMTrain`` in
    ``det_learn.m``). Returns the number of updates."""
    if x.ndim != 2 or x.shape[1] + 1 != w.shape[0] or y.shape != (x.shape[0],):
        raise ValueError(f"need x (n, {w.shape[0] - 1}) and y (n,), got {x.shape} and {y.shape}")
    if not np.all(np.abs(y) == 1):
        raise ValueError("labels must be -1 or +1")
    sq = np.einsum("ij,ij->i", x, x) + 1.0 + 1.0 / (2.0 * c)
    wx, updates = w[:-1], 0  # wx is a view: in-place updates reach w
    for n in (range(len(y)) if order is None else order):
        loss = 1.0 - y[n] * (float(x[n] @ wx) + w[-1])
        if loss > 0.0:
            step = loss / sq[n] * y[n]
            wx += step * x[n]
            w[-1] += step
            updates += 1
    return updates


class PADetector:
    """Incrementally learned detector of the released code (``det_config`` / ``det_samples`` / ``det_learn`` /
    ``refine_pos_rf``). Works in the tracker's (possibly half-resolution) image coordinates; positions (y, x).

    Samples are all target-sized windows (stride 1) of a region resized so that the target covers ≈
    ``template_area`` px; positives have IoU > ``pos_iou`` with the current box, negatives IoU < ``neg_iou``.
    ``detect_region``: multiple of the search window to scan (1.2 in the code) or ``None`` for the whole
    frame."""

    def __init__(self, target_sz: tuple[float, float], window_sz: tuple[int, int], *, c: float = 0.5,
                 train_region: float = 1.2, detect_region: float | None = 1.2, prior_sigma: float = 25.0,
                 pos_iou: float = 0.9, neg_iou: float = 0.5, template_area: float = 144.0,
                 first_epochs: int = 10, seed: int = 0):
        t = np.asarray(target_sz, float)
        if t.shape != (2,) or np.any(t <= 0):
            raise ValueError(f"target size must be a positive (h, w) pair, got {target_sz}")
        self.target_sz, self.window_sz = t, np.asarray(window_sz, float)
        self.ratio0 = float(np.sqrt(template_area / t.prod()))
        self.t_sz = np.maximum(np.round(t * self.ratio0), 1).astype(int)
        self.c, self.train_region, self.detect_region = c, train_region, detect_region
        self.prior_sigma, self.pos_iou, self.neg_iou = prior_sigma, pos_iou, neg_iou
        self.first_epochs, self.rng = first_epochs, np.random.default_rng(seed)
        self.w: np.ndarray | None = None  # (d + 1,), last entry = bias

    # ------------------------------------------------------------------ regions
    def _region_maps(self, frame: np.ndarray, pos, scale: float, region: float | None):
        """Binary maps of the scanned region, and the affine map (map coords -> image coords)."""
        ratio = self.ratio0 / scale
        if region is None:
            ih, iw = frame.shape[:2]
            out = (max(int(round(ih * ratio)), self.t_sz[0]), max(int(round(iw * ratio)), self.t_sz[1]))
            pix = cv2.resize(frame, (out[1], out[0]), interpolation=cv2.INTER_AREA)
            origin, step = np.zeros(2), np.array([ih / out[0], iw / out[1]])
        else:
            size = np.floor(self.window_sz * region * scale).astype(int)
            # map size with (map - template) even, so one window is exactly centred on the target
            out = self.t_sz + 2 * np.maximum(np.round((size * ratio - self.t_sz) / 2), 0).astype(int)
            pix = get_subwindow(frame, pos, size, tuple(out))
            origin = np.floor(np.asarray(pos, float)) - size // 2
            step = size / out
        return detector_channels(np.ascontiguousarray(pix)), origin, step

    def _centres(self, shape, origin, step):
        th, tw = self.t_sz
        ys = (np.arange(shape[0] - th + 1) + th / 2) * step[0] + origin[0]
        xs = (np.arange(shape[1] - tw + 1) + tw / 2) * step[1] + origin[1]
        return ys, xs

    # ------------------------------------------------------------------ learning
    def samples(self, frame: np.ndarray, pos, scale: float = 1.0):
        """Training samples (n, d) (flattened target-sized windows) and labels in {−1, +1} around ``pos``."""
        maps, _, _ = self._region_maps(frame, pos, scale, self.train_region)
        th, tw = self.t_sz
        mh, mw, k = maps.shape
        win = sliding_window_view(maps, (th, tw, k))[:, :, 0]  # (nh, nw, th, tw, k) view
        nh, nw = win.shape[:2]
        yy, xx = np.meshgrid(np.arange(nh), np.arange(nw), indexing="ij")
        boxes = np.stack([xx.ravel(), yy.ravel(), np.full(xx.size, tw), np.full(xx.size, th)], 1)
        iou = box_iou(boxes, np.array([(mw - tw) / 2, (mh - th) / 2, tw, th])).reshape(nh, nw)
        keep = (iou > self.pos_iou) | (iou < self.neg_iou)
        x = win[keep].reshape(int(keep.sum()), -1)  # one gather of the kept windows only
        y = np.where(iou[keep] > self.pos_iou, 1.0, -1.0)
        return x, y

    def train(self, frame: np.ndarray, pos, scale: float = 1.0) -> int:
        """First call: ``first_epochs`` PA passes in a seeded random order (stand-in for the batch SVM of the
        first frame); later calls: one PA pass (the online update). Returns the number of weight updates."""
        x, y = self.samples(frame, pos, scale)
        if self.w is None:
            self.w = np.zeros(x.shape[1] + 1, np.float32)
            return sum(pa_update(self.w, x, y, self.c, self.rng.permutation(len(y)))
                       for _ in range(self.first_epochs))
        return pa_update(self.w, x, y, self.c)

    # ------------------------------------------------------------------ detection
    def score_map(self, frame: np.ndarray, pos, scale: float = 1.0):
        """Dense scores w·x + b of every window of the scanned region, and the window centres (image
        coordinates)."""
        if self.w is None:
            raise RuntimeError("PADetector.train must be called before detection")
        maps, origin, step = self._region_maps(frame, pos, scale, self.detect_region)
        th, tw = self.t_sz
        w = self.w[:-1].reshape(th, tw, -1)
        scores = np.full((maps.shape[0] - th + 1, maps.shape[1] - tw + 1), self.w[-1], np.float32)
        for ch in range(maps.shape[2]):
            scores += cv2.matchTemplate(maps[..., ch], w[..., ch], cv2.TM_CCORR)
        return scores, self._centres(maps.shape, origin, step), step

    def detect(self, frame: np.ndarray, pos, scale: float = 1.0) -> tuple[np.ndarray, float]:
        """Best candidate centre (y, x) after the Gaussian prior (σ = ``prior_sigma`` samples) around ``pos``,
        and its prior-weighted score (``refine_pos_rf.m`` accepts only a positive one)."""
        scores, (ys, xs), step = self.score_map(frame, pos, scale)
        dy = (ys - pos[0]) / step[0]
        dx = (xs - pos[1]) / step[1]
        prior = np.exp(-0.5 * (dy[:, None] ** 2 + dx[None, :] ** 2) / self.prior_sigma**2)
        weighted = scores * prior
        i, j = np.unravel_index(int(np.argmax(weighted)), weighted.shape)
        return np.array([ys[i], xs[j]]), float(weighted[i, j])
