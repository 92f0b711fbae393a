"""Multi-Round Result Fusion (MRF): per slice, keep the better of the round-t and round-(t+1) masks.

    fused[z] = new[z] if score_new[z] >= score_prev[z] else prev[z]        (Eq. 4, :func:`fuse`)

Learned MRF: ``score = Q(image, mask)``, a per-slice Dice regressor (:class:`~course_lib.lim_net.models.
QualityRegressor`, trained on training structures only). Oracle MRF: ``score = -(FP + FN)`` per slice from the
ground truth (:func:`oracle_fuse`), a reference that, by construction, never increases any slice's error and
always returns one of the two candidates per slice. The paper's scorer target is **[not retrieved]**; regressing
per-slice Dice is a workbook design choice.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from course_lib.lim_net.models import QualityRegressor


def _pair(prev, new) -> tuple[np.ndarray, np.ndarray]:
    prev, new = np.asarray(prev, dtype=bool), np.asarray(new, dtype=bool)
    if prev.shape != new.shape or prev.ndim != 3:
        raise ValueError(f"prev {prev.shape} and new {new.shape} must be equal (Z, H, W) shapes")
    return prev, new


def slice_errors(mask, gt) -> np.ndarray:
    """Per-slice error count ``|FP| + |FN|`` -> int array ``(Z,)``."""
    mask, gt = _pair(mask, gt)
    return (mask ^ gt).sum(axis=(1, 2))


def slice_dice(mask, gt, smooth: float = 1.0) -> np.ndarray:
    """Per-slice smoothed Dice ``(2|A n B| + s) / (|A| + |B| + s)`` -> ``(Z,)`` (1 when both are empty)."""
    mask, gt = _pair(mask, gt)
    inter = (mask & gt).sum(axis=(1, 2))
    return (2 * inter + smooth) / (mask.sum(axis=(1, 2)) + gt.sum(axis=(1, 2)) + smooth)


def fuse(prev, new, score_prev, score_new, pin: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Eq. (4): slice-wise selection. Returns ``(fused (Z, H, W) bool, took_new (Z,) bool)``.

    Ties go to the new round. Slices in ``pin`` always take the new round (the slice the user just clicked).
    """
    prev, new = _pair(prev, new)
    score_prev, score_new = np.asarray(score_prev, float), np.asarray(score_new, float)
    if score_prev.shape != (prev.shape[0],) or score_new.shape != (prev.shape[0],):
        raise ValueError(f"scores must have shape ({prev.shape[0]},), got {score_prev.shape} and {score_new.shape}")
    took_new = score_new >= score_prev
    for z in pin:
        took_new[int(z)] = True
    fused = np.where(took_new[:, None, None], new, prev)
    return fused, took_new


def oracle_fuse(prev, new, gt) -> tuple[np.ndarray, np.ndarray]:
    """Oracle MRF: Eq. (4) with ``score = -(FP + FN)`` per slice from the ground truth."""
    return fuse(prev, new, -slice_errors(prev, gt), -slice_errors(new, gt))


def quality_input(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(Z, 4, H, W)`` scorer input ``[image, mask, mask of slice above, mask of slice below]`` (zeros past ends)."""
    if image.shape != mask.shape or image.ndim != 3:
        raise ValueError(f"image {tuple(image.shape)} and mask {tuple(mask.shape)} must be equal (Z, H, W)")
    m = mask.to(image.dtype)
    zero = torch.zeros_like(m[:1])
    above = torch.cat([zero, m[:-1]], dim=0)
    below = torch.cat([m[1:], zero], dim=0)
    return torch.stack([image, m, above, below], dim=1)


@torch.no_grad()
def quality_scores(qnet: QualityRegressor, image: torch.Tensor, mask, batch: int = 64) -> np.ndarray:
    """Predicted per-slice Dice ``(Z,)`` of a candidate mask (the learned MRF's score)."""
    qnet.eval()
    mask = torch.as_tensor(np.asarray(mask), device=image.device)
    x = quality_input(image, mask)
    return torch.cat([qnet(x[i:i + batch]) for i in range(0, len(x), batch)]).float().cpu().numpy()


def learned_fuse(qnet: QualityRegressor, image: torch.Tensor, prev, new, pin: Iterable[int] = ()):
    """Learned MRF: Eq. (4) with ``score = Q(image, mask)``; returns ``(fused, took_new, score_prev, score_new)``."""
    sp, sn = quality_scores(qnet, image, prev), quality_scores(qnet, image, new)
    fused, took = fuse(prev, new, sp, sn, pin)
    return fused, took, sp, sn
