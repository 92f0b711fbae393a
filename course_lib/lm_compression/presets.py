"""Scale presets of the LM-compression series (``COURSE_SCALE`` = smoke | course | full).

Every scale keeps the method (student vocabulary, mixed sequences with a ramped p, two-softmax dual MLM, shared
projections, FVT, logit KD) and shrinks the models and the number of steps. The course scale was sized for a
shared, heavily loaded 2-core CPU (load average 12–15 during the runs); the notebooks read its committed results.
"""
from __future__ import annotations

import dataclasses

from course_lib import Preset


@dataclasses.dataclass(frozen=True, kw_only=True)
class LMPreset(Preset):
    """What one scale runs."""

    n_labelled: int                  # labelled SST-2 phrases (the low-label regime)
    n_transfer: int                  # unlabelled transfer phrases scored by teacher A's probe
    seeds: tuple[int, ...]
    arms: tuple[str, ...]
    student_layers: int = 2
    student_hidden: int = 128
    student_heads: int = 4
    student_ffn: int = 512
    student_vocab: int = 5000
    max_len: int = 64
    steps: int = 200                 # student steps (same for every arm)
    batch_size: int = 64
    lr: float = 1e-3
    temperature: float = 2.0         # KD temperature T (Hinton et al. 2015)
    alpha: float = 0.5               # KD weight α
    teacher_b_layers: int = 2
    teacher_b_hidden: int = 256
    teacher_b_ffn: int = 1024
    teacher_b_vocab: int = 8000
    teacher_b_steps: int = 200       # MLM pre-training steps of teacher B
    dual_steps: int = 200            # dual-training steps (mixed vocabulary, two softmaxes)
    teacher_b_batch: int = 32
    p_max: float = 0.5               # end of the linear ramp of the student-segmentation probability (ours)
    proj_lambda: float = 1.0         # λ of the shared-projection loss (ours)
    align_steps: int = 0             # teacher-A representation-level alignment steps (0 = arm not run)
    cached: str | None = None        # committed results the notebooks read


ARMS = ("scratch", "kd", "kd+fvt", "kd+dual", "kd+dual+proj")

PRESETS = {
    # smoke: a few steps of every piece with 1-layer models on 1,000 phrases (losses must decrease); the course
    # table is read from the committed results.
    "smoke": LMPreset(expected_seconds=30.0, n_labelled=200, n_transfer=800, seeds=(0,), arms=ARMS,
                      student_layers=1, student_hidden=64, student_heads=2, student_ffn=128, steps=40,
                      batch_size=32, teacher_b_layers=1, teacher_b_hidden=64, teacher_b_ffn=256,
                      teacher_b_steps=40, dual_steps=40, cached="course_results.json"),
    # course: 2k labelled + 18k transfer phrases, 3 seeds, 200 steps of 64 per arm (12,800 draws: 0.64 passes
    # over the 20k phrases; scratch: 6.4 passes over its 2k), 2-layer student and teacher B (equal depth for the
    # projection arm). Sized so that 3 seeds × 5 arms finished on the loaded shared CPU (each process got ≈ 5 %
    # of a core).
    "course": LMPreset(expected_seconds=60.0, n_labelled=2000, n_transfer=18000, seeds=(0, 1, 2), arms=ARMS,
                       cached="course_results.json"),
    # full (GPU): 4-layer student (Sec. 6.2 of this course), 4-layer teacher B, 5 seeds, longer schedules.
    "full": LMPreset(expected_seconds=1800.0, n_labelled=2000, n_transfer=18000, seeds=(0, 1, 2, 3, 4),
                     arms=ARMS + ("kd+dualA",), student_layers=4, teacher_b_layers=4, steps=2500,
                     teacher_b_steps=20000, dual_steps=10000, align_steps=2000),
}

# The paper's settings, for the deviations table (v1 = arXiv 1909.11687v1, v2 = v2 / EACL 2021).
PAPER = {
    "teacher": "BERT-BASE (v1) / BERT-LARGE (v2)",
    "student vocabulary": "WordPiece, 4,928 entries (v1 and v2)",
    "student depth": "12 layers, same as the teacher (v1); 6 and 12 layers (v2)",
    "student hidden": "48 shown in a v1 figure; other sizes in the paper's tables",
    "mixing probability and ramp": "ramped (patent claim 12); values not given",
    "projection loss weight": "not given",
    "pre-training data": "BERT's pre-training corpus",
}
