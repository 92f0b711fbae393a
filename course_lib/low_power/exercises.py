"""Self-check exercises of the low-power series (``low_power.<n>``), one marked section per notebook.

Notebook k's exercises live in the section ``# --- k ... ---`` below and are numbered ``low_power.<k><j>``
(e.g. ``low_power.11`` is notebook 1's first exercise, ``low_power.61`` notebook 6's). Each section ends with its
own ``register(...)`` call so that its authors can add checkers by small edits. Answers are recomputed by the
checkers from the library (or from the committed caches), never stored; build-it exercises refuse functions that
use ``course_lib`` (:func:`course_lib.exercises.build_checker`).
Solutions: ``notebooks/solutions/06_low_power_solutions.ipynb``.
"""
from __future__ import annotations

from course_lib.exercises import Exercise, build_checker, close_to, close_to_computed, register  # noqa: F401

# --- 1 quantization ---

register(
    Exercise("low_power.11", "A layer holds 10,000 float32 weights. How many bytes do they take once stored as int8 "
             "with one float32 scale per tensor (weights + scale, no zero-point)?",
             close_to(10_000 * 1 + 4, 0),
             hint="one byte per int8 weight, plus the bytes of one float32 number.",
             hint2="numel × bits / 8 for the weights, plus 4 bytes for the scale."),
)

# --- 2 pruning ---

# --- 3 compact filters ---

register(
    Exercise("low_power.31", "A 3×3 convolution with C_in = 32 and C_out = 64 is replaced by a depthwise 3×3 + "
             "pointwise 1×1 pair. By what factor do the MACs shrink (standard / separable, to 3 decimals)?",
             close_to(1.0 / (1.0 / 64 + 1.0 / 9), 1e-3),
             hint="the ratio separable / standard is 1/C_out + 1/K² (MobileNets).",
             hint2="invert 1/64 + 1/9."),
)

# --- 4 NAS ---

# --- 5 distillation ---

# --- 6 pareto ---

# --- 7 interactive ---
