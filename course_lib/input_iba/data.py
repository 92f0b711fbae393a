"""Cluttered digits: a synthetic attribution task with a ground-truth mask, built offline from scikit-learn's digits.

Each 32×32 canvas holds background noise U(0, ``noise``), ``clutter`` 6×6 fragments of digits of *other* classes
and one target digit (the 8×8 scikit-learn digit upsampled to 16×16) pasted at a random place with max-blending.
The label is the target digit's class; the ground-truth mask is the target digit's pixels (> 0.25 before
blending). Images are returned normalised, (x − 0.3) / 0.3, so 0 is the normalised mean grey level.

The 1 797 scikit-learn digits are split once (seeded) into a train pool and a test pool, so test canvases never
reuse a training digit. Everything is deterministic given ``seed`` and runs in well under a second.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from course_lib.checks import as_int

#: Normalisation of the canvases: x_norm = (x − MEAN) / STD.
MEAN, STD = 0.3, 0.3
#: The ground-truth mask threshold on the upsampled target digit (grey level in [0, 1]).
MASK_THRESHOLD = 0.25
#: Side of the upsampled target digit and of a clutter fragment.
DIGIT_SIZE, FRAGMENT_SIZE = 16, 6
#: Share of the scikit-learn digits kept for the test pool (split with a fixed seed).
TEST_POOL = 0.2


@dataclass(frozen=True)
class ClutteredDigits:
    """A batch of canvases: ``images`` (n, 1, size, size) float32, normalised; ``labels`` (n,) int64 in 0..9;
    ``masks`` (n, size, size) bool (the target digit's pixels); ``boxes`` (n, 4) int64 (row, col, row_end,
    col_end) of the pasted digit; ``noise`` the background noise level (its mean, normalised, is
    :attr:`background`)."""

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor
    boxes: torch.Tensor
    noise: float

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def background(self) -> float:
        """The normalised mean background value, (noise / 2 − MEAN) / STD: the neutral value for deletion."""
        return (self.noise / 2 - MEAN) / STD

    def subset(self, index) -> ClutteredDigits:
        """The canvases at ``index`` (a slice, an index list or a bool mask)."""
        index = torch.as_tensor(index) if not isinstance(index, slice) else index
        return ClutteredDigits(self.images[index], self.labels[index], self.masks[index], self.boxes[index],
                               self.noise)


def normalize(x: torch.Tensor | np.ndarray):
    """Grey levels in [0, 1] → network input: (x − MEAN) / STD."""
    return (x - MEAN) / STD


def denormalize(x: torch.Tensor | np.ndarray):
    """Network input → grey levels in [0, 1]: x · STD + MEAN (for display)."""
    return x * STD + MEAN


@lru_cache(maxsize=1)
def _digit_pools() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's digits upsampled to 16×16 (bilinear, grey levels in [0, 1]), split into train/test pools."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
    big = F.interpolate(small, size=(DIGIT_SIZE, DIGIT_SIZE), mode="bilinear", align_corners=False)[:, 0]
    big = big.clamp(0, 1).numpy()
    order = np.random.default_rng(1234).permutation(len(big))
    n_test = int(round(TEST_POOL * len(big)))
    test, train = order[:n_test], order[n_test:]
    return big[train], digits.target[train], big[test], digits.target[test]


def cluttered_digits(n: int, *, size: int = 32, clutter: int = 3, noise: float = 0.3, split: str = "train",
                     seed: int = 0) -> ClutteredDigits:
    """``n`` cluttered-digit canvases from the ``split`` ("train" or "test") pool; deterministic given ``seed``.

    Canvas: U(0, ``noise``) background; ``clutter`` 6×6 crops of digits of other classes at random places; the
    16×16 target digit at a random place; all pasted with max-blending. Mask = target pixels > 0.25.
    """
    n = as_int("n", n, minimum=1)
    size = as_int("size", size, minimum=DIGIT_SIZE)
    clutter = as_int("clutter", clutter, minimum=0)
    seed = as_int("seed", seed)
    if not 0 <= float(noise) <= 1:
        raise ValueError(f"noise must be a grey level in [0, 1], got {noise!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    train_x, train_y, test_x, test_y = _digit_pools()
    pool_x, pool_y = (train_x, train_y) if split == "train" else (test_x, test_y)
    rng = np.random.default_rng(seed)
    canvas = rng.uniform(0.0, float(noise), size=(n, size, size)).astype(np.float32)
    masks = np.zeros((n, size, size), dtype=bool)
    target = rng.integers(0, len(pool_x), size=n)
    rows = rng.integers(0, size - DIGIT_SIZE + 1, size=n)
    cols = rng.integers(0, size - DIGIT_SIZE + 1, size=n)
    labels = pool_y[target]
    by_class = [np.flatnonzero(pool_y != c) for c in range(10)]  # candidates for clutter: other classes
    for i in range(n):
        for _ in range(clutter):
            other = pool_x[rng.choice(by_class[labels[i]])]
            r0, c0 = rng.integers(0, DIGIT_SIZE - FRAGMENT_SIZE + 1, size=2)
            r, c = rng.integers(0, size - FRAGMENT_SIZE + 1, size=2)
            patch = canvas[i, r:r + FRAGMENT_SIZE, c:c + FRAGMENT_SIZE]
            np.maximum(patch, other[r0:r0 + FRAGMENT_SIZE, c0:c0 + FRAGMENT_SIZE], out=patch)
        digit = pool_x[target[i]]
        r, c = rows[i], cols[i]
        patch = canvas[i, r:r + DIGIT_SIZE, c:c + DIGIT_SIZE]
        np.maximum(patch, digit, out=patch)
        masks[i, r:r + DIGIT_SIZE, c:c + DIGIT_SIZE] = digit > MASK_THRESHOLD
    boxes = np.stack([rows, cols, rows + DIGIT_SIZE, cols + DIGIT_SIZE], axis=1)
    return ClutteredDigits(images=torch.from_numpy(normalize(canvas))[:, None].contiguous(),
                           labels=torch.from_numpy(labels.astype(np.int64)), masks=torch.from_numpy(masks),
                           boxes=torch.from_numpy(boxes.astype(np.int64)), noise=float(noise))
