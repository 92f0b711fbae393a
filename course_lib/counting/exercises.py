"""Self-check exercises of the counting series (notebook 1: counting.1–3, notebook 2: 4–6, notebook 3: 7–8).
"""

from __future__ import annotations

import math

import torch

from course_lib.exercises import Exercise, register


def _close(expected: float, tol: float = 1e-3):
    def checker(ans) -> bool | str:
        value = float(ans)
        if math.isclose(value, expected, abs_tol=tol):
            return True
        return f"{value:g} is not it (tolerance {tol:g})"

    return checker


def _vector_close(expected: list[float], tol: float = 1e-4):
    def checker(ans) -> bool | str:
        got = torch.as_tensor(ans, dtype=torch.float64).flatten()
        if got.numel() != len(expected):
            return f"expected {len(expected)} numbers, got {got.numel()}"
        return bool((got - torch.tensor(expected, dtype=torch.float64)).abs().max() <= tol) or "not quite"

    return checker


def _rounding_accuracy(seed: int = 123) -> float:
    from course_lib.counting.toy import ToyCountingDataset

    b = ToyCountingDataset(0.5, 0.0, seed=seed).batch(2048)
    return (b.attention.sum(1).round().long() == b.count).float().mean().item()


def _overcount_fraction(seed: int = 123) -> float:
    from course_lib.counting.toy import ToyCountingDataset

    b = ToyCountingDataset(0.5, 0.0, seed=seed).batch(2048)
    return (b.attention.sum(1) - b.count >= 0.5).float().mean().item()


def _lazy(fn, tol):
    def checker(ans):
        return _close(fn(), tol)(ans)

    return checker


register(
    Exercise(
        "counting.1",
        "a = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0], ten non-overlapping boxes, identity f's: what is "
        "the total edge weight Σ_ij C_ij (self-loops included)?",
        _close(9.0),
        hint="c relevant objects with self-loops form a complete graph with c² edges; the count is √ΣC.",
    ),
    Exercise(
        "counting.2",
        "The interpolated one-hot o of c = 1.3 with n = 3 (a list of 4 numbers).",
        _vector_close([0.0, 0.7, 0.3, 0.0]),
        hint="weights 1 − frac on ⌊c⌋ and frac on ⌈c⌉.",
    ),
    Exercise(
        "counting.3",
        "Self-IoU of a square box of side 1e-6 when the denominator is union + 1e-12 (the official code).",
        _close(0.5, 1e-3),
        hint="area = 1e-12 = the epsilon itself.",
    ),
    Exercise(
        "counting.4",
        "Accuracy of the rule ĉ = round(Σ_i a_i) on ToyCountingDataset(l=0.5, q=0, seed=123).batch(2048).",
        _lazy(_rounding_accuracy, 1e-6),
        hint="compare batch.attention.sum(1).round() with batch.count and average.",
    ),
    Exercise(
        "counting.5",
        "How many learnable parameters does Counter(n_objects=10) (d = 16) have?",
        _close(128, 0),
        hint="eight piecewise-linear functions with d weights each.",
    ),
    Exercise(
        "counting.6",
        "On the same batch as counting.4: the fraction of examples whose attention sum "
        "overestimates the true count by at least 0.5.",
        _lazy(_overcount_fraction, 1e-6),
        hint="(batch.attention.sum(1) - batch.count >= 0.5).float().mean(); distractors overlapping "
        "true boxes add partial weight.",
    ),
    Exercise(
        "counting.7",
        "hand_set_counter(10) on duplicate_scene(k=6, m=3, jitter=0.05): what count c?",
        _close(4.0, 1e-3),
        hint="one object seen six times plus three separate objects.",
    ),
    Exercise(
        "counting.8",
        "Σ_ij A_ij of the attention graph for a ∈ {0, 1}^10 with 5 ones.",
        _close(25.0, 1e-6),
        hint="A = a aᵀ.",
    ),
)
