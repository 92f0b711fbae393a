"""Boxes (x1, y1, x2, y2): area, pairwise IoU with a safe treatment of tiny boxes, and vectorised greedy NMS.
"""

from __future__ import annotations

import torch

from course_lib.checks import finite, nonfinite_message, require_all


def _check_boxes(boxes: torch.Tensor, name: str = "boxes") -> None:
    if not torch.is_tensor(boxes):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(boxes).__name__}")
    if boxes.dim() < 2 or boxes.shape[-1] != 4:
        raise ValueError(
            f"{name} must have shape (..., n, 4) with (x1, y1, x2, y2) last, got {tuple(boxes.shape)}"
        )
    if not boxes.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {boxes.dtype}")


def _inverted_message(name: str, boxes: torch.Tensor) -> str:
    bad = (boxes[..., 2:] < boxes[..., :2]).any(-1)
    first = boxes[bad][0].tolist()
    return (f"{name} must be (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2; {int(bad.sum())} of {bad.numel()} "
            f"boxes have x2 < x1 or y2 < y1, e.g. {first} (for (x, y, w, h) boxes use (x, y, x + w, y + h))")


def box_conditions(boxes: torch.Tensor, name: str = "boxes") -> list:
    """``(flag, message)`` pairs for :func:`course_lib.checks.require_all`: finite, x1 <= x2 and y1 <= y2."""
    return [(finite(boxes), lambda: nonfinite_message(name, boxes)),
            ((boxes[..., 2:] >= boxes[..., :2]).all(), lambda: _inverted_message(name, boxes))]


def check_boxes(boxes: torch.Tensor, name: str = "boxes") -> torch.Tensor:
    """Validate (..., n, 4) float boxes (x1, y1, x2, y2): shape, dtype, finite, x1 <= x2, y1 <= y2 (one host sync).
    Raises ``TypeError``/``ValueError`` naming what was expected; returns ``boxes``."""
    _check_boxes(boxes, name)
    require_all(*box_conditions(boxes, name))
    return boxes


def _check_pair(a: torch.Tensor, b: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate the inputs of :func:`pairwise_iou` with one host sync; returns (a, b) with b = a when omitted."""
    if b is None:
        return check_boxes(a, "boxes"), a
    _check_boxes(a, "a")
    _check_boxes(b, "b")
    require_all(*box_conditions(a, "a"), *box_conditions(b, "b"))
    return a, b


def _area(boxes: torch.Tensor) -> torch.Tensor:
    wh = (boxes[..., 2:] - boxes[..., :2]).clamp_min(0)
    return wh[..., 0] * wh[..., 1]


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Area (x2 − x1) · (y2 − y1) of boxes of shape (..., n, 4) → (..., n); inverted or non-finite boxes raise."""
    return _area(check_boxes(boxes))


def pairwise_iou(
    a: torch.Tensor, b: torch.Tensor | None = None, *, abs_eps: float | None = None
) -> torch.Tensor:
    """IoU_ij = |a_i ∩ b_j| / |a_i ∪ b_j| for boxes (..., n, 4) and (..., m, 4) → (..., n, m).

    Tiny-box fix: the official code divides by ``union + 1e-12``; for boxes of side 1e-6 the
    union itself is 1e-12, so the self-IoU becomes 0.5 and D_ii = 0.5 instead of 0. Here the division is exact
    (relative, scale-free): IoU = inter / union wherever union > 0, and for degenerate pairs (union = 0, i.e.
    two zero-area boxes) IoU = 1 if the boxes coincide and 0 otherwise. Hence IoU(b, b) = 1 for every box.
    Pass ``abs_eps=1e-12`` to reproduce the official behaviour (for the notebook's demonstration).
    Boxes must be finite with x1 <= x2 and y1 <= y2 (``ValueError`` otherwise).
    """
    a, b = _check_pair(a, b)
    lt = torch.maximum(a[..., :, None, :2], b[..., None, :, :2])
    rb = torch.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    wh = (rb - lt).clamp_min(0)
    inter = wh[..., 0] * wh[..., 1]
    union = _area(a)[..., :, None] + _area(b)[..., None, :] - inter
    if abs_eps is not None:
        return inter / (union + abs_eps)
    positive = union > 0
    iou = inter / torch.where(positive, union, torch.ones_like(union))
    same = (a[..., :, None, :] == b[..., None, :, :]).all(-1)
    return torch.where(positive, iou, same.to(iou.dtype))


def nms_keep(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float = 0.5) -> torch.Tensor:
    """Exact greedy non-maximum suppression, vectorised over the batch → boolean keep mask (B, n).

    Boxes are visited in decreasing score order (stable for ties); a box is kept unless a kept box with a
    higher score overlaps it with IoU > ``iou_threshold``. The loop runs over the n proposals, each step over
    the whole batch, so the cost is n batched steps rather than B·n Python steps (no torchvision dependency).
    """
    _check_boxes(boxes)
    if boxes.dim() != 3 or not torch.is_tensor(scores) or scores.shape != boxes.shape[:2]:
        raise ValueError(
            f"expected boxes (B, n, 4) and scores (B, n); got {tuple(boxes.shape)} and "
            f"{tuple(getattr(scores, 'shape', ()))}"
        )
    require_all(*box_conditions(boxes), (finite(scores), lambda: nonfinite_message("scores", scores)))
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must lie in [0, 1], got {iou_threshold}")
    order = torch.argsort(scores, dim=1, descending=True, stable=True)
    sorted_boxes = torch.gather(boxes, 1, order[..., None].expand_as(boxes))
    over = pairwise_iou(sorted_boxes) > iou_threshold
    n = boxes.shape[1]
    keep_sorted = torch.zeros(scores.shape, dtype=torch.bool, device=boxes.device)
    suppressed = torch.zeros_like(keep_sorted)
    later = torch.ones(n, n, dtype=torch.bool, device=boxes.device).triu(1)
    for i in range(n):
        k = ~suppressed[:, i]
        keep_sorted[:, i] = k
        suppressed |= over[:, i, :] & later[i] & k[:, None]
    keep = torch.empty_like(keep_sorted)
    keep.scatter_(1, order, keep_sorted)
    return keep
