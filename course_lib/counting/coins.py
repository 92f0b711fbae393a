"""Real-image bridge: count coins in random crops of scikit-image's bundled ``coins`` image from simulated
detector proposals ("feed detection probabilities as the attention", the author's advice in vqa-counting#2).

1. :func:`coin_boxes` — exact object boxes: local threshold, hole filling, connected components.
2. :class:`CoinsCountingDataset` — per example, a simulated detector run (every coin found once, plus jittered
   duplicate proposals with lower scores and false boxes with low scores), a random crop, and the ground-truth
   count = coins whose centre lies in the crop. Proposals are clipped to the crop, rescaled to [0, 1] and the
   top n by score are kept, so the batches look exactly like the toy task's. All of it is vectorised in torch.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from course_lib.checks import as_int
from course_lib.counting.boxes import pairwise_iou
from course_lib.counting.toy import CountingBatch

REGIONS = {"left": (0, 192), "right": (192, 384), "all": (0, 384)}  # x-ranges of the 303 × 384 image


def coins_image() -> np.ndarray:
    """The bundled ``skimage.data.coins()`` image (303 × 384, uint8; no download)."""
    from skimage import data

    return data.coins()


@functools.lru_cache(maxsize=1)
def _coin_boxes_cached() -> tuple[tuple[float, float, float, float], ...]:
    from scipy import ndimage as ndi
    from skimage import filters, measure

    image = coins_image()
    mask = image > filters.threshold_local(image, 101, offset=-10)
    mask = ndi.binary_closing(mask, structure=np.ones((7, 7)))
    mask = ndi.binary_fill_holes(mask)
    mask = ndi.binary_opening(mask, structure=np.ones((11, 11)))
    props = [p for p in measure.regionprops(measure.label(mask)) if p.area >= 500]
    boxes = [(float(p.bbox[1]), float(p.bbox[0]), float(p.bbox[3]), float(p.bbox[2])) for p in props]
    return tuple(sorted(boxes, key=lambda b: (round(b[1] / 60), b[0])))


def coin_boxes() -> torch.Tensor:
    """Boxes (x1, y1, x2, y2) in pixels of the coins found by thresholding + connected components → (24, 4).
    """
    return torch.tensor(_coin_boxes_cached(), dtype=torch.float32)


class CoinsCountingDataset:
    """Counting coins in random crops from simulated detector proposals (same ``batch`` API as the toy task).

    Per example and coin: one primary detection (jitter ``0.05``·size, score s ~ U(0.6, 1)), and
    ``duplicates`` extra proposals, each present with probability ``p_duplicate``, jittered by ``jitter``·size
    with score s · √IoU(proposal, coin) · U(0.8, 1) (as high as the primary when the overlap is large); plus
    ``false_boxes`` boxes of coin size anywhere with score U(0, 0.5). Crops are (w, h) ~ U(crop_range)² inside
    the x-range of ``region`` ("left" for training, "right" for testing: disjoint coins). The true count is
    clamped to n (the counter only sees the top n proposals).
    """

    def __init__(
        self,
        n: int = 10,
        region: str = "left",
        crop_range: tuple[int, int] = (60, 180),
        duplicates: int = 3,
        p_duplicate: float = 0.5,
        jitter: float = 0.2,
        false_boxes: int = 12,
        seed: int = 0,
    ):
        if region not in REGIONS:
            raise ValueError(f"region must be one of {tuple(REGIONS)}, got {region!r}")
        lo, hi = crop_range
        if not 8 <= lo <= hi <= 192:
            raise ValueError(f"crop_range must satisfy 8 <= lo <= hi <= 192, got {crop_range}")
        if not 0.0 <= p_duplicate <= 1.0 or jitter < 0 or duplicates < 0 or false_boxes < 0:
            raise ValueError("need 0 <= p_duplicate <= 1 and non-negative jitter, duplicates, false_boxes")
        self.n, self.region, self.crop_range = n, region, crop_range
        self.duplicates, self.p_duplicate, self.jitter, self.false_boxes = (
            duplicates,
            p_duplicate,
            jitter,
            false_boxes,
        )
        self.coins = coin_boxes()
        self.height, self.width = coins_image().shape
        self.generator = torch.Generator().manual_seed(seed)

    def _jittered(self, B: int, copies: int, scale: float) -> torch.Tensor:
        g, coins = self.generator, self.coins
        size = (coins[:, 2:] - coins[:, :2]).repeat(1, 2)  # (K, 4): w, h, w, h
        noise = torch.randn(B, copies, coins.shape[0], 4, generator=g) * scale
        return coins + noise * size

    def detections(self, B: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A simulated detector run on the whole image: boxes (B, m, 4) in pixels and scores (B, m)."""
        g, K = self.generator, self.coins.shape[0]
        primary = self._jittered(B, 1, 0.05).reshape(B, K, 4)
        primary_score = 0.6 + 0.4 * torch.rand(B, K, generator=g)
        parts, scores = [primary], [primary_score]
        if self.duplicates:
            dup = self._jittered(B, self.duplicates, self.jitter).reshape(B, self.duplicates * K, 4)
            coin_of = self.coins.repeat(self.duplicates, 1)
            # a jittered copy can come out inverted (x2 < x1; all boxes are ordered at the end): it overlaps
            # nothing, so its IoU with its coin is 0
            inverted = (dup[..., 2:] < dup[..., :2]).any(-1)
            lo, hi = torch.minimum(dup[..., :2], dup[..., 2:]), torch.maximum(dup[..., :2], dup[..., 2:])
            ordered = torch.cat([lo, hi], -1)
            iou = pairwise_iou(ordered[:, :, None, :], coin_of[None, :, None, :])[..., 0, 0].masked_fill(inverted, 0.0)
            present = torch.rand(B, self.duplicates * K, generator=g) < self.p_duplicate
            parent = primary_score.repeat(1, self.duplicates)
            factor = iou.clamp_min(0).sqrt() * (0.8 + 0.2 * torch.rand(B, self.duplicates * K, generator=g))
            parts.append(dup)
            scores.append(parent * factor * present)
        if self.false_boxes:
            size = self.coins[:, 2:] - self.coins[:, :2]
            wh = size[torch.randint(0, K, (B, self.false_boxes), generator=g)]
            xy = (
                torch.rand(B, self.false_boxes, 2, generator=g) * torch.tensor([self.width, self.height])
                - wh / 2
            )
            parts.append(torch.cat([xy, xy + wh], dim=-1))
            scores.append(0.5 * torch.rand(B, self.false_boxes, generator=g))
        boxes = torch.cat(parts, dim=1)
        boxes = torch.cat(
            [torch.minimum(boxes[..., :2], boxes[..., 2:]), torch.maximum(boxes[..., :2], boxes[..., 2:])], -1
        )
        return boxes, torch.cat(scores, dim=1)

    def crops(self, B: int) -> torch.Tensor:
        """Random crops (B, 4) in pixels inside the region's x-range."""
        g = self.generator
        lo, hi = self.crop_range
        x0, x1 = REGIONS[self.region]
        wh = lo + (hi - lo) * torch.rand(B, 2, generator=g)
        wh[:, 0] = wh[:, 0].clamp(max=x1 - x0)
        wh[:, 1] = wh[:, 1].clamp(max=self.height)
        x = x0 + torch.rand(B, generator=g) * (x1 - x0 - wh[:, 0])
        y = torch.rand(B, generator=g) * (self.height - wh[:, 1])
        return torch.stack([x, y, x + wh[:, 0], y + wh[:, 1]], dim=-1)

    def batch(self, batch_size: int, return_crops: bool = False):
        """``batch_size`` examples as a :class:`CountingBatch` in crop coordinates (and the crops if asked).
        """
        batch_size = as_int("batch_size", batch_size, minimum=1)
        boxes, scores = self.detections(batch_size)
        crop = self.crops(batch_size)
        origin, extent = crop[:, None, :2], crop[:, None, 2:] - crop[:, None, :2]
        centre = (boxes[..., :2] + boxes[..., 2:]) / 2
        inside = ((centre >= crop[:, None, :2]) & (centre < crop[:, None, 2:])).all(-1)
        scores = torch.where(inside, scores, torch.full_like(scores, -1.0))
        top, idx = scores.topk(self.n, dim=1)
        boxes = torch.gather(boxes, 1, idx[..., None].expand(-1, -1, 4))
        local = ((boxes - origin.repeat(1, 1, 2)) / extent.repeat(1, 1, 2)).clamp(0.0, 1.0)
        coin_centre = (self.coins[:, :2] + self.coins[:, 2:]) / 2
        in_crop = ((coin_centre[None] >= crop[:, None, :2]) & (coin_centre[None] < crop[:, None, 2:])).all(-1)
        count = in_crop.sum(dim=1).clamp(max=self.n)
        batch = CountingBatch(local, top.clamp_min(0.0), count)
        return (batch, crop) if return_crops else batch
