"""Self-check exercises of the OTE series (notebook 1: ote.1–3, notebook 2: ote.4–6, notebook 3: ote.7).

ote.1 and ote.4 are build-it exercises: the learner writes Gram–Schmidt / the filtered rank without course_lib and
the checker compares with the library on fresh random inputs. Answers are recomputed by the checkers, never
stored.
"""
from __future__ import annotations

import numpy as np
import torch

from course_lib.exercises import Exercise, build_checker, close_to, close_to_computed, register


def _gs_inputs(rng) -> tuple:
    k = int(rng.integers(2, 7))
    m = rng.standard_normal((int(rng.integers(1, 5)), k, k)) + 0.5 * np.eye(k)
    return (torch.tensor(m, dtype=torch.float64),)


def _gs_reference(m):
    from course_lib.ote.orthogonal import gram_schmidt

    return gram_schmidt(m)


def _rank_inputs(rng) -> tuple:
    n = int(rng.integers(5, 40))
    scores = rng.integers(0, 6, n).astype(float)  # small integers: ties happen
    target = int(rng.integers(n))
    others = [e for e in range(n) if e != target]
    known = [int(e) for e in rng.choice(others, size=int(rng.integers(0, n // 2)), replace=False)]
    return scores, target, known


def _rank_reference(scores, target, known):
    from course_lib.kg.evaluate import ranks_from_scores

    s = torch.tensor(scores, dtype=torch.float64)[None]
    exclude = torch.zeros_like(s, dtype=torch.bool)
    exclude[0, known] = True
    return ranks_from_scores(s, torch.tensor([target]), exclude=exclude, tie="realistic")[0].item()


def _check_rotation(ans) -> bool | str:
    got = np.asarray(ans, dtype=float).ravel()
    if got.shape != (2,):
        return f"expected two numbers, got {got.size}"
    want = np.array([1.0, 1.0]) / np.sqrt(2.0)
    if np.allclose(got, [1.0, 1.0], atol=1e-3):
        return "the rows of φ(M) are normalised: divide by their length"
    return bool(np.allclose(got, want, atol=1e-4)) or "not quite: x·φ(M) with x = [1, 0] picks one row of φ(M)"


def _kinships_reverse_fraction() -> float:
    from course_lib.kg import leakage_stats, load_kg

    return leakage_stats(load_kg("kinships"))["reverse_pair"]


def _cached_gap() -> float:
    from course_lib.ote.experiments import cache_table, load_cache, seed_summary

    mean = seed_summary(cache_table(load_cache()))["mean"]
    return mean["OTE"] - mean["RotatE"]


register(
    Exercise("ote.1", "Write gram_schmidt(M) without course_lib: M is a float64 tensor (..., k, k); return the "
             "matrix whose rows are the Gram–Schmidt orthonormalisation of M's rows (same shape). "
             "Pass the function itself.",
             build_checker(_gs_reference, _gs_inputs, atol=1e-8, name="gram_schmidt"),
             hint="row i: subtract its projections on the rows already built, then divide by its norm.",
             hint2="loop over i; v = M[..., i, :]; for u in done: v = v - (v*u).sum(-1, keepdim=True)*u; "
                   "stack the normalised rows with torch.stack(rows, dim=-2)."),
    Exercise("ote.2", "How many real parameters does one OTE relation have at d = 200 with groups of k = 4 "
             "(raw matrices plus scales)?", close_to(50 * (16 + 4), 0),
             hint="d / k groups, each with a k×k matrix and k scales."),
    Exercise("ote.3", "φ(M) for M = [[0, 1], [1, 0]]: what is det φ(M)?", close_to(-1.0, 1e-9),
             hint="the rows are already orthonormal, so Gram–Schmidt leaves them as they are.",
             hint2="a swap of two coordinates is a reflection, which a complex rotation (RotatE) cannot express."),
    Exercise("ote.4", "Write filtered_rank(scores, target, known) without course_lib: scores is a 1-D numpy array "
             "(higher = better), target an index, known a list of other true answers to filter out. Return "
             "the realistic rank 1 + #better + #equal/2 (the target and the filtered answers not counted).",
             build_checker(_rank_reference, _rank_inputs, atol=1e-12, name="filtered_rank"),
             hint="mask the known answers and the target itself before counting.",
             hint2="keep = ones(n, bool); keep[known] = False; keep[target] = False; count scores[keep] > s_t and "
                   "scores[keep] == s_t."),
    Exercise("ote.5", "Fraction of Kinships test triples (h, r, t) with some (t, r', h) in the training set "
             "(a number between 0 and 1).", close_to_computed(_kinships_reverse_fraction, 1e-4),
             hint="course_lib.kg.leakage_stats reports it; or build the set of (t, h) pairs of train yourself."),
    Exercise("ote.6", "From the cached Kinships runs: mean MRR(OTE) − mean MRR(RotatE) over the seeds "
             "(to 3 decimals).", close_to_computed(_cached_gap, 5e-4),
             hint="course_lib.ote.experiments.load_cache() and seed_summary(cache_table(...))."),
    Exercise("ote.7", "With M = [[1, 1], [-1, 1]] and unit scales, f(x) for x = [1, 0] (two numbers).",
             _check_rotation, hint="Gram–Schmidt the rows, then multiply the row vector x by φ(M).",
             hint2="φ(M) = [[1, 1], [-1, 1]] / √2 (the rows are already orthogonal)."),
)
