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


def _weights(rng) -> tuple:
    """A random weight matrix of random shape and scale (no ties in |w|)."""
    shape = (int(rng.integers(2, 7)), int(rng.integers(3, 12)))
    return (rng.standard_normal(shape) * float(rng.uniform(0.01, 5.0)),)


def _symmetric_int8_reference(w):
    import torch

    from course_lib.low_power.quantization import quantize_tensor

    return quantize_tensor(torch.from_numpy(w), 8, per_channel=False).numpy()


def _delta_mse() -> float:
    from course_lib.low_power.quantization import qrange

    return (1.0 / qrange(8, symmetric=True)[1]) ** 2 / 12


register(
    Exercise("low_power.12", "Build it: write symmetric_int8(w) without course_lib — w a 2-D numpy float array; "
             "quantise it per tensor to signed int8 with the restricted range [-127, 127] and zero point 0 (scale "
             "from max |w|), and return the dequantised array (same shape, float).",
             build_checker(_symmetric_int8_reference, _weights, atol=1e-6, rtol=1e-5, name="symmetric_int8"),
             hint="one scale for the whole tensor: the largest |w| must land on the largest integer code.",
             hint2="scale = max|w| / 127; q = clip(round(w / scale), -127, 127); return q * scale."),
    Exercise("low_power.13", "A symmetric 8-bit quantiser (codes -127…127) covers the range [-1, 1]. For values "
             "spread uniformly inside the range, what is the mean squared rounding error (to 3 significant "
             "digits)?", close_to_computed(_delta_mse, 5e-9),
             hint="the step is Δ = 1 / 127; the rounding error is uniform on [−Δ/2, Δ/2].",
             hint2="E[e²] = Δ² / 12 with Δ = 1/127."),
)

# --- 2 pruning ---


def _mask_reference(w, sparsity):
    import torch

    from course_lib.low_power.pruning import magnitude_masks

    layer = torch.nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
    return magnitude_masks(torch.nn.Sequential(layer), float(sparsity))["0"].numpy()


def _mask_inputs(rng) -> tuple:
    return _weights(rng)[0], float(rng.choice([0.25, 0.5, 0.8, 0.9]))


def _csr_bytes() -> float:
    import torch

    from course_lib.cost import csr_bytes

    w = torch.zeros(100, 200)
    w.view(-1)[torch.randperm(20_000)[:2000]] = 1.0
    return float(csr_bytes(w))


def _structured_params() -> float:
    import torch

    from course_lib.cost import count_params
    from course_lib.low_power.pruning import prune_channels

    return float(count_params(prune_channels(torch.nn.Sequential(torch.nn.Linear(512, 64), torch.nn.ReLU(),
                                                                 torch.nn.Linear(64, 10)), 0.5)))


register(
    Exercise("low_power.21", "Build it: write magnitude_mask(w, sparsity) without course_lib — w a 2-D numpy "
             "array, sparsity in [0, 1); return a float array of w's shape with 0 at the round(sparsity · w.size) "
             "entries of smallest |w| and 1 elsewhere.",
             build_checker(_mask_reference, _mask_inputs, atol=0, rtol=0, name="magnitude_mask"),
             hint="sort the absolute values; the k smallest go.",
             hint2="k = round(sparsity * w.size); idx = np.argsort(np.abs(w).ravel())[:k]; mask.ravel()[idx] = 0."),
    Exercise("low_power.22", "A 100 × 200 float32 weight matrix is 90 % sparse. How many bytes does it take in "
             "CSR with float32 values and int32 column indices and row pointers?", close_to_computed(_csr_bytes, 0),
             hint="values and column indices: one each per non-zero; row pointers: rows + 1.",
             hint2="nnz = 2000; 2000 · (4 + 4) + 101 · 4."),
    Exercise("low_power.23", "Structured pruning removes half of the 64 hidden units of Linear(512, 64) → ReLU → "
             "Linear(64, 10) and rebuilds both layers. How many parameters (weights and biases) remain?",
             close_to_computed(_structured_params, 0),
             hint="the first layer loses output rows, the second the matching input columns.",
             hint2="(512 · 32 + 32) + (32 · 10 + 10)."),
)

# --- 3 compact filters ---

register(
    Exercise("low_power.31", "A 3×3 convolution with C_in = 32 and C_out = 64 is replaced by a depthwise 3×3 + "
             "pointwise 1×1 pair. By what factor do the MACs shrink (standard / separable, to 3 decimals)?",
             close_to(1.0 / (1.0 / 64 + 1.0 / 9), 1e-3),
             hint="the ratio separable / standard is 1/C_out + 1/K² (MobileNets).",
             hint2="invert 1/64 + 1/9."),
)


def _low_rank_reference(w, r):
    import torch

    from course_lib.low_power.factorization import low_rank_approximation

    return low_rank_approximation(torch.as_tensor(w, dtype=torch.float64), r).numpy()


def _low_rank_inputs(rng):
    m, n = (int(v) for v in rng.integers(3, 12, size=2))
    return rng.normal(size=(m, n)), int(rng.integers(1, min(m, n) + 1))


register(
    Exercise("low_power.32", "Build it: low_rank(W, r) without course_lib, the best rank-r approximation of W in "
             "Frobenius norm.", build_checker(_low_rank_reference, _low_rank_inputs, atol=1e-8, name="low_rank"),
             hint="Eckart–Young: keep the r largest singular values of the SVD.",
             hint2="U, s, Vt = np.linalg.svd(W, full_matrices=False); multiply the first r columns of U, the first "
                   "r values of s and the first r rows of Vt."),
    Exercise("low_power.33", "Parameters of the 512 → 64 FC layer (with bias) factorised at rank 16.",
             close_to(16 * (512 + 64) + 64, 0),
             hint="two layers: 512 → 16 without bias, then 16 → 64 with the bias.",
             hint2="r(m + n) + m with m = 64, n = 512, r = 16."),
)

# --- 4 NAS ---


def _feasible_count(budget: int) -> int:
    from course_lib.low_power.nas import SearchSpace, feasible

    return len(feasible(SearchSpace(), budget))


def _tournament_reference(population, sample_size, seed):
    import numpy as np

    from course_lib.low_power.nas import tournament

    return np.asarray(tournament(population, sample_size, np.random.default_rng(seed)))


def _tournament_inputs(rng):
    n = int(rng.integers(3, 12))
    pop = [(((3, int(w)),), float(s)) for w, s in zip(rng.choice([8, 16, 32], size=n), rng.integers(0, 5, size=n))]
    return pop, int(rng.integers(1, 5)), int(rng.integers(0, 10_000))


register(
    Exercise("low_power.41", "How many architectures of the NAS space fit a budget of 20,000 MACs per sample?",
             close_to_computed(lambda: _feasible_count(20_000), 0),
             hint="nas.SearchSpace().macs(arch) counts one architecture; keep those within the budget.",
             hint2="len([a for a in space.all() if space.macs(a) <= 20_000])."),
    Exercise("low_power.42", "Build it: tournament(population, sample_size, seed) without course_lib.",
             build_checker(_tournament_reference, _tournament_inputs, name="tournament"),
             hint="draw the indices with np.random.default_rng(seed).integers(0, len(population), size=sample_size).",
             hint2="take population[i] for each drawn i and return the arch of the first one with the highest score "
                   "(max(..., key=lambda c: c[1])[0])."),
)

# --- 5 distillation ---


def _kd_reference(student_logits, teacher_logits, labels, T, alpha):
    import torch

    from course_lib.low_power.distillation import kd_loss

    return float(kd_loss(torch.as_tensor(student_logits, dtype=torch.float64),
                         torch.as_tensor(teacher_logits, dtype=torch.float64), torch.as_tensor(labels),
                         temperature=T, alpha=alpha))


def _kd_inputs(rng):
    b, n = int(rng.integers(2, 9)), int(rng.integers(3, 11))
    return (3 * rng.normal(size=(b, n)), 3 * rng.normal(size=(b, n)), rng.integers(0, n, size=b),
            float(rng.choice([1.0, 2.0, 4.0, 8.0])), float(rng.uniform(0, 1)))


def _kd_gradient_z1() -> float:
    import torch

    from course_lib.low_power.distillation import kd_gradient

    return float(kd_gradient(torch.tensor([[2.0, 0.0, 0.0]], dtype=torch.float64),
                             torch.tensor([[0.0, 2.0, 0.0]], dtype=torch.float64), 2.0)[0, 0])


register(
    Exercise("low_power.51", "Build it: kd_loss(student_logits, teacher_logits, labels, T, alpha) without course_lib.",
             build_checker(_kd_reference, _kd_inputs, atol=1e-5, name="kd_loss"),
             hint="CE at T = 1 with the labels, KL between softmax(teacher / T) and softmax(student / T), both "
                  "averaged over the batch; weight them 1 − alpha and alpha · T².",
             hint2="with log-softmax ls(x) = x − max − log Σ exp(x − max): CE = −mean(ls(s)[range(B), y]); "
                   "KL = mean over rows of Σ p (log p − ls(s / T)) with p = softmax(t / T)."),
    Exercise("low_power.52", "Gradient of T²·KL(p ‖ q) w.r.t. z_1 for z = (2, 0, 0), v = (0, 2, 0), T = 2.",
             close_to_computed(_kd_gradient_z1, 1e-3),
             hint="the gradient is T (q_1 − p_1) with q = softmax(z / T), p = softmax(v / T).",
             hint2="q_1 = e / (e + 2), p_1 = 1 / (e + 2); multiply their difference by 2."),
)

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
