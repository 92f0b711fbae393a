"""The paper's toy task as a vectorised batch generator (official ``toy/data.py``), plus small
scenes.

Each example: n proposals of side l at corners (x, y) ~ U(0, 1 − l)²; true count c ~ U{0, …, n}; the first c
boxes are the objects; each proposal's attention is its max IoU with a true box, then a ← (1 − q)·a + q·U(0,
1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import torch

from course_lib.checks import as_int
from course_lib.counting.boxes import pairwise_iou

MIN_SIDE = 1e-6  # the official generator uses max(l, 1e-6)


@dataclasses.dataclass(frozen=True)
class CountingBatch:
    """One batch of a counting task: boxes (B, n, 4), attention (B, n) in [0, 1], true count (B,) int64."""

    boxes: torch.Tensor
    attention: torch.Tensor
    count: torch.Tensor

    def to(self, device: torch.device | str) -> CountingBatch:
        """The same batch on ``device``."""
        return CountingBatch(self.boxes.to(device), self.attention.to(device), self.count.to(device))

    def __len__(self) -> int:
        return self.count.shape[0]


def _check_unit(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return value


def attention_from_true_boxes(boxes: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """a_i = max_{j < c} IoU(b_i, b_j) (0 when c = 0): true boxes get 1, overlapping distractors partial
    weight."""
    n = boxes.shape[1]
    is_true = torch.arange(n, device=boxes.device)[None, :] < count[:, None]
    return (pairwise_iou(boxes) * is_true[:, None, :]).amax(dim=-1)


class ToyCountingDataset:
    """Vectorised generator of the paper's toy task ``ToyCountingDataset(l, q, n=10, seed)``.

    ``batch(B)`` draws B fresh examples (an infinite stream, like the official 2³²-item dataset) from a
    private ``torch.Generator`` seeded with ``seed``, so two datasets with the same seed yield identical
    batches.
    """

    def __init__(self, l: float, q: float, n: int = 10, seed: int = 0, device: torch.device | str = "cpu"):
        self.l = _check_unit("l (box side)", l)
        self.q = _check_unit("q (noise)", q)
        n = as_int("n (proposals = max objects)", n, minimum=1)
        self.n, self.seed, self.device = n, seed, torch.device(device)
        self.side = max(self.l, MIN_SIDE)
        self.generator = torch.Generator().manual_seed(seed)

    def batch(self, batch_size: int, count: int | None = None) -> CountingBatch:
        """Draw ``batch_size`` examples; ``count`` fixes the true count (for scenes), otherwise c ~ U{0..n}.
        """
        batch_size = as_int("batch_size", batch_size, minimum=1)
        g, n = self.generator, self.n
        corner = torch.rand(batch_size, n, 2, generator=g) * (1 - self.side)
        boxes = torch.cat([corner, corner + self.side], dim=-1)
        c = torch.randint(0, n + 1, (batch_size,), generator=g)
        if count is not None:
            if not 0 <= count <= n:
                raise ValueError(f"count must lie in [0, {n}], got {count}")
            c = torch.full((batch_size,), int(count), dtype=torch.long)
        a = attention_from_true_boxes(boxes, c)
        a = (1 - self.q) * a + self.q * torch.rand(batch_size, n, generator=g)
        return CountingBatch(boxes, a, c).to(self.device)

    def batches(self, num: int, batch_size: int) -> Iterator[CountingBatch]:
        """``num`` consecutive batches."""
        for _ in range(num):
            yield self.batch(batch_size)

    def __repr__(self) -> str:
        return f"ToyCountingDataset(l={self.l}, q={self.q}, n={self.n}, seed={self.seed})"


def toy_scene(count: int, l: float, q: float, n: int = 10, seed: int = 0) -> CountingBatch:
    """One toy example with a fixed true count (the interactive notebook's scene)."""
    return ToyCountingDataset(l, q, n=n, seed=seed).batch(1, count=count)


def grid_boxes(n: int, fill: float = 0.8) -> torch.Tensor:
    """n pairwise non-overlapping boxes on a ⌈√n⌉ grid in the unit square → (n, 4)."""
    k = int(torch.ceil(torch.tensor(float(n)).sqrt()))
    cell = 1.0 / k
    i = torch.arange(n)
    x, y = (i % k).float() * cell, (i // k).float() * cell
    return torch.stack([x, y, x + fill * cell, y + fill * cell], dim=-1)


def duplicate_scene(k: int, m: int, n: int = 10, jitter: float = 0.0, seed: int = 0) -> CountingBatch:
    """k proposals of ONE object (exact duplicates, or shifted by up to ``jitter`` of the side) plus m other,
    separate objects, all with attention 1; the remaining n − k − m proposals are separate with attention 0.
    True count: 1 + m (0 if k = 0 and m = 0).
    """
    if k < 0 or m < 0 or k + m > n:
        raise ValueError(f"need k, m >= 0 and k + m <= n = {n}, got k={k}, m={m}")
    g = torch.Generator().manual_seed(seed)
    grid = grid_boxes(n - k + 1)  # slot 0 for the duplicated object, the rest for the others
    side = grid[0, 2] - grid[0, 0]
    dup = grid[:1].repeat(k, 1)
    if jitter > 0 and k > 1:
        shift = (torch.rand(k - 1, 2, generator=g) * 2 - 1) * jitter * side
        dup[1:] = dup[1:] + torch.cat([shift, shift], dim=-1)
    boxes = torch.cat([dup, grid[1:]], dim=0)
    attention = torch.zeros(n)
    attention[: k + m] = 1.0
    count = (1 if k > 0 else 0) + m
    return CountingBatch(boxes[None], attention[None], torch.tensor([count]))
