"""Scale presets of the LIM-Net series (``COURSE_SCALE`` = smoke | course | full).

smoke: held-out synthetic 64x64 volumes, 3 rounds, the cached course weights; the training loops run a few
       iterations on a fresh model only to exercise the code. Each notebook < 60 s on one core.
course: 96x96 slices of the real CT/MR, weights from the cached checkpoint (``data/lim_net/``), 6 rounds.
full: the same protocol, trained from scratch with longer schedules (GPU recommended); not calibrated here.
"""
from __future__ import annotations

import dataclasses

from course_lib import Preset


@dataclasses.dataclass(frozen=True, kw_only=True)
class LimNetPreset(Preset):
    """Training and evaluation sizes; ``train_seconds`` is the measured training time on one CPU core."""

    size: int                      # in-plane slice size (pixels) after resizing
    synthetic_shape: tuple[int, int, int]
    n_synthetic: int               # synthetic training volumes (3 blobs each)
    use_real: bool                 # train on CT bones/muscles and evaluate on test A/B
    use_checkpoint: bool           # load data/lim_net/lim_net_course.pt instead of training
    demo_iters: int = 0            # smoke: iterations of the training-loop check on a fresh model
    click_base: int = 16
    click_iters: int
    memory_iters: int
    quality_iters: int
    unet_iters: int
    batch: int = 8
    crop: int = 64
    quality_rounds: int = 4
    quality_volumes: int = 4
    quality_ct_stride: int = 2
    unet_base: int = 8
    unet_batch: int = 2
    unet_patch: tuple[int, int, int] = (32, 64, 64)
    n_rounds: int = 6
    n_test_synthetic: int = 1      # held-out synthetic volumes (seeds 9000+)
    max_targets: int = 100         # cap on test targets per test set
    train_seconds: float = 0.0


PRESETS = {
    "smoke": LimNetPreset(expected_seconds=40.0, size=64, synthetic_shape=(24, 64, 64), n_synthetic=2,
                          use_real=False, use_checkpoint=True, demo_iters=8, click_base=8, click_iters=0,
                          memory_iters=0, quality_iters=0, unet_iters=0, batch=2, crop=32, quality_rounds=1,
                          quality_volumes=1, unet_base=4, unet_batch=1, unet_patch=(8, 32, 32), n_rounds=3),
    "course": LimNetPreset(expected_seconds=420.0, size=96, synthetic_shape=(40, 96, 96), n_synthetic=12,
                           use_real=True, use_checkpoint=True, click_iters=2500, memory_iters=2000,
                           quality_iters=1500, unet_iters=1000, quality_rounds=6, n_rounds=6,
                           train_seconds=2400.0),
    "full": LimNetPreset(expected_seconds=1800.0, size=96, synthetic_shape=(48, 96, 96), n_synthetic=40,
                         use_real=True, use_checkpoint=False, click_iters=20000, memory_iters=20000,
                         quality_iters=10000, unet_iters=8000, batch=16, crop=96, quality_rounds=6,
                         quality_volumes=12, quality_ct_stride=1, unet_base=16, unet_batch=4,
                         unet_patch=(32, 96, 96), n_rounds=6, train_seconds=0.0),
}
