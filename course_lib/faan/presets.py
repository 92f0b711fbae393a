"""Scale presets of the FAAN series (``COURSE_SCALE`` = smoke | course | full), the paper's budgets (§2.3) reduced for
a CPU. ``expected_seconds``: the heaviest notebook (2_experiments) at that scale; smoke measured on the shared
2-core CPU, course = the committed run's wall time (notebook 2 reads its cache), full an estimate (GPU, not run)."""
from __future__ import annotations

import dataclasses

from course_lib.scale import Preset

VARIANTS = ("FAAN", "static neighbours", "mean references")


@dataclasses.dataclass(frozen=True, kw_only=True)
class FAANPreset(Preset):
    benchmark: str                      # "umls-one" | "fb15k-237-one"
    dim: int
    layers: int
    heads: int
    max_neighbors: int
    transe_steps: int
    transe_batch: int
    steps: int                          # meta-training episodes per run
    queries: int                        # queries per episode
    warmup: int
    lr: float
    shots: tuple[int, ...]
    seeds: tuple[int, ...]
    variants: tuple[str, ...] = VARIANTS
    max_queries: int | None = None      # evaluation queries per test task (None = all)


PRESETS = {
    "smoke": FAANPreset(expected_seconds=45, benchmark="umls-one", dim=32, layers=1, heads=1, max_neighbors=8,
                        transe_steps=100, transe_batch=128, steps=250, queries=32, warmup=25, lr=1e-3, shots=(3,),
                        seeds=(0,), variants=("FAAN",), max_queries=40),
    # course: sized for a contended 2-core CPU; the committed grid_course.json is this run (779 s wall in one niced
    # process; notebook 2 reads it in well under a minute instead of re-running it)
    "course": FAANPreset(expected_seconds=780, benchmark="fb15k-237-one", dim=32, layers=1, heads=2,
                         max_neighbors=16, transe_steps=300, transe_batch=256, steps=300, queries=16, warmup=30,
                         lr=1e-3, shots=(1, 3, 5), seeds=(0, 1, 2), variants=("FAAN", "static neighbours"),
                         max_queries=20),
    "full": FAANPreset(expected_seconds=3600, benchmark="fb15k-237-one", dim=100, layers=3, heads=4,
                       max_neighbors=50, transe_steps=20000, transe_batch=1024, steps=20000, queries=128,
                       warmup=1000, lr=5e-5, shots=(1, 3, 5), seeds=(0, 1, 2)),
}
