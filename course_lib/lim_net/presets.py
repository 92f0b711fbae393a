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


def deviations_markdown(preset: LimNetPreset, model=None, cfg=None) -> str:
    """The "Deviations from the paper" table, rendered from the preset, the model's configuration and the
    inference knobs (so every number in it is the one the code uses)."""
    from course_lib.lim_net.pipeline import InferenceConfig, LIMNet

    model = model if model is not None else LIMNet()
    cfg = cfg or InferenceConfig()
    cc, mc = model.click_net.config, model.memory_net.config
    n = model.param_counts()
    residual = "; the decoder corrects the neighbour's mask (residual, `models.MaskDecoder`)" if mc.get(
        "residual") else ""
    rows = [
        ("2D interaction module: HRNet click network, 5-channel input (paper Fig. 1, [inference])",
         f"U-Net, base {cc['base']}, {cc['levels']} levels, {n['click_net']:,} parameters, {cc['in_ch']} channels "
         "`[image, pos, neg, previous mask]` (`models.ClickUNet2D`)", "CPU scale; a grayscale slice needs one "
         "image channel"),
        ("click encoding [not retrieved]", f"{cfg.click_mode}s of radius {cfg.click_radius:g} px, "
         "`clicks.point_maps`", "workbook design choice (RITM-style)"),
        ("XMem memory: working + long-term + sensory memory, C_k 64, C_v 512, top-k 30 (XMem defaults)",
         f"permanent (interacted slices) + FIFO of {cfg.fifo_size} propagated slices (every {cfg.mem_every}), "
         f"C_k {mc['key_dim']}, C_v {mc['value_dim']}, top-k {cfg.top_k}; the previous slice's mask enters the "
         f"decoder instead of sensory memory{residual}", "short volumes fit in a FIFO; long-term memory has no "
         "parameters in XMem anyway"),
        ("XMem anisotropic L2 with shrinkage and selection", "plain negative squared L2 (STCN), Eq. 1",
         "simpler, same readout mechanism"),
        ("re-propagation at later rounds [not retrieved]",
         "bounded: from round 2 on, propagation stops at the neighbouring interacted slices; slices beyond them "
         f"keep the current result (`InferenceConfig.bounded = {cfg.bounded}`)",
         "MiVOS-style; a new click cannot damage slices on the far side of an earlier click"),
        ("MRF scorer: ResNet-50, target [not retrieved]", f"CNN of {n['quality_net']:,} parameters regressing "
         "per-slice Dice from `[image, mask, mask above, mask below]` + a pairwise ranking loss; the clicked "
         "slice is pinned to the new round", "CPU scale; workbook design choice"),
        ("training data, losses, schedules [not retrieved]",
         f"{preset.n_synthetic} synthetic volumes + CT bones/muscles of one volume, BCE + soft Dice, click "
         "simulation (`train.py`)", "zero-shot protocol: test organs and the MR volume are never trained on"),
        ("evaluation on KiTS19 / MSD with expert labels", f"TotalSegmentator example CT/MR, **pseudo-GT labels**, "
         f"{preset.size}x{preset.size} slices, z-crop to the organ +- 3 slices, {preset.n_rounds} rounds",
         "only data available offline"),
        ("user: one point per round", "the standard simulated user (worst slice, interior of the largest error "
         "region)", "the Mem3D protocol"),
    ]
    lines = ["| paper (what is known) | this workbook | why |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)
