"""The simulated user (Mem3D-style standard protocol).

Round 1: a positive click at the interior of the target on its largest slice (the maximum of the distance
transform of the target there). Later rounds: one click on the slice with the largest error area (FP + FN), at
the interior (distance-transform maximum) of the largest connected error region of that slice; positive for a
missed region (FN), negative for a false-positive region. Deterministic: ties go to the lowest index.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from course_lib.lim_net.clicks import Click


def _as_bool_volume(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 3:
        raise ValueError(f"{name} must be a (Z, H, W) volume, got shape {a.shape}")
    return a.astype(bool, copy=False)


def interior_point(region: np.ndarray, rng: np.random.Generator | None = None,
                   min_fraction: float = 1.0) -> tuple[int, int]:
    """``(y, x)`` of the distance-transform maximum of a 2D boolean region (its most interior pixel).

    The distance is to the nearest pixel outside the region, with the image border counting as outside. With an
    ``rng`` and ``min_fraction < 1`` a random pixel whose distance is >= ``min_fraction`` x max is returned
    instead (used to vary clicks during training).
    """
    region = np.asarray(region, dtype=bool)
    if region.ndim != 2 or not region.any():
        raise ValueError("region must be a non-empty 2D boolean array")
    dist = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    if rng is None or min_fraction >= 1.0:
        y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
        return int(y), int(x)
    ys, xs = np.nonzero(dist >= min_fraction * dist.max())
    i = rng.integers(len(ys))
    return int(ys[i]), int(xs[i])


def first_click(gt, rng: np.random.Generator | None = None, min_fraction: float = 1.0) -> Click:
    """Round-1 click: positive, at the interior of the target on its largest slice."""
    gt = _as_bool_volume(gt, "gt")
    areas = gt.sum(axis=(1, 2))
    if areas.max() == 0:
        raise ValueError("the target is empty: nothing to click on")
    z = int(np.argmax(areas))
    y, x = interior_point(gt[z], rng, min_fraction)
    return Click(z, y, x, True)


def error_regions(pred2d: np.ndarray, gt2d: np.ndarray) -> list[tuple[np.ndarray, bool]]:
    """Connected error regions of one slice as ``(mask, is_false_negative)``, largest first (8-connectivity)."""
    out = []
    for err, is_fn in ((gt2d & ~pred2d, True), (pred2d & ~gt2d, False)):
        lab, n = ndimage.label(err, structure=np.ones((3, 3)))
        if n:
            sizes = ndimage.sum_labels(err, lab, index=np.arange(1, n + 1))
            out += [(lab == i + 1, is_fn, float(s)) for i, s in enumerate(sizes)]
    out.sort(key=lambda t: -t[2])  # stable: FN before FP on equal size
    return [(m, fn) for m, fn, _ in out]


def next_click(pred, gt, rng: np.random.Generator | None = None, min_fraction: float = 1.0) -> Click | None:
    """Corrective click on the slice with the largest error area; ``None`` when the prediction is perfect."""
    pred, gt = _as_bool_volume(pred, "pred"), _as_bool_volume(gt, "gt")
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} differ in shape")
    err = (pred ^ gt).sum(axis=(1, 2))
    if err.max() == 0:
        return None
    z = int(np.argmax(err))
    region, is_fn = error_regions(pred[z], gt[z])[0]
    y, x = interior_point(region, rng, min_fraction)
    return Click(z, y, x, is_fn)


def simulated_clicks(masks_by_round, gt) -> list[Click | None]:
    """The clicks the simulated user gives after each of ``masks_by_round`` (for inspection in notebooks)."""
    return [next_click(m, gt) for m in masks_by_round]
