"""OTB one-pass evaluation (OPE; Wu, Lim, Yang 2013): centre-error precision curve, IoU success curve and AUC.

Boxes are (x, y, w, h) arrays of shape (T, 4); the first frame is included, as in the OTB toolkit.
"""
from __future__ import annotations

import numpy as np

#: precision-plot thresholds 0…50 px and success-plot IoU thresholds 0:0.05:1 (OTB toolkit)
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=float)
SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)


def _check(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred, float), np.asarray(gt, float)
    if pred.ndim != 2 or pred.shape[1] != 4 or pred.shape != gt.shape:
        raise ValueError(f"need two (T, 4) box arrays of equal shape, got {pred.shape} and {gt.shape}")
    return pred, gt


def center_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean distance (px) between box centres, per frame."""
    pred, gt = _check(pred, gt)
    cp = pred[:, :2] + pred[:, 2:] / 2
    cg = gt[:, :2] + gt[:, 2:] / 2
    return np.sqrt(((cp - cg) ** 2).sum(1))


def overlaps(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Intersection over union of the boxes, per frame (0 for empty boxes)."""
    pred, gt = _check(pred, gt)
    x1 = np.maximum(pred[:, 0], gt[:, 0])
    y1 = np.maximum(pred[:, 1], gt[:, 1])
    x2 = np.minimum(pred[:, 0] + pred[:, 2], gt[:, 0] + gt[:, 2])
    y2 = np.minimum(pred[:, 1] + pred[:, 3], gt[:, 1] + gt[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = pred[:, 2] * pred[:, 3] + gt[:, 2] * gt[:, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def precision_curve(errors: np.ndarray, thresholds: np.ndarray = PRECISION_THRESHOLDS) -> np.ndarray:
    """Fraction of frames with centre error <= each threshold (OTB precision plot)."""
    errors = np.asarray(errors, float)
    return (errors[None, :] <= np.asarray(thresholds)[:, None]).mean(axis=1)


def success_curve(ious: np.ndarray, thresholds: np.ndarray = SUCCESS_THRESHOLDS) -> np.ndarray:
    """Fraction of frames with IoU > each threshold (OTB success plot)."""
    ious = np.asarray(ious, float)
    return (ious[None, :] > np.asarray(thresholds)[:, None]).mean(axis=1)


def auc(success: np.ndarray) -> float:
    """Area under the success curve, the OTB way: the mean success rate over the 21 thresholds."""
    return float(np.mean(success))


def ope_summary(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Precision at 20 px, success AUC and mean centre error / IoU of one run."""
    err, iou = center_errors(pred, gt), overlaps(pred, gt)
    return {"P@20": float(precision_curve(err, np.array([20.0]))[0]), "AUC": auc(success_curve(iou)),
            "mean_err": float(err.mean()), "mean_iou": float(iou.mean())}


def frames_to_recover(pred: np.ndarray, gt: np.ndarray, start: int, tol: float = 10.0,
                      hold: int = 3) -> float:
    """Frames after ``start`` until the centre error is < ``tol`` px for ``hold`` consecutive frames
    (inf if never): the recovery time used by the synthetic re-detection claim."""
    err = center_errors(pred, gt)[start:]
    ok = err < tol
    for i in range(len(ok) - hold + 1):
        if ok[i:i + hold].all():
            return float(i)
    return float("inf")
