"""Exercises of the InputIBA series with self-checks (answers are recomputed by the checkers, never stored).

Notebook 1: input_iba.1 (build the Gaussian KL capacity), .2 (a KL by hand), .3 (build Welford's estimator).
Notebook 2: input_iba.4–.6 (read the cached course table). Notebook 3: input_iba.7–.8 (explore β and the layer).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

from course_lib.exercises import Exercise, build_checker, close_to, close_to_computed, register


# ------------------------------------------------------------------------------------------------- notebook 1
def _kl_inputs(rng) -> tuple[np.ndarray, ...]:
    shape = tuple(int(v) for v in rng.integers(2, 6, size=3))
    r = rng.standard_normal(shape) * 2
    lam = rng.uniform(0.0, 0.99, shape)
    mean = rng.standard_normal(shape)
    std = rng.uniform(0.3, 2.0, shape)
    return r, lam, mean, std


def _kl_reference(r, lam, mean, std):
    from course_lib.input_iba.bottleneck import iba_kl

    t = [torch.as_tensor(v, dtype=torch.float64) for v in (r, lam, mean, std)]
    return iba_kl(*t)


_check_kl = build_checker(_kl_reference, _kl_inputs, atol=1e-6, rtol=1e-6, name="gaussian_kl")


def kl_by_hand() -> float:
    """Exercise input_iba.2's value: KL of the IBA bottleneck at r̃ = 2, λ = 0.5 (nats)."""
    lam, r = 0.5, 2.0
    var = (1 - lam) ** 2
    return -0.5 * (1 + math.log(var) - (lam * r) ** 2 - var)


def _welford_inputs(rng) -> tuple:
    n, d = int(rng.integers(20, 200)), int(rng.integers(1, 6))
    x = rng.standard_normal((n, d)) * rng.uniform(0.5, 5) + rng.uniform(-3, 3)
    size = int(rng.integers(1, 40))
    return ([x[i:i + size] for i in range(0, n, size)],)


def _welford_reference(batches):
    from course_lib.input_iba.welford import WelfordEstimator

    est = WelfordEstimator()
    for b in batches:
        est.update(torch.as_tensor(b, dtype=torch.float64))
    return np.stack([est.mean().double().numpy(), est.std().double().numpy()])


_check_welford = build_checker(_welford_reference, _welford_inputs, atol=1e-5, rtol=1e-5, name="welford")


# ------------------------------------------------------------------------------------------------- notebook 2
@functools.cache
def _cached_overall():
    import pandas as pd

    from course_lib.input_iba.experiments import cache_rows, load_cache

    cache = load_cache()
    rows = cache_rows(cache)
    overall = rows.groupby(["method", "image"]).mean(numeric_only=True).groupby("method").mean()
    return overall, pd.Series(cache["seconds"])


def _energy_gap() -> float:
    overall, _ = _cached_overall()
    return float(overall.loc["InputIBA", "energy in mask"] - overall.loc["IBA", "energy in mask"])


def _check_best_auroc(ans) -> bool | str:
    from course_lib.input_iba.claims import ASSERTED

    overall, _ = _cached_overall()
    best = overall.loc[[m for m in ASSERTED if m in overall.index], "mask AUROC"].idxmax()
    if not isinstance(ans, str):
        return "answer with the method's name as it appears in the table (a string)"
    return ans.strip().lower() == best.lower() or "not the highest mean mask AUROC among the final methods"


def _check_ratio(ans) -> bool | str:
    _, sec = _cached_overall()
    truth = sec["InputIBA"] / sec["IntegratedGradients"]
    value = float(ans)
    return bool(abs(value - truth) <= 0.05 * truth) or "divide InputIBA's seconds per image by IG's (same table)"


# ------------------------------------------------------------------------------------------------- notebook 3
@functools.cache
def iba_first_canvas(beta: float = 10.0, layer: str = "pool1") -> tuple[float, float]:
    """IBA on the first selected test canvas (stats from 300 training canvases): (total capacity in bits, mask
    AUROC) — what exercises input_iba.7 and .8 compare."""
    from course_lib import attribution as A
    from course_lib.input_iba import experiments as ex
    from course_lib.input_iba.attributor import iba_attribution
    from course_lib.input_iba.model import load_cnn

    model = load_cnn("cpu")
    data = ex.select_images(model, 1)
    stats = ex.layer_stats(model, layer, n=300)
    res = iba_attribution(model, data.images, data.labels, stats, layer=layer, beta=beta, seed=0)
    return float(res.capacity.sum()), float(A.mask_auroc(res.capacity, data.masks)[0])


_iba_on_first = iba_first_canvas


def _check_beta(ans) -> bool | str:
    if ans not in ("more", "less"):
        return "answer 'more' or 'less'"
    truth = "less" if _iba_on_first(100.0)[0] < _iba_on_first(10.0)[0] else "more"
    return ans == truth or "compare the total capacity (sum of the IBA map) at both β"


def _check_layer(ans) -> bool | str:
    if ans not in ("higher", "lower"):
        return "answer 'higher' or 'lower'"
    truth = "higher" if _iba_on_first(10.0, "relu1")[1] > _iba_on_first(10.0, "pool1")[1] else "lower"
    return ans == truth or "compute the mask AUROC of both IBA maps (course_lib.attribution.mask_auroc)"


register(
    Exercise("input_iba.1", "Build it: write gaussian_kl(r, lam, mean, std) with numpy only (no course_lib): the "
             "per-element KL(P(Z|R) ‖ N(μ_R, σ_R²)) in nats of the IBA bottleneck Z = λR + (1 − λ)ε, "
             "ε ~ N(μ_R, σ_R²), for arrays of one shape. Checked against the library on random inputs.",
             _check_kl, hint="normalise first: with r̃ = (R − μ)/σ both distributions become simple Gaussians",
             hint2="P(Z̃|R) = N(λ r̃, (1 − λ)²) and Q = N(0, 1); the KL of two univariate Gaussians is "
             "log(s₂/s₁) + (s₁² + (m₁ − m₂)²)/(2 s₂²) − ½"),
    Exercise("input_iba.2", "By hand: the IBA KL (nats) of one element with R = μ_R + 2σ_R and λ = 0.5.",
             close_to(kl_by_hand(), 1e-3), hint="r̃ = 2; the posterior mean is λ r̃ and its variance (1 − λ)²",
             hint2="KL = −½ [1 + log v − m² − v] with m = λ r̃ and v = (1 − λ)²"),
    Exercise("input_iba.3", "Build it: write welford(batches) with numpy only (no course_lib): given a list of "
             "(n_i, d) arrays, return np.stack([mean, std]) of all rows (sample std, ddof = 1), updating running "
             "statistics batch by batch (never concatenating the batches).", _check_welford,
             hint="keep n, the running mean and M₂ = Σ (x − mean)²; merge each batch's own n_b, mean_b, M₂_b",
             hint2="Chan et al.: δ = mean_b − mean, mean += δ n_b/n, M₂ += M₂_b + δ² n_a n_b / n; std = "
             "√(M₂/(n − 1))"),
    Exercise("input_iba.4", "From the cached course table: mean energy-in-mask of InputIBA minus that of IBA "
             "(over the images, seeds averaged).", close_to_computed(_energy_gap, 5e-3),
             hint="the table's 'energy in mask' column", hint2="table.loc['InputIBA', ...] − table.loc['IBA', ...]"),
    Exercise("input_iba.5", "Which final method (not random, not the λ_G intermediate) has the highest mean mask "
             "AUROC in the cached course table? Answer with its name as in the table.", _check_best_auroc,
             hint="sort the 'mask AUROC' column", hint2="exclude 'random' and 'GAN prior λ_G', then idxmax"),
    Exercise("input_iba.6", "How many times the cost of Integrated Gradients is InputIBA per image in the cached "
             "course run?", _check_ratio, hint="the 's / image' column", hint2="the '× IG' column is exactly this"),
    Exercise("input_iba.7", "Raise IBA's β from 10 to 100 on the first image (bottleneck pool1). Does the total "
             "capacity (sum of the IBA map) become 'more' or 'less'?", _check_beta,
             hint="β weighs the information term against the cross-entropy",
             hint2="a larger β makes each nat passed through the bottleneck more expensive"),
    Exercise("input_iba.8", "Move IBA's bottleneck from pool1 to relu1 (full resolution, before pooling) on the "
             "first image, β = 10. Is its mask AUROC 'higher' or 'lower' than at pool1?", _check_layer,
             hint="use the layer dropdown of the explorer and read the AUROC in the IBA panel's title",
             hint2="an early layer's prior N(μ_R, σ_R²) over-estimates the information: compare the two maps"),
)
