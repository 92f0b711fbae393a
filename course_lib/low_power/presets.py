"""Scale presets of the low-power series (``COURSE_SCALE`` = smoke | course | full).

Quantisation and pruning start from the cached baselines (``data/low_power/``, three seeds of the digits CNN:
30 epochs of Adam 3e-3); PTQ and the pruning masks are cheap, so every scale measures all three seeds; the runs
that train (QAT, fine-tuning) use ``train_seeds``.
"""
from __future__ import annotations

import dataclasses

from course_lib import Preset


@dataclasses.dataclass(frozen=True, kw_only=True)
class LowPowerPreset(Preset):
    """What the notebooks run at one scale."""

    model: str = "digits_cnn"               # cached baseline the techniques start from
    seeds: tuple[int, ...] = (0, 1, 2)      # baselines quantised / pruned (no training)
    train_seeds: tuple[int, ...] = (0,)     # seeds of the runs that train (QAT, fine-tuning)
    calib_samples: int = 256                # PTQ calibration images (training set)
    weight_bits: tuple[int, ...] = (8, 4, 3, 2)   # weight-only PTQ sweep
    qat_bits: tuple[int, ...] = (2,)
    qat_epochs: int = 10
    qat_lr: float = 1e-3
    sparsities: tuple[float, ...] = (0.5, 0.8)
    finetune_epochs: int = 5
    finetune_lr: float = 1e-3
    structured_ratio: float = 0.5
    gradual_epochs: int = 0                 # 0 = skip the gradual-schedule run
    latency_repeats: int = 100
    mnist_check: bool = True                # PTQ int8 of the MNIST t10k CNN (registry data)
    # --- factorization / NAS / distillation ---
    # (H4 adds its fields here)


PRESETS = {
    # smoke: PTQ and masks on three cached baselines, QAT int2 and fine-tuning on one seed.
    "smoke": LowPowerPreset(expected_seconds=30.0),
    # course: the same on three training seeds, the QAT sweep int4/int3/int2, 90 % sparsity and the gradual
    # schedule added.
    "course": LowPowerPreset(expected_seconds=120.0, train_seeds=(0, 1, 2), qat_bits=(4, 3, 2),
                             sparsities=(0.5, 0.8, 0.9), gradual_epochs=10, latency_repeats=300),
    # full: as course (the series' models are CPU-sized; a GPU adds nothing to the int8 CPU kernels).
    "full": LowPowerPreset(expected_seconds=120.0, train_seeds=(0, 1, 2), qat_bits=(4, 3, 2),
                           sparsities=(0.5, 0.8, 0.9), gradual_epochs=10, latency_repeats=300),
}
