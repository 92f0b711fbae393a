"""Scale presets of the low-power series (``COURSE_SCALE`` = smoke | course | full).

Quantisation and pruning start from the cached baselines (``data/low_power/``, three seeds of the digits CNN:
30 epochs of Adam 3e-3); PTQ and the pruning masks are cheap, so every scale measures all three seeds; the runs
that train (QAT, fine-tuning) use ``train_seeds``.
"""
from __future__ import annotations

import dataclasses

from course_lib import Preset
from course_lib.low_power.distillation import KDRecipe


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
    latency_repeats: int = 50
    mnist_check: bool = True                # PTQ int8 of the MNIST t10k CNN (registry data)
    torchao_peer: bool = True               # torchao int8 beside torch.ao (its import takes seconds)
    # --- factorization / NAS / distillation ---
    separable_epochs: int = 5               # fine-tuning after the SVD-initialised depthwise-separable swap
    svd_ranks: tuple[int, ...] = (32, 16, 8, 4)   # ranks of the digits CNN's FC 512→64, without fine-tuning
    svd_energy: float = 0.9                 # spectral energy kept by the fine-tuned factorisation
    svd_finetune_epochs: int = 3
    nas_budget: int = 25_000                # MACs per sample: a hard constraint
    nas_evaluations: int = 20               # per search, the same for random search and evolution
    nas_population: int = 8                 # regularised evolution (Real et al. 2019): population, tournament
    nas_sample: int = 3
    nas_seeds: tuple[int, ...] = (0, 1, 2)
    nas_more_seeds: int = 100               # searches on the table are look-ups: their spread over many seeds
    nas_live_archs: int = 2                 # architectures the notebook trains live, for nas_live_epochs
    nas_live_epochs: int = 1
    kd_seeds: tuple[int, ...] = (0, 1, 2)
    kd_per_class: int = 10                  # labelled digits per class in the transfer-set experiment
    kd_label_only: KDRecipe = KDRecipe(epochs=200, batch_size=20)
    kd_transfer: KDRecipe = KDRecipe(epochs=60, temperature=4.0, alpha=0.5)
    kd_full_ce: KDRecipe = KDRecipe(epochs=60)          # the digits_mlp baseline's recipe
    kd_full_label: tuple[tuple[str, KDRecipe], ...] = (
        ("kd_T4_a0.5", KDRecipe(epochs=60, temperature=4.0, alpha=0.5)),
        ("kd_T2_a0.5", KDRecipe(epochs=60, temperature=2.0, alpha=0.5)),
        ("kd_T4_a0.9", KDRecipe(epochs=60, temperature=4.0, alpha=0.9)))
    kd_mnist1d_ce: KDRecipe = KDRecipe(epochs=100, lr=1e-3, batch_size=100)
    kd_mnist1d: KDRecipe = KDRecipe(epochs=100, lr=1e-3, batch_size=100, temperature=4.0, alpha=0.5)
    kd_recompute: bool = False              # False: read data/low_power/kd_results.json (the committed course run)


PRESETS = {
    # smoke: PTQ and masks on three cached baselines, QAT int2 and fine-tuning on one seed. Measured: notebook 1
    # (the heavier of 1-2) 54-59 s wall on the shared 2-core VM at load 17-20 (≈ 13 s of CPU time).
    "smoke": LowPowerPreset(expected_seconds=55.0, torchao_peer=False),
    # course: the same on three training seeds, the QAT sweep int4/int3/int2, 90 % sparsity and the gradual
    # schedule added. Measured: notebook 1 141 s, notebook 2 125 s (papermill, same loaded VM).
    "course": LowPowerPreset(expected_seconds=140.0, train_seeds=(0, 1, 2), qat_bits=(4, 3, 2),
                             sparsities=(0.5, 0.8, 0.9), gradual_epochs=10, latency_repeats=300),
    # full: as course (the series' models are CPU-sized; a GPU adds nothing to the int8 CPU kernels).
    "full": LowPowerPreset(expected_seconds=120.0, train_seeds=(0, 1, 2), qat_bits=(4, 3, 2),
                           sparsities=(0.5, 0.8, 0.9), gradual_epochs=10, latency_repeats=300),
}
