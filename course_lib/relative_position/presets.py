"""Scale presets of the relative-position series (smoke: CI; course: the paper's headline effect on a CPU;
full: closer to paper scale, meant for a GPU).

``expected_seconds`` = runtime of the heaviest notebook (2_experiments) at that scale with one torch thread,
measured as CPU time on the shared 2-core course machine (smoke ≈ 28 s, course ≈ 500 s); the full value is an
estimate for one GPU, not a measurement."""
from __future__ import annotations

import dataclasses

from course_lib.scale import Preset


@dataclasses.dataclass(frozen=True, kw_only=True)
class RelPosPreset(Preset):
    """Every knob the notebooks and ``claims.run`` read."""

    # synthetic length split
    steps: int                       # training steps per variant of the headline experiment
    eval_sequences: int              # sequences per evaluation length
    variants: tuple[str, ...]        # keys of synthetic.VARIANTS trained in the headline experiment
    ablation_ks: tuple[int, ...]     # clipping distances of the k ablation
    ablation_steps: int              # steps per ablation model
    kv_ablation: bool                # also train keys-only / values-only
    harder_steps: int                # steps for the sum_mod task (0 = skip)
    far_offset_ks: tuple[int, ...]   # k values on the far_offset task (clipping trade-off), () = skip
    # Multi30k
    mt_train_limit: int | None       # training pairs kept (None = all pairs with <= 12 source words)
    mt_eval_limit: int | None        # test_2016 / long-pool sentences decoded (None = all)
    mt_steps: int                    # training steps per position scheme
    mt_vocab: int                    # sentencepiece BPE vocabulary per language
    mt_d_model: int
    mt_layers: int
    mt_beam_sentences: int           # sentences decoded with beam 4 as well as greedy
    # efficiency
    bench_ns: tuple[int, ...]
    bench_rounds: int
    memory_ns: tuple[int, ...]


PRESETS = {
    "smoke": RelPosPreset(
        expected_seconds=30.0, steps=300, eval_sequences=256,
        variants=("relative (k=8)", "absolute sinusoidal", "learned absolute", "k = 0 (no positions)"),
        ablation_ks=(), ablation_steps=0, kv_ablation=False, harder_steps=0, far_offset_ks=(),
        mt_train_limit=3000, mt_eval_limit=40, mt_steps=60, mt_vocab=1000, mt_d_model=64, mt_layers=1,
        mt_beam_sentences=8, bench_ns=(64, 256), bench_rounds=3, memory_ns=(16, 32, 64)),
    "course": RelPosPreset(
        expected_seconds=500.0, steps=1500, eval_sequences=512,
        variants=("relative (k=8)", "absolute sinusoidal", "learned absolute", "k = 0 (no positions)"),
        ablation_ks=(0, 1, 2, 3, 4, 8, 16), ablation_steps=600, kv_ablation=True, harder_steps=1000,
        far_offset_ks=(12, 13), mt_train_limit=None, mt_eval_limit=None, mt_steps=1000, mt_vocab=2000,
        mt_d_model=128, mt_layers=2, mt_beam_sentences=200, bench_ns=(64, 256, 1024), bench_rounds=10,
        memory_ns=(16, 32, 64, 128)),
    "full": RelPosPreset(
        expected_seconds=3600.0, steps=3000, eval_sequences=2048,
        variants=("relative (k=8)", "absolute sinusoidal", "learned absolute", "k = 0 (no positions)"),
        ablation_ks=(0, 1, 2, 3, 4, 8, 16, 64), ablation_steps=1500, kv_ablation=True, harder_steps=3000,
        far_offset_ks=(8, 12, 13, 16), mt_train_limit=None, mt_eval_limit=None, mt_steps=20000, mt_vocab=8000,
        mt_d_model=256, mt_layers=3, mt_beam_sentences=1000, bench_ns=(64, 256, 1024), bench_rounds=20,
        memory_ns=(16, 32, 64, 128, 256)),
}
