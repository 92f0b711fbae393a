"""Scale presets of the OTE series (``COURSE_SCALE`` = smoke | course | full).

All scales use one recipe: self-adversarial loss (α = 1), uniform filtered
negatives, Adam, γ = 6, equal real width per entity (TransE d, RotatE d/2 complex, OTE d with groups of k = 4).
"""
from __future__ import annotations

import dataclasses

from course_lib import Preset


@dataclasses.dataclass(frozen=True, kw_only=True)
class OTEPreset(Preset):
    """What the notebooks run at one scale."""

    dataset: str                     # the main comparison's knowledge graph
    models: tuple[str, ...]          # models of the main comparison
    seeds: tuple[int, ...]
    steps: int
    batch_size: int = 256
    num_negatives: int = 64
    lr: float = 2e-3
    gamma: float = 6.0
    adversarial_temperature: float = 1.0
    width: int = 200                 # real numbers per entity (RotatE: width / 2 complex)
    group_size: int = 4              # OTE's k
    eval_subset: int | None = None   # fixed test subset (None = the whole test split)
    gc_steps: int = 0                # GC-OTE fine-tuning steps after OTE (0 = skip)
    gc_lr: float = 5e-4
    cached: str | None = None        # data/ote cache holding this scale's results (notebooks read it)


PRESETS = {
    # smoke: UMLS, one seed, 500 steps of 128 positives × 32 negatives at width 100 (≈ 5–8 CPU-seconds per
    # model); the course Kinships table is read from the committed cache instead of retrained. Measured: the
    # heaviest notebook (2_experiments) takes ≈ 29 CPU-seconds including the kernel start.
    "smoke": OTEPreset(expected_seconds=30.0, dataset="umls", models=("TransE", "RotatE", "OTE"), seeds=(0,),
                       steps=500, batch_size=128, num_negatives=32, width=100,
                       cached="kinships_course.json"),
    # course: Kinships, 1 500 steps, 3 seeds, TransE / RotatE / OTE at width 200, plus GC-OTE initialised from
    # each OTE (exploratory). Batches of 128 positives × 32 negatives (a quarter of the 256 × 64 calibration
    # recipe per step, so that the three seeds fit a shared 2-core CPU); ≈ 90 CPU-seconds per seed (estimated
    # from per-step timings). The notebooks read the committed cache; expected_seconds is an estimate for
    # 3_interactive (OTE on UMLS, 1 500 steps at width 200); recomputing the cache adds ≈ 5 CPU-minutes.
    "course": OTEPreset(expected_seconds=90.0, dataset="kinships", models=("TransE", "RotatE", "OTE"),
                        seeds=(0, 1, 2), steps=1500, batch_size=128, num_negatives=32, gc_steps=300,
                        cached="kinships_course.json"),
    # full: the official README recipe (FB15k-237) with fewer steps, for a GPU; FB15k-237 with a 1 000-triple subset
    # evaluation on CPU would take minutes, so full evaluates the whole test split (GPU).
    "full": OTEPreset(expected_seconds=3600.0, dataset="fb15k-237", models=("RotatE", "OTE"), seeds=(0,),
                      steps=50_000, batch_size=500, num_negatives=256, lr=2e-3, gamma=15.0,
                      adversarial_temperature=0.5, width=400, group_size=20, gc_steps=20_000, gc_lr=2e-4),
}
