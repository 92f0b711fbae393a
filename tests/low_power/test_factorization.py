"""Depthwise-separable replacement and truncated-SVD factorisation: exact MAC ratios, exact parameter counts,
Eckart–Young, and clear errors on bad input."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from course_lib.low_power import factorization as F


def macs(model, x) -> int:
    """FlopCounterMode counts 2 FLOPs per multiply-accumulate for conv / matmul."""
    with FlopCounterMode(display=False) as counter:
        model(x)
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("dims,c_in,c_out,k,stride,padding", [
    (2, 8, 16, 3, 1, 1), (2, 3, 32, 5, 2, 2), (2, 16, 24, 3, 1, 0), (1, 4, 25, 5, 2, 1), (1, 1, 8, 7, 1, 3)])
def test_separable_mac_ratio_is_exactly_one_over_cout_plus_one_over_k_squared(dims, c_in, c_out, k, stride, padding):
    conv = (nn.Conv1d if dims == 1 else nn.Conv2d)(c_in, c_out, k, stride=stride, padding=padding)
    x = torch.randn(2, c_in, *(12,) * dims)
    sep = F.depthwise_separable(conv, init="random")
    assert sep(x).shape == conv(x).shape
    # integer MAC counts: separable·(C_out·K^d) == standard·(K^d + C_out), i.e. ratio = 1/C_out + 1/K^d exactly
    taps = k ** dims
    assert macs(sep, x) * c_out * taps == macs(conv, x) * (taps + c_out)
    assert F.separable_mac_ratio(c_out, k, dims) == pytest.approx(macs(sep, x) / macs(conv, x), rel=1e-12)
    assert F.separable_mac_ratio(c_out, (k,) * dims) == F.separable_mac_ratio(c_out, k, dims)


def test_svd_init_reproduces_a_separable_kernel_exactly_and_is_the_best_separable_fit():
    torch.manual_seed(0)
    c_in, c_out, k = 6, 10, 3
    p, d = torch.randn(c_out, c_in, dtype=torch.float64), torch.randn(c_in, k, k, dtype=torch.float64)
    conv = nn.Conv2d(c_in, c_out, k, padding=1, dtype=torch.float64)
    with torch.no_grad():
        conv.weight.copy_(p[:, :, None, None] * d[None])          # an exactly separable kernel
    x = torch.randn(2, c_in, 9, 9, dtype=torch.float64)
    assert torch.allclose(F.depthwise_separable(conv)(x), conv(x), atol=1e-10)
    # a generic kernel: the SVD init's effective kernel is no worse than random separable kernels
    conv2 = nn.Conv2d(c_in, c_out, k, dtype=torch.float64)
    sep = F.depthwise_separable(conv2)
    eff = sep[1].weight[:, :, 0, 0][:, :, None, None] * sep[0].weight[:, 0][None]
    err = (eff - conv2.weight).norm()
    for _ in range(20):
        rand = torch.randn(c_out, c_in, 1, 1, dtype=torch.float64) * torch.randn(1, c_in, k, k, dtype=torch.float64)
        assert err <= (rand - conv2.weight).norm()
    assert torch.allclose(err ** 2, sum(torch.linalg.svdvals(conv2.weight[:, i].reshape(c_out, -1))[1:].square().sum()
                                        for i in range(c_in)))


def test_separable_model_swaps_only_the_convolutions_that_gain():
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(16, 4, 1), nn.Flatten(), nn.Linear(4 * 36, 10))
    new = F.separable_model(model, activation=True, init="random")
    assert isinstance(new[2], F.Separable) and isinstance(new[2][1], nn.ReLU)
    assert isinstance(new[0], nn.Conv2d) and isinstance(new[4], nn.Conv2d)   # one input channel / 1×1: kept
    assert model[2].__class__ is nn.Conv2d                                    # the original is untouched
    assert new(torch.randn(2, 1, 6, 6)).shape == (2, 10)
    named = F.separable_model(model, ["0"], init="random")
    assert isinstance(named[0], F.Separable)


@pytest.mark.parametrize("m,n,r", [(20, 30, 1), (20, 30, 7), (64, 512, 16), (10, 10, 10)])
def test_linear_factorisation_has_exactly_r_m_plus_n_plus_m_parameters(m, n, r):
    lin = nn.Linear(n, m)
    low = F.factorize_linear(lin, r)
    assert n_params(low) == r * (m + n) + m == F.factorized_params(m, n, r)
    assert n_params(F.factorize_linear(nn.Linear(n, m, bias=False), r)) == F.factorized_params(m, n, r, bias=False)
    x = torch.randn(5, n)
    want = x @ F.low_rank_approximation(lin.weight, r).T + lin.bias
    assert torch.allclose(low(x), want, atol=1e-5)
    assert low.rank == r


def test_conv_factorisation_parameters_shapes_and_full_rank_identity():
    conv = nn.Conv2d(8, 16, 3, stride=2, padding=1)
    x = torch.randn(2, 8, 11, 11)
    for r in (1, 4, 9):
        low = F.factorize_conv(conv, r)
        assert n_params(low) == F.factorized_params(16, 8 * 9, r)
        assert low(x).shape == conv(x).shape
    full = F.factorize_conv(conv, 16)                     # min(16, 72) = 16: exact
    assert torch.allclose(full(x), conv(x), atol=1e-5)
    assert full.energy == pytest.approx(1.0)
    c1 = nn.Conv1d(4, 25, 5, stride=2, padding=1)
    assert n_params(F.factorize_conv(c1, 3)) == 3 * (25 + 20) + 25


def test_eckart_young_truncated_svd_is_the_best_rank_r_approximation():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(12, 9, generator=g, dtype=torch.float64)
    s = torch.linalg.svdvals(w)
    for r in (1, 3, 6):
        w_r = F.low_rank_approximation(w, r)
        err = torch.linalg.matrix_norm(w - w_r)
        assert torch.linalg.matrix_rank(w_r) == r
        assert err ** 2 == pytest.approx(s[r:].square().sum().item(), rel=1e-10)
        for _ in range(30):                               # random rank-r competitors, and perturbations of W_r
            a, b = torch.randn(12, r, generator=g, dtype=torch.float64), torch.randn(r, 9, generator=g,
                                                                                    dtype=torch.float64)
            assert err <= torch.linalg.matrix_norm(w - a @ b)
            u, sv, vh = torch.linalg.svd(w_r + 1e-3 * a @ b)
            other = (u[:, :r] * sv[:r]) @ vh[:r]          # a nearby rank-r matrix
            assert err <= torch.linalg.matrix_norm(w - other) + 1e-12
        lowrank = torch.svd_lowrank(w, q=r, niter=4, M=None)   # torch's randomised peer: never better
        approx = (lowrank[0] * lowrank[1]) @ lowrank[2].T
        assert err <= torch.linalg.matrix_norm(w - approx) + 1e-9


def test_energy_rank_is_the_smallest_rank_reaching_the_fraction():
    s = torch.tensor([3.0, 2.0, 1.0, 0.5])
    total = (s ** 2).sum()                                 # 9 + 4 + 1 + 0.25 = 14.25
    assert F.energy_rank(s, 9 / 14.25) == 1
    assert F.energy_rank(s, 9 / 14.25 + 1e-6) == 2
    assert F.energy_rank(s, 0.9) == 2                      # 13/14.25 = 0.912
    assert F.energy_rank(s, 0.95) == 3
    assert F.energy_rank(s, 1.0) == 4
    lin = nn.Linear(40, 30)
    low = F.factorize_linear(lin, energy=0.9)
    sv = torch.linalg.svdvals(lin.weight.double())
    kept = (sv[:low.rank] ** 2).sum() / (sv ** 2).sum()
    assert kept >= 0.9 and (sv[:low.rank - 1] ** 2).sum() / (sv ** 2).sum() < 0.9
    assert low.energy == pytest.approx(kept.item())
    assert total > 0


def test_factorize_model_caps_rank_and_keeps_layers_that_would_grow():
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 64), nn.ReLU(),
                          nn.Linear(64, 10))
    new = F.factorize_model(model, rank=5)
    assert set(F.ranks_of(new)) == {"3", "5"}              # the 8×9 conv kernel: 5·(8 + 9) = 85 > 72, kept whole
    assert new(torch.randn(2, 1, 6, 6)).shape == (2, 10)
    only = F.factorize_model(model, ["3"], rank=200)        # capped at min(64, 128)
    assert F.ranks_of(only) == {} and type(only[3]) is nn.Linear   # no gain at the capped rank 64: kept whole
    capped = F.factorize_model(model, ["3"], rank=200, only_if_smaller=False)
    assert F.ranks_of(capped)["3"][0] == 64
    forced = F.factorize_model(model, ["3"], rank=16, only_if_smaller=False)
    assert F.ranks_of(forced) == {"3": (16, pytest.approx(F.ranks_of(forced)["3"][1]))}


def test_bad_input_gets_a_clear_error():
    lin = nn.Linear(30, 20)
    with pytest.raises(ValueError, match=r"rank must be at most min\(m, n\) = min\(20, 30\) = 20"):
        F.factorize_linear(lin, 21)
    with pytest.raises(ValueError, match="at most min"):
        F.truncated_svd(torch.randn(5, 3), 4)
    with pytest.raises(ValueError, match="rank must be an int >= 1"):
        F.factorize_linear(lin, 0)
    with pytest.raises(TypeError, match="rank must be an int"):
        F.factorize_linear(lin, 2.5)
    with pytest.raises(ValueError, match="exactly one of rank"):
        F.factorize_linear(lin)
    with pytest.raises(ValueError, match="exactly one of rank"):
        F.factorize_linear(lin, 3, energy=0.9)
    with pytest.raises(ValueError, match=r"energy must be in \(0, 1\]"):
        F.factorize_linear(lin, energy=1.5)
    with pytest.raises(ValueError, match="at most min"):
        F.factorize_conv(nn.Conv2d(2, 4, 3), 19)            # C_in·K² = 18
    with pytest.raises(ValueError, match="groups=1"):
        F.depthwise_separable(nn.Conv2d(4, 4, 3, groups=4))
    with pytest.raises(TypeError, match="expected an nn.Conv1d"):
        F.depthwise_separable(lin)
    with pytest.raises(TypeError, match="expected an nn.Linear or a dense"):
        F.factorize(nn.ReLU(), 2)
    with pytest.raises(ValueError, match="activation=False"):
        F.depthwise_separable(nn.Conv2d(2, 4, 3), activation=True)
    with pytest.raises(ValueError, match="has no module 'nope'"):
        F.factorize_model(nn.Sequential(lin), ["nope"], rank=2)
    with pytest.raises(ValueError, match="2-D weight"):
        F.truncated_svd(torch.randn(3, 3, 3), 1)
