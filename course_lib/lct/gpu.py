"""GPU-check hook (``make gpu-check``, :mod:`course_lib.gpu_check`). The LCT tracker is numpy-only (its filters are
learned online, per frame, with FFTs on the CPU), so the check runs it on the CPU and says so: the full tracker and
plain KCF over the synthetic occlusion sequence, and a fixed correlation-filter response for the determinism check."""
from __future__ import annotations

import numpy as np
import torch

from course_lib.lct import kcf, metrics
from course_lib.lct.sequences import synthetic_occlusion_sequence
from course_lib.lct.tracker import LADDER, run_tracker

#: No accelerator path: the check runs this paper on the CPU.
DEVICES = ("cpu",)


def smoke(device: torch.device, *, amp: bool) -> dict[str, float]:
    """LCT and KCF over the 100-frame synthetic occlusion sequence (online learning = training; tracking =
    inference); precision at 20 px and frames to recover after the occlusion."""
    seq = synthetic_occlusion_sequence(100)
    out = {}
    for name in ("LCT", "KCF"):
        res = run_tracker(LADDER[name], seq.frames, seq.init_box)
        out[f"{name} P@20"] = metrics.ope_summary(res.boxes, seq.boxes)["P@20"]
    return out


def fixed_forward(device: torch.device) -> torch.Tensor:
    """Gaussian-kernel KCF response (KCF Eqs. 17 and 22) of a fixed random patch to a shifted copy of it."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 32, 4))
    z = np.roll(x, (3, -2), axis=(0, 1))
    shape = x.shape[:2]
    xf, zf = kcf.fft2(x), kcf.fft2(z)
    y = np.exp(-0.5 * (np.arange(32)[:, None] ** 2 + np.arange(32)[None] ** 2) / 4.0)
    alphaf = kcf.train_filter(xf, kcf.fft2(y), shape)
    return torch.from_numpy(np.ascontiguousarray(kcf.detect(alphaf, xf, zf, shape))).to(device)
