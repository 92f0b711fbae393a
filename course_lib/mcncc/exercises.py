"""Exercises of the MCNCC series with self-checks (answers are recomputed by the checkers, never stored)."""
from __future__ import annotations

import functools

import numpy as np

from course_lib.exercises import Exercise, build_checker, register


def exercise_maps() -> tuple[np.ndarray, np.ndarray]:
    """Inputs of exercise mcncc.2: a (3, 32, 32) template x and y = gains·x + biases with gains (1, 5, 0.2) and
    biases (0, 3, 1)."""
    x = np.random.default_rng(11).standard_normal((3, 32, 32))
    return x, np.array([1.0, 5.0, 0.2])[:, None, None] * x + np.array([0.0, 3.0, 1.0])[:, None, None]


def exercise_scores() -> tuple[np.ndarray, np.ndarray]:
    """Inputs of exercise mcncc.3: a (20, 38) score matrix (20 queries, 38 references) and the true labels."""
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 38, 20)
    scores = rng.normal(0, 1, (20, 38))
    scores[np.arange(20), labels] += rng.uniform(0, 2.5, 20)
    return scores, labels


def _build_inputs(rng) -> tuple[np.ndarray, np.ndarray]:
    """A random (C, H, W) pair, y with its own per-channel gain and bias (exercise mcncc.1)."""
    c, h, w = rng.integers(1, 6), rng.integers(3, 9), rng.integers(3, 9)
    x, y = rng.standard_normal((c, h, w)), rng.standard_normal((c, h, w))
    return x, y * rng.uniform(0.1, 10, (c, 1, 1)) + rng.uniform(-5, 5, (c, 1, 1))


def _build_reference(x: np.ndarray, y: np.ndarray) -> float:
    from course_lib.mcncc.ncc import mcncc

    return mcncc(x, y).item()


def _check_3d(ans) -> bool | str:
    from course_lib.mcncc.ncc import ncc3d

    x, y = exercise_maps()
    return bool(abs(float(ans) - ncc3d(x, y).item()) < 1e-6) or "one mean and one std over ALL channels and pixels"


def _check_cmc(ans) -> bool | str:
    from course_lib.mcncc import metrics

    scores, labels = exercise_scores()
    k = metrics.topk(38, 5)
    truth = float((metrics.ranks(scores, labels) <= k).mean())
    ans = float(ans)
    if abs(ans - float((metrics.ranks(scores, labels) <= 1).mean())) < 1e-9 and k != 1:
        return "that is the top-1 rate; 5 % of 38 references is more than one"
    return bool(abs(ans - truth) < 1e-9) or "k = round(0.05 · 38): count queries with the true reference in the top k"


def _check_offsets(ans) -> bool | str:
    return int(ans) == (77 - 40 + 1) * (33 - 20 + 1) or "valid offsets per axis: H − h + 1"


@functools.cache
def _gallery():
    from course_lib.mcncc import experiments, search

    refs, qs, ms, labels = experiments.synthetic_gallery(10, (64, 32), 0, 10.0, 0.5)
    bank = experiments.GaborBank(8, (4.0, 8.0), stride=2)
    return refs, qs, ms, labels, bank, search.prepare_references(refs, bank, 4)


def corruption_ranks(gain_low: float, gain_high: float, offset: float, query: int = 0) -> dict[str, float]:
    """Rank of the true reference of synthetic query ``query`` (10-pattern gallery) under each score, with the
    query's Gabor channels 0–7 multiplied by ``gain_low``, 8–15 by ``gain_high`` and ``offset`` added."""
    from course_lib.mcncc import metrics, search
    from course_lib.mcncc.experiments import ChannelCorruption

    refs, qs, ms, labels, bank, feats = _gallery()
    ext = ChannelCorruption(bank, np.r_[np.full(8, gain_low), np.full(8, gain_high)], np.full(16, offset))
    tpl, tm, _ = search.query_templates(qs[query], ms[query], (-10.0, 10.0), ext, (72, 40))
    res = search.search(tpl, tm, feats)
    return {k: float(metrics.ranks(v[None], [labels[query]])[0]) for k, v in res.scores.items()}


def _check_break(ans) -> bool | str:
    try:
        g1, g2, off = (float(v) for v in ans)
    except (TypeError, ValueError):
        return "answer a tuple (gain_low, gain_high, offset)"
    if g1 <= 0 or g2 <= 0:
        return "gains must be positive (a negative gain flips a channel: nothing is invariant to that)"
    r = corruption_ranks(g1, g2, off)
    if r["mcncc"] != 1:
        return f"MCNCC ranks the true reference {r['mcncc']:g} here — even without corruption? try query 0 as is"
    return r["cosine"] > 1 or f"cosine still ranks it first (rank {r['cosine']:g}); make the gains more unequal"


register(
    Exercise("mcncc.1", "Write my_mcncc(x, y) for two numpy arrays of shape (C, H, W) (one placement, no mask) "
             "WITHOUT course_lib: the mean over channels of the per-channel Pearson correlation. Answer with the "
             "function.", build_checker(_build_reference, _build_inputs, atol=1e-8, name="my_mcncc"),
             "centre each channel by its own mean, divide by its own norm", hint2="r_c = Σ x̃_c ỹ_c / "
             "sqrt(Σ x̃_c² · Σ ỹ_c²) with x̃_c = x_c − mean(x_c); return the mean of r_c over c"),
    Exercise("mcncc.2", "For x, y = exercise_maps() (the gains/biases example), compute the 3D-NCC of x and y.",
             _check_3d, "course_lib.mcncc.ncc.ncc3d", hint2="or: one Pearson correlation of x.ravel() and y.ravel()"),
    Exercise("mcncc.3", "scores, labels = exercise_scores() (20 queries × 38 references). What fraction of queries "
             "has its true reference within the top 5 % of the gallery?", _check_cmc,
             "metrics.topk(38, 5) references", hint2="metrics.ranks(scores, labels) <= k, then the mean"),
    Exercise("mcncc.4", "A (C, 40, 20) feature template slides over a (C, 77, 33) reference feature map. How many "
             "placements per rotation does the search score?", _check_offsets, "only placements fully inside"),
    Exercise("mcncc.5", "Find a per-channel corruption (gain_low, gain_high, offset) of synthetic query 0 "
             "(corruption_ranks shows the ranks) under which cosine no longer ranks the true reference first while "
             "MCNCC still does. Answer the tuple.", _check_break, "unequal gains on the two channel groups",
             hint2="e.g. try gain_low = 0.1 with gain_high = 10 and see corruption_ranks(...)"),
)
