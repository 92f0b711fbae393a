"""Self-check exercises of the counting series (notebook 1: counting.1–3, notebook 2: 4–6, notebook 3: 7–8).
"""

from __future__ import annotations

import torch

from course_lib.exercises import Exercise, build_checker, close_to, close_to_computed, register


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


def _counter_parameters(ans) -> bool | str:
    from course_lib.counting.component import Counter

    want = sum(p.numel() for p in Counter(100, d=24).parameters())
    val = float(ans)
    if val == sum(p.numel() for p in Counter(10, d=16).parameters()):
        return "that is the count for d = 16; which setting changes it, and which does not?"
    return val == want or f"{val:g} is not it"


def _sim_inputs(rng):
    n = int(rng.integers(3, 11))
    return rng.random(n), rng.random((n, n))


def _sim_reference(a, X):
    from torch import nn

    from course_lib.counting.component import inter_object_similarity

    return inter_object_similarity(torch.as_tensor(a)[None], torch.as_tensor(X)[None], nn.Identity())[0]


register(
    Exercise(
        "counting.1",
        "a = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0], ten non-overlapping boxes, identity f's: what is "
        "the total edge weight Σ_ij C_ij (self-loops included)?",
        close_to(9.0),
        hint="how many edges does a complete graph with self-loops on c nodes have?",
        hint2="with no overlaps and identity f's nothing is de-duplicated: C = A = a aᵀ; add up its entries.",
    ),
    Exercise(
        "counting.2",
        "The interpolated one-hot o of c = 1.3 with n = 3 (a list of 4 numbers).",
        _vector_close([0.0, 0.7, 0.3, 0.0]),
        hint="c lies between two integers; the one-hot is shared between them.",
        hint2="weights 1 − frac(c) on ⌊c⌋ and frac(c) on ⌈c⌉; positions 0..n.",
    ),
    Exercise(
        "counting.3",
        "Self-IoU of a square box of side 1e-6 when the denominator is union + 1e-12 (the official code).",
        close_to(0.5, 1e-3),
        hint="compute the box's area and compare it with the epsilon.",
        hint2="IoU = intersection / (union + eps) with intersection = union = area of the box.",
    ),
    Exercise(
        "counting.4",
        "Accuracy of the rule ĉ = round(Σ_i a_i) on ToyCountingDataset(l=0.5, q=0, seed=123).batch(2048).",
        close_to_computed(_rounding_accuracy, 1e-6),
        hint="the rule needs only the attention weights of each example and its true count.",
        hint2="a batch has .attention (B, n) and .count (B,); round the row sums and compare.",
    ),
    Exercise(
        "counting.5",
        "How many learnable parameters does Counter(n_objects=100, d=24) have?",
        _counter_parameters,
        hint="what in the counter is learned? Does it grow with the number of proposals it reads?",
        hint2="count the weights of one piecewise-linear function and how many functions the counter uses "
        "(or sum p.numel() over that Counter's parameters).",
    ),
    Exercise(
        "counting.6",
        "On the same batch as counting.4: the fraction of examples whose attention sum "
        "overestimates the true count by at least 0.5.",
        close_to_computed(_overcount_fraction, 1e-6),
        hint="distractors overlapping true boxes add partial attention weight.",
        hint2="per example: attention row sum minus the true count; average the indicator of ≥ 0.5.",
    ),
    Exercise(
        "counting.7",
        "hand_set_counter(10) on duplicate_scene(k=6, m=3, jitter=0.05): what count c?",
        close_to(4.0, 1e-3),
        hint="how many distinct objects does duplicate_scene(k, m) contain?",
        hint2="build the scene and call hand_set_counter(10).count(scene.boxes, scene.attention).",
    ),
    Exercise(
        "counting.8",
        "Σ_ij A_ij of the attention graph for a ∈ {0, 1}^10 with 5 ones.",
        close_to(25.0, 1e-6),
        hint="write out the attention graph A_ij = a_i a_j.",
        hint2="the double sum Σ_ij a_i a_j factorises into two single sums.",
    ),
    Exercise(
        "counting.9",
        "Build it: write similarity(a, X) with numpy only (no course_lib) returning the (n, n) matrix "
        "Sim_ij = f₃(1 − |a_i − a_j|) · Π_k f₃(1 − |X_ik − X_jk|) of step 4 with f₃ the identity, "
        "for attention a (n,) and X (n, n). Checked against the library on random inputs.",
        build_checker(_sim_reference, _sim_inputs, atol=1e-10, name="similarity"),
        hint="two factors: one compares the attention values, one compares whole rows of X.",
        hint2="broadcasting: a[:, None] − a[None, :] is (n, n); X[:, None, :] − X[None, :, :] is (n, n, n) "
        "indexed (i, j, k); take 1 − |·| and multiply over the last axis.",
    ),
)
