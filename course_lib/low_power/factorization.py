"""Compact filters and low-rank factorisation: depthwise-separable convolutions and truncated SVD of layers.

* **Depthwise-separable** (Howard et al. 2017, MobileNets; Chollet 2017, Xception): a K×K convolution
  ``C_in → C_out`` becomes a depthwise K×K convolution (one filter per input channel) followed by a pointwise 1×1
  convolution. MACs per output position drop from ``C_out·C_in·K²`` to ``C_in·K² + C_in·C_out``, a ratio of
  ``1/C_out + 1/K²`` (:func:`separable_mac_ratio`). :func:`depthwise_separable` can initialise the pair from a
  trained convolution with the best separable approximation (a rank-1 SVD per input channel).
* **Low rank** (Denton et al. 2014; Jaderberg et al. 2014; Xue et al. 2013): ``W ≈ U_r Σ_r V_rᵀ`` (Eckart–Young:
  the truncated SVD is the best rank-r approximation in Frobenius norm); a Linear ``n → m`` becomes ``n → r → m``
  with ``r(m + n) + m`` parameters (:func:`factorize_linear`); a convolution is reshaped to ``(C_out, C_in·K²)``
  and becomes an r-channel K×K convolution followed by a 1×1 convolution (:func:`factorize_conv`). The rank is
  given, or chosen as the smallest one that keeps a fraction of the spectral energy ``Σ_{i≤r} σ_i² / Σ σ_i²``
  (:func:`energy_rank`).

MACs and bytes are counted by :mod:`course_lib.cost`, never here.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from course_lib.checks import as_int

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


class Separable(nn.Sequential):
    """A depthwise K×K convolution followed by a pointwise 1×1 convolution (MobileNets' block, without BN)."""


class LowRank(nn.Sequential):
    """Two layers ``n → r → m`` replacing one ``n → m`` layer; ``rank`` and the captured ``energy`` are kept."""

    def __init__(self, first: nn.Module, second: nn.Module, *, rank: int, energy: float):
        super().__init__(first, second)
        self.rank, self.energy = rank, energy


# ----------------------------------------------------------------------------------------- depthwise-separable
def _kernel_numel(kernel_size, dims: int = 2) -> int:
    ks = (kernel_size,) * dims if not isinstance(kernel_size, (tuple, list)) else tuple(kernel_size)
    return math.prod(as_int("kernel_size", k, minimum=1) for k in ks)


def separable_mac_ratio(out_channels: int, kernel_size, dims: int = 2) -> float:
    """MACs of a depthwise-separable pair over those of the standard convolution (MobileNets §3.1, Eq. 5 / Eq. 2):
    ``1/C_out + 1/K²``. ``K²`` is the number of kernel taps: an int ``kernel_size`` is ``K`` in each of ``dims``
    dimensions (``K`` in 1-D, ``K²`` in 2-D); a tuple gives the taps per dimension (``K_h·K_w``)."""
    c_out = as_int("out_channels", out_channels, minimum=1)
    dims = as_int("dims", dims, minimum=1)
    return 1.0 / c_out + 1.0 / _kernel_numel(kernel_size, dims)


def _require_conv(conv) -> None:
    if not isinstance(conv, _CONVS):
        raise TypeError(f"expected an nn.Conv1d / Conv2d / Conv3d, got {type(conv).__name__}")
    if conv.groups != 1:
        raise ValueError(f"expected a dense convolution (groups=1), got groups={conv.groups}")


def depthwise_separable(conv: nn.Module, *, init: str = "svd", activation: bool = False) -> Separable:
    """Replace a dense convolution by depthwise K×K + pointwise 1×1 (MobileNets Eq. 5; Xception).

    ``init="svd"`` copies the best separable approximation of the trained kernel: for each input channel ``i``
    the slice ``W[:, i]`` (``C_out × K²``) is replaced by its rank-1 truncated SVD ``σ u vᵀ`` — ``v`` becomes the
    depthwise filter and ``σ u`` the pointwise column (Eckart–Young per channel). ``init="random"`` keeps
    PyTorch's default initialisation (train from scratch). ``activation=True`` puts a ReLU between the two
    (MobileNets; it then needs ``init="random"``). Stride, padding and dilation go to the depthwise layer, so
    the output shape is unchanged.
    """
    _require_conv(conv)
    if init not in ("svd", "random"):
        raise ValueError(f"init must be 'svd' or 'random', got {init!r}")
    if activation and init == "svd":
        raise ValueError("the SVD initialisation approximates a linear map: use activation=False, or init='random'")
    cls = type(conv)
    c_in, c_out = conv.in_channels, conv.out_channels
    w = conv.weight
    depthwise = cls(c_in, c_in, conv.kernel_size, stride=conv.stride, padding=conv.padding, dilation=conv.dilation,
                    groups=c_in, bias=False, padding_mode=conv.padding_mode, device=w.device, dtype=w.dtype)
    pointwise = cls(c_in, c_out, 1, bias=conv.bias is not None, device=w.device, dtype=w.dtype)
    if init == "svd":
        with torch.no_grad():
            #: Per input channel $i$, the slice $W_{:,i} \in \mathbb{R}^{C_{out}\times K^2}$ is approximated by
            #: its best rank-1 matrix $\sigma_1 u_1 v_1^\top$ (Eckart–Young): a separable kernel is exactly
            #: $W_{o,i,\cdot} = P_{o,i}\,D_{i,\cdot}$.
            slices = w.detach().double().flatten(2).transpose(0, 1)            # (C_in, C_out, K²)
            u, s, vh = torch.linalg.svd(slices, full_matrices=False)
            #: $D_i = v_1^\top$ is the depthwise filter, $P_{:,i} = \sigma_1 u_1$ the pointwise column.
            depthwise.weight.copy_(vh[:, 0, :].reshape(depthwise.weight.shape).to(w.dtype))
            pointwise.weight.copy_((u[:, :, 0] * s[:, :1]).T.reshape(pointwise.weight.shape).to(w.dtype))
            if conv.bias is not None:
                pointwise.bias.copy_(conv.bias)
    layers = [depthwise, nn.ReLU(), pointwise] if activation else [depthwise, pointwise]
    return Separable(*layers)


def _replace(model: nn.Module, names, build, kinds) -> nn.Module:
    new = copy.deepcopy(model)
    modules = dict(new.named_modules())
    if names is None:
        names = [n for n, m in modules.items() if isinstance(m, kinds) and n]
    elif isinstance(names, str):
        raise TypeError(f"names must be a list of module names, got the string {names!r}")
    for name in names:
        if name not in modules:
            raise ValueError(f"model has no module {name!r}; it has: {', '.join(n for n in modules if n)}")
        parent_name, _, child = name.rpartition(".")
        parent = modules[parent_name] if parent_name else new
        replacement = build(modules[name])
        if replacement is not None:
            setattr(parent, child, replacement)
    return new


def separable_model(model: nn.Module, names=None, *, init: str = "svd", activation: bool = False) -> nn.Module:
    """A copy of ``model`` with the named convolutions (default: every dense convolution whose kernel has more
    than one tap and whose input has more than one channel) replaced by :func:`depthwise_separable` pairs."""
    def build(m):
        if names is None and (_kernel_numel(m.kernel_size) == 1 or m.in_channels == 1 or m.groups != 1):
            return None           # a 1×1 or single-input-channel convolution gains nothing
        return depthwise_separable(m, init=init, activation=activation)

    return _replace(model, names, build, _CONVS)


# ----------------------------------------------------------------------------------------------- truncated SVD
def factorized_params(m: int, n: int, rank: int, bias: bool = True) -> int:
    """Parameters of a rank-r factorised ``n → m`` layer: ``r(m + n) + m`` (``r(m + n)`` without bias)."""
    m, n, rank = as_int("m", m, minimum=1), as_int("n", n, minimum=1), as_int("rank", rank, minimum=1)
    return rank * (m + n) + (m if bias else 0)


def energy_rank(singular_values: torch.Tensor, energy: float) -> int:
    """Smallest r whose leading singular values keep ``energy`` of the spectral energy:
    ``Σ_{i≤r} σ_i² / Σ_i σ_i² ≥ energy`` (``energy`` in (0, 1])."""
    energy = float(energy)
    if not 0.0 < energy <= 1.0:
        raise ValueError(f"energy must be in (0, 1], got {energy}")
    s2 = singular_values.detach().double().square()
    if s2.ndim != 1 or s2.numel() == 0:
        raise ValueError(f"expected a 1-D tensor of singular values, got shape {tuple(singular_values.shape)}")
    total = s2.sum()
    if total == 0:
        return 1
    captured = s2.cumsum(0) / total
    #: The smallest $r$ with $\sum_{i \le r}\sigma_i^2 / \sum_i \sigma_i^2 \ge$ `energy` (a relative tolerance
    #: of $10^{-12}$ absorbs rounding, so `energy=1` gives the numerical rank's upper end, never more than all).
    return min(int((captured < energy - 1e-12).sum().item()) + 1, s2.numel())


def _check_rank(rank, m: int, n: int) -> int:
    rank = as_int("rank", rank, minimum=1)
    if rank > min(m, n):
        raise ValueError(f"rank must be at most min(m, n) = min({m}, {n}) = {min(m, n)} for a {m}×{n} weight, "
                         f"got {rank}")
    return rank


def truncated_svd(weight: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(U_r, σ_r, V_rᵀ)``: the leading ``rank`` singular triplets of a 2-D ``weight`` (``m × n``)."""
    if not isinstance(weight, torch.Tensor) or weight.ndim != 2:
        raise ValueError(f"expected a 2-D weight tensor, got {getattr(weight, 'shape', type(weight).__name__)}")
    rank = _check_rank(rank, *weight.shape)
    u, s, vh = torch.linalg.svd(weight.detach(), full_matrices=False)
    return u[:, :rank], s[:rank], vh[:rank]


def low_rank_approximation(weight: torch.Tensor, rank: int) -> torch.Tensor:
    """The best rank-r approximation of ``weight`` in Frobenius norm (Eckart–Young):
    ``W_r = U_r Σ_r V_rᵀ``, with ``‖W − W_r‖_F² = Σ_{i>r} σ_i²``."""
    u, s, vh = truncated_svd(weight, rank)
    return (u * s) @ vh


def _resolve_rank(w2d: torch.Tensor, rank, energy) -> tuple[int, float, torch.Tensor, torch.Tensor, torch.Tensor]:
    if (rank is None) == (energy is None):
        raise ValueError("give exactly one of rank= (an int) or energy= (a fraction in (0, 1])")
    m, n = w2d.shape
    u, s, vh = torch.linalg.svd(w2d.detach().double(), full_matrices=False)
    rank = energy_rank(s, energy) if rank is None else _check_rank(rank, m, n)
    s2 = s.square()
    kept = float(s2[:rank].sum() / s2.sum()) if s2.sum() > 0 else 1.0
    return rank, kept, u[:, :rank], s[:rank], vh[:rank]


def factorize_linear(linear: nn.Linear, rank: int | None = None, *, energy: float | None = None) -> LowRank:
    """Replace ``y = Wx + b`` (``W``: ``m × n``) by ``y = A(Bx) + b`` with ``B = Σ_r^{1/2} V_rᵀ`` (``r × n``) and
    ``A = U_r Σ_r^{1/2}`` (``m × r``), so ``AB = W_r`` (Denton et al. 2014 §3; Xue et al. 2013).
    Parameters ``r(m + n) + m`` (:func:`factorized_params`). Give ``rank`` or ``energy``."""
    if not isinstance(linear, nn.Linear):
        raise TypeError(f"expected an nn.Linear, got {type(linear).__name__}")
    w = linear.weight
    #: Truncated SVD of the weight, $W \approx U_r \Sigma_r V_r^\top$; $r$ given, or the smallest rank keeping
    #: the requested spectral energy (`energy_rank`).
    rank, kept, u, s, vh = _resolve_rank(w, rank, energy)
    m, n = w.shape
    #: Split $\Sigma_r$ evenly, $B = \Sigma_r^{1/2} V_r^\top$ and $A = U_r \Sigma_r^{1/2}$: $AB = W_r$, and
    #: both factors have the same scale (better conditioned for fine-tuning than $A = U_r$, $B = \Sigma_r V_r^\top$).
    root = s.sqrt()
    first = nn.Linear(n, rank, bias=False, device=w.device, dtype=w.dtype)
    second = nn.Linear(rank, m, bias=linear.bias is not None, device=w.device, dtype=w.dtype)
    with torch.no_grad():
        first.weight.copy_((root[:, None] * vh).to(w.dtype))
        second.weight.copy_((u * root).to(w.dtype))
        if linear.bias is not None:
            second.bias.copy_(linear.bias)
    return LowRank(first, second, rank=rank, energy=kept)


def factorize_conv(conv: nn.Module, rank: int | None = None, *, energy: float | None = None) -> LowRank:
    """Low-rank convolution (Jaderberg et al. 2014; Denton et al. 2014): reshape the kernel to
    ``W ∈ R^{C_out × C_in·K²}``, truncate its SVD, and run an r-channel K×K convolution (rows of
    ``Σ_r^{1/2} V_rᵀ``, with the original stride/padding/dilation) followed by a 1×1 convolution (``U_r Σ_r^{1/2}``
    plus the bias). Parameters ``r(C_out + C_in·K²) + C_out``. Give ``rank`` or ``energy``."""
    _require_conv(conv)
    w = conv.weight
    c_out = w.shape[0]
    #: Reshape the kernel to a matrix $W \in \mathbb{R}^{C_{out} \times C_{in}K^2}$: row $o$ is filter $o$.
    rank, kept, u, s, vh = _resolve_rank(w.reshape(c_out, -1), rank, energy)
    root = s.sqrt()
    cls = type(conv)
    first = cls(conv.in_channels, rank, conv.kernel_size, stride=conv.stride, padding=conv.padding,
                dilation=conv.dilation, bias=False, padding_mode=conv.padding_mode, device=w.device, dtype=w.dtype)
    second = cls(rank, c_out, 1, bias=conv.bias is not None, device=w.device, dtype=w.dtype)
    with torch.no_grad():
        #: The $r$ rows of $\Sigma_r^{1/2} V_r^\top$ are $r$ basis filters of shape $C_{in}\times K \times K$; a
        #: 1×1 convolution with $U_r \Sigma_r^{1/2}$ mixes them into the $C_{out}$ outputs.
        first.weight.copy_((root[:, None] * vh).reshape(first.weight.shape).to(w.dtype))
        second.weight.copy_((u * root).reshape(second.weight.shape).to(w.dtype))
        if conv.bias is not None:
            second.bias.copy_(conv.bias)
    return LowRank(first, second, rank=rank, energy=kept)


def factorize(module: nn.Module, rank: int | None = None, *, energy: float | None = None) -> LowRank:
    """:func:`factorize_linear` or :func:`factorize_conv`, by the module's type."""
    if isinstance(module, nn.Linear):
        return factorize_linear(module, rank, energy=energy)
    if isinstance(module, _CONVS):
        return factorize_conv(module, rank, energy=energy)
    raise TypeError(f"expected an nn.Linear or a dense nn.ConvNd, got {type(module).__name__}")


def factorize_model(model: nn.Module, names=None, *, rank: int | None = None, energy: float | None = None,
                    only_if_smaller: bool = True) -> nn.Module:
    """A copy of ``model`` with the named Linear/Conv layers (default: every Linear and dense Conv) factorised at
    ``rank`` (capped per layer at ``min(m, n)``) or at the rank keeping ``energy``. With ``only_if_smaller`` a
    layer is kept whole when the factorised pair would not have fewer parameters. The new layers are
    :class:`LowRank` (``.rank``, ``.energy``)."""
    if rank is not None:
        rank = as_int("rank", rank, minimum=1)

    def build(m):
        if not isinstance(m, (nn.Linear, *_CONVS)):
            raise TypeError(f"can only factorise nn.Linear or nn.ConvNd layers, got {type(m).__name__}")
        if isinstance(m, _CONVS) and m.groups != 1:
            return None
        mm, nn_ = m.weight.shape[0], m.weight[0].numel()
        r = min(rank, mm, nn_) if rank is not None else None
        new = factorize(m, r, energy=energy)
        if only_if_smaller and new.rank * (mm + nn_) >= mm * nn_:
            return None
        return new

    return _replace(model, names, build, (nn.Linear, *_CONVS))


def ranks_of(model: nn.Module) -> dict[str, tuple[int, float]]:
    """``{name: (rank, captured energy)}`` of every :class:`LowRank` layer in ``model``."""
    return {n: (m.rank, m.energy) for n, m in model.named_modules() if isinstance(m, LowRank)}


# ------------------------------------------------------------------------------------------ the series' study
SEPARABLE_CONFIGS = ((16, 32, 3, (8, 8)), (1, 16, 3, (8, 8)), (3, 64, 3, (16, 16)), (32, 64, 5, (12, 12)),
                     (16, 16, 5, (40,)), (8, 24, 3, (20,)))   # (C_in, C_out, K, input size): 2-D and 1-D


def _frob_gap(w: torch.Tensor, ranks, competitors: int = 100, seed: int = 0) -> float:
    """Eckart–Young on ``w`` (float64): max over ``ranks`` of the relative gap between ``‖W − W_r‖²_F`` and
    ``Σ_{i>r} σ_i²``, and of how much better (> 0) a random rank-r matrix or ``torch.svd_lowrank`` does."""
    w = w.detach().double()
    s = torch.linalg.svdvals(w)
    norm = torch.linalg.matrix_norm(w)
    g = torch.Generator().manual_seed(seed)
    worst = 0.0
    for r in ranks:
        err = torch.linalg.matrix_norm(w - low_rank_approximation(w, r))
        worst = max(worst, abs(float(err ** 2 - s[r:].square().sum())) / float(norm ** 2))
        u, sv, v = torch.svd_lowrank(w, q=r, niter=2)
        others = [torch.linalg.matrix_norm(w - (u * sv) @ v.T)]
        for _ in range(competitors):
            a = torch.randn(w.shape[0], r, generator=g, dtype=w.dtype)
            b = torch.linalg.lstsq(a, w).solution             # the best B for a random A: a strong competitor
            others.append(torch.linalg.matrix_norm(w - a @ b))
        worst = max(worst, float(err - min(others)) / float(norm))
    return worst


def study(preset, device=None, progress: bool = False) -> dict:
    """Notebook 3's measurements on the digits CNN baselines (``preset.train_seeds``): the separable MAC ratio on
    generated layers; the SVD-initialised separable swap of the 16→32 convolution, fine-tuned; the rank curve of
    the FC 512→64 layer without fine-tuning, and the energy-chosen rank fine-tuned. Returns DataFrames."""
    import pandas as pd

    from course_lib import cost
    from course_lib.low_power.data import load_digits
    from course_lib.low_power.models import accuracy, baseline, train

    d = load_digits()
    example = d.example()
    ratios = []
    for c_in, c_out, k, size in SEPARABLE_CONFIGS:
        conv = (nn.Conv1d if len(size) == 1 else nn.Conv2d)(c_in, c_out, k, padding=k // 2)
        x = torch.zeros(1, c_in, *size)
        sep = depthwise_separable(conv, init="random")
        ratios.append({"C_in": c_in, "C_out": c_out, "K": k, "input": "×".join(map(str, size)),
                       "MACs conv": cost.count_macs(conv, x), "MACs separable": cost.count_macs(sep, x),
                       "ratio": cost.count_macs(sep, x) / cost.count_macs(conv, x),
                       "1/C_out + 1/K²": separable_mac_ratio(c_out, k, len(size)),
                       "FlopCounter ratio": cost.flop_counter_macs(sep, x) / cost.flop_counter_macs(conv, x)})
    ratios = pd.DataFrame(ratios)
    sep_rows, curve, svd_rows = [], [], []
    for seed in preset.train_seeds:
        base = baseline(preset.model, seed, device="cpu")
        acc = accuracy(base, d.x_test, d.y_test)
        dense = {"params": cost.count_params(base), "MACs": cost.count_macs(base, example)}
        # depthwise-separable swap of the 16→32 convolution (index 2), SVD-initialised, then fine-tuned
        sep = separable_model(base, ["2"])
        before = accuracy(sep, d.x_test, d.y_test)
        train(sep, d, epochs=preset.separable_epochs, lr=preset.finetune_lr, seed=seed, device=device,
              progress=progress, desc="separable fine-tune")
        sep.cpu()
        sep_rows.append({"seed": seed, "dense": acc, "separable (SVD init)": before,
                         "separable fine-tuned": accuracy(sep, d.x_test, d.y_test),
                         "params ratio": cost.count_params(sep) / dense["params"],
                         "MACs ratio": cost.count_macs(sep, example) / dense["MACs"]})
        # low-rank FC 512→64 (index 6): the rank curve without fine-tuning, then the energy rank fine-tuned
        fc = base[6]
        for r in preset.svd_ranks:
            low = factorize_model(base, ["6"], rank=r, only_if_smaller=False)
            curve.append({"seed": seed, "rank": r, "energy": low[6].energy, "accuracy": accuracy(low, d.x_test,
                                                                                                d.y_test),
                          "layer params": cost.count_params(low[6]), "r(m+n)+m": factorized_params(64, 512, r),
                          "model params": cost.count_params(low), "model MACs": cost.count_macs(low, example)})
        low = factorize_model(base, ["6"], energy=preset.svd_energy, only_if_smaller=False)
        no_ft = accuracy(low, d.x_test, d.y_test)
        train(low, d, epochs=preset.svd_finetune_epochs, lr=preset.finetune_lr, seed=seed, device=device,
              progress=progress, desc="low-rank fine-tune")
        low.cpu()
        svd_rows.append({"seed": seed, "dense": acc, "rank": low[6].rank, "energy": low[6].energy,
                         "no fine-tune": no_ft, "fine-tuned": accuracy(low, d.x_test, d.y_test),
                         "params ratio": cost.count_params(low) / dense["params"],
                         "MACs ratio": cost.count_macs(low, example) / dense["MACs"],
                         "Eckart–Young gap": _frob_gap(fc.weight, preset.svd_ranks)})
    sep_df = pd.DataFrame(sep_rows).set_index("seed")
    sep_df["drop"] = sep_df["dense"] - sep_df["separable fine-tuned"]
    svd_df = pd.DataFrame(svd_rows).set_index("seed")
    svd_df["drop"] = svd_df["dense"] - svd_df["fine-tuned"]
    return {"split": d, "ratios": ratios, "separable": sep_df, "curve": pd.DataFrame(curve), "svd": svd_df}


def record(ledger, f: dict) -> None:
    """Record notebook 3's claims from :func:`study`'s result."""
    from course_lib.claims import generated
    from course_lib.low_power.claims import worst
    from course_lib.low_power.data import provenance

    r = f["ratios"]
    ledger.record("lp.separable_mac_ratio", float((r["ratio"] - r["1/C_out + 1/K²"]).abs().max()),
                  f"{len(r)} layers; FlopCounter agrees to {(r['FlopCounter ratio'] - r['ratio']).abs().max():.1e}",
                  source=generated("random 1-D and 2-D convolutions"))
    src = provenance(f["split"])
    sep, svd, curve = f["separable"], f["svd"], f["curve"]
    value, note = worst(sep["drop"], "<=")
    ledger.record("lp.separable_ft", value, f"{note}; MACs ×{sep['MACs ratio'].iloc[0]:.3f}", source=src)
    ledger.record("lp.svd_params_exact", float((curve["layer params"] - curve["r(m+n)+m"]).abs().max()),
                  f"ranks {sorted(set(curve['rank']))}", source=src)
    ledger.record("lp.eckart_young", float(svd["Eckart–Young gap"].max()), "trained FC 512→64 weights",
                  source=src)
    value, note = worst(svd["drop"], "<=")
    ledger.record("lp.svd_energy_ft", value, f"{note}; rank {', '.join(str(int(r)) for r in svd['rank'])}",
                  source=src)
    ledger.record("lp.svd_params_ratio", float(svd["params ratio"].mean()), "whole model, energy rank",
                  source=src)
