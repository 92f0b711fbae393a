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


def _front_inputs(rng) -> tuple:
    n = int(rng.integers(3, 15))
    costs = rng.integers(1, 8, n).astype(float)          # small integers: ties in cost and in accuracy happen
    accuracy = rng.integers(50, 58, n).astype(float)
    return costs, accuracy


def _front_reference(costs, accuracy):
    import pandas as pd

    from course_lib.cost import pareto_front

    front = pareto_front(pd.DataFrame({"cost": costs, "accuracy": accuracy}), "cost", "accuracy")
    return front.to_numpy().astype(float)   # 1.0 / 0.0: compared with the learner's booleans


def _course_table():
    from course_lib.low_power.pareto import load_cache

    return load_cache("course")[0]


def _int8_serialized_ratio() -> float:
    t = _course_table()
    return float(t.loc["fp32 base", "serialized_bytes"] / t.loc["PTQ int8 (real int8)", "serialized_bytes"])


def _fp32_energy() -> float:
    from course_lib.cost import ENERGY_PJ

    t = _course_table()
    pj = t.loc["fp32 base", "MACs"] * ENERGY_PJ["mac"]["fp32"] + t.loc["fp32 base", "analytic_bytes"] * \
        ENERGY_PJ["byte"]["dram"]
    return float(pj / 1e6)


register(
    Exercise("low_power.61", "Write pareto_mask(costs, accuracy) without course_lib: two 1-D numpy arrays of equal "
             "length; return a boolean array, True where no other point has cost <= and accuracy >= with at least "
             "one of the two strictly better (the Pareto front: low cost, high accuracy). Pass the function itself.",
             build_checker(_front_reference, _front_inputs, atol=0, name="pareto_mask"),
             hint="a point is dominated when some other point is no worse on both objectives and better on one; "
                  "equal points do not dominate each other.",
             hint2="compare every pair with broadcasting: no_worse = (c[None] <= c[:, None]) & (a[None] >= "
                   "a[:, None]); better = (c[None] < c[:, None]) | (a[None] > a[:, None]); "
                   "return ~(no_worse & better).any(1)."),
    Exercise("low_power.62", "From the committed course-scale table: by what factor is the real int8 model's file "
             "(serialized bytes) smaller than the fp32 base's (fp32 / int8, to 2 decimals)?",
             close_to_computed(_int8_serialized_ratio, 5e-3),
             hint="course_lib.low_power.pareto.load_cache('course') returns (table, provenance).",
             hint2="table.loc['fp32 base', 'serialized_bytes'] / table.loc['PTQ int8 (real int8)', "
                   "'serialized_bytes']; compare it with the analytic-bytes ratio: why is it smaller?"),
    Exercise("low_power.63", "The energy proxy of the fp32 base in µJ per inference, computed by hand from its MACs "
             "and analytic bytes in the course table with cost.ENERGY_PJ (fp32 MACs, DRAM bytes).",
             close_to_computed(_fp32_energy, 1e-3),
             hint="MACs × E_mac(fp32) + bytes × E_byte(dram), in picojoules; divide by 10^6 for µJ.",
             hint2="cost.ENERGY_PJ['mac']['fp32'] and cost.ENERGY_PJ['byte']['dram'] are in pJ."),
)

# --- 7 interactive ---


def _live_base():
    from course_lib.low_power import models
    from course_lib.low_power.pareto import SETTINGS

    return models.baseline(SETTINGS["course"].base, 0, device="cpu")


def _smallest_safe_bits() -> float:
    from course_lib.low_power import views
    from course_lib.low_power.data import load
    from course_lib.low_power.models import DATASET_OF, accuracy
    from course_lib.low_power.pareto import SETTINGS

    base, split = _live_base(), load(DATASET_OF[SETTINGS["course"].base])
    ref = accuracy(base, split.x_test, split.y_test)
    ok = [b for b in range(2, 9) if views.knob_row(base, split, "bits", b)["accuracy"] >= ref - 1.0]
    return float(min(ok))


def _energy_rank_of_linear() -> float:
    import torch

    from course_lib.low_power.factorization import energy_rank

    linears = [m for m in _live_base() if isinstance(m, torch.nn.Linear)]
    return float(energy_rank(torch.linalg.svdvals(linears[0].weight.detach()), 0.9))


register(
    Exercise("low_power.71", "With the bits slider (weight-only, per channel, no fine-tuning) on the seed-0 base: "
             "the smallest bit width from 2 to 8 whose test accuracy stays within 1 point of the fp32 base.",
             close_to_computed(_smallest_safe_bits, 0),
             hint="views.knob_row(base, split, 'bits', b)['accuracy'] for b = 2 … 8, against "
                  "models.accuracy(base, split.x_test, split.y_test).",
             hint2="keep the bit widths with accuracy >= base − 1 and take the smallest."),
    Exercise("low_power.72", "The base's first Linear layer: the smallest rank r whose truncated SVD keeps at least "
             "90 % of the spectral energy Σ_{i≤r} σ_i² / Σ σ_i².",
             close_to_computed(_energy_rank_of_linear, 0),
             hint="torch.linalg.svdvals(layer.weight), then a cumulative sum of the squares.",
             hint2="s2 = s**2; the first index where s2.cumsum(0) / s2.sum() >= 0.9, plus one."),
)
