import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from course_lib.mcncc import ncc


def _rand(seed, *shape):
    return torch.as_tensor(np.random.default_rng(seed).standard_normal(shape))


def test_mcncc_is_mean_of_pearson_per_channel():
    x, y = _rand(0, 3, 6, 5), _rand(1, 3, 6, 5)
    pearson = [np.corrcoef(x[c].flatten(), y[c].flatten())[0, 1] for c in range(3)]
    assert ncc.mcncc(x, y).item() == pytest.approx(np.mean(pearson), abs=1e-12)
    assert ncc.per_channel_ncc(x, x).numpy() == pytest.approx(np.ones(3))


@given(st.integers(0, 10_000))
def test_invariant_to_per_channel_positive_affine_maps(seed):
    rng = np.random.default_rng(seed)
    x, y = _rand(seed, 4, 7, 6), _rand(seed + 1, 4, 7, 6)
    a = torch.as_tensor(rng.uniform(0.01, 100, (4, 1, 1)))
    b = torch.as_tensor(rng.uniform(-50, 50, (4, 1, 1)))
    mask = torch.as_tensor(rng.random((7, 6)) > 0.3).double()
    mask[0, :2] = 1
    assert (ncc.mcncc(x, a * y + b, mask) - ncc.mcncc(x, y, mask)).abs().item() < 1e-9


def test_3d_ncc_and_cosine_are_not_invariant():
    x = _rand(3, 3, 8, 8)
    gains, biases = torch.tensor([1.0, 5.0, 0.2])[:, None, None], torch.tensor([0.0, 3.0, 1.0])[:, None, None]
    y = gains * x + biases
    assert ncc.mcncc(x, y).item() == pytest.approx(1.0, abs=1e-12)
    assert ncc.ncc3d(x, y).item() < 0.9 and ncc.cosine(x, y).item() < 0.9
    assert ncc.ncc3d(x, x).item() == pytest.approx(1.0) and ncc.cosine(x, x).item() == pytest.approx(1.0)


def test_masked_equals_unmasked_with_all_ones_mask():
    x, y = _rand(4, 5, 9, 7), _rand(5, 5, 9, 7)
    for fn in (ncc.mcncc, ncc.ncc3d, ncc.cosine):
        assert fn(x, y, torch.ones(9, 7)).item() == pytest.approx(fn(x, y).item(), abs=1e-14)


def test_mask_restricts_pixels():
    x, y = _rand(6, 2, 6, 6), _rand(7, 2, 6, 6)
    mask = torch.zeros(6, 6)
    mask[1:4, 2:5] = 1
    assert ncc.mcncc(x, y, mask).item() == pytest.approx(ncc.mcncc(x[:, 1:4, 2:5], y[:, 1:4, 2:5]).item())


def test_flat_channel_gives_zero_not_nan():
    x, y = _rand(8, 3, 5, 5), _rand(9, 3, 5, 5)
    x[1] = 2.5
    r = ncc.per_channel_ncc(x, y)
    assert torch.isfinite(r).all() and r[1].item() == 0.0
    zero = torch.zeros(3, 5, 5)
    assert ncc.mcncc(zero, y).item() == 0.0 and ncc.ncc3d(zero, y).item() == 0.0
    assert ncc.cosine(zero, y).item() == 0.0


def test_weighted_uniform_equals_plain():
    x, y = _rand(10, 4, 5, 5), _rand(11, 4, 5, 5)
    assert ncc.mcncc(x, y, weights=torch.full((4,), 0.25)).item() == pytest.approx(ncc.mcncc(x, y).item())
    with pytest.raises(ValueError, match="one per channel"):
        ncc.mcncc(x, y, weights=torch.ones(3))


@pytest.mark.parametrize("method", ["fft", "conv"])
@pytest.mark.parametrize("shapes", [((2, 3, 13, 11), (3, 3, 5, 6)), ((2, 2, 30, 9), (2, 2, 24, 7)),
                                    ((1, 4, 9, 40), (2, 4, 4, 35))])
def test_sliding_equals_brute_force(method, shapes):
    rng = np.random.default_rng(sum(shapes[0]))
    img = torch.as_tensor(rng.standard_normal(shapes[0]))
    tpl = torch.as_tensor(rng.standard_normal(shapes[1]))
    masks = torch.as_tensor(rng.random((shapes[1][0], *shapes[1][2:])) > 0.3).double()
    out = ncc.sliding_scores(img, tpl, masks, method=method)
    for name in ncc.SCORES:
        assert (out[name] - ncc.brute_force_sliding(img, tpl, masks, name)).abs().max().item() < 1e-10


def test_partial_inverse_dft_matches_irfft2():
    spec = torch.fft.rfft2(torch.randn(3, 20, 18, dtype=torch.float64))
    for out_hw in ((2, 3), (20, 1), (5, 18)):
        full = torch.fft.irfft2(spec, s=(20, 18))[..., :out_hw[0], :out_hw[1]]
        assert (ncc._valid_inverse(spec, (20, 18), out_hw) - full).abs().max() < 1e-12


def test_sliding_float32_within_1e5_of_brute_force():
    rng = np.random.default_rng(0)
    img = torch.as_tensor(rng.random((3, 8, 40, 20)))
    tpl = img[1, :, 10:30, 4:16] * torch.linspace(0.5, 2, 8)[:, None, None] + 1.0
    out = ncc.sliding_scores(img.float(), tpl.float(), None)
    brute = ncc.brute_force_sliding(img, tpl, None)
    assert (out.mcncc.double() - brute).abs().max().item() < 1e-5
    assert out.mcncc[1, 0, 10, 4].item() == pytest.approx(1.0, abs=1e-5)


def test_sliding_masked_equals_unmasked_with_ones_and_weights():
    rng = np.random.default_rng(1)
    img, tpl = torch.as_tensor(rng.random((2, 3, 12, 12))), torch.as_tensor(rng.random((2, 3, 5, 5)))
    a = ncc.sliding_scores(img, tpl, None, channels=True)
    b = ncc.sliding_scores(img, tpl, torch.ones(5, 5), channels=True)
    assert torch.allclose(a.mcncc, b.mcncc, atol=1e-14) and torch.allclose(a.channels, b.channels, atol=1e-14)
    w = torch.tensor([0.2, 0.5, 0.3])
    c = ncc.sliding_scores(img, tpl, None, weights=w)
    assert torch.allclose(c.mcncc, (a.channels * w[:, None, None]).sum(2), atol=1e-14)


def test_sliding_flat_region_is_zero():
    img = torch.rand(1, 2, 20, 20, dtype=torch.float64)
    img[..., :10, :10] = 0.7                                   # a flat patch of paper
    tpl = torch.rand(1, 2, 6, 6, dtype=torch.float64)
    out = ncc.sliding_scores(img, tpl, channels=True)
    assert torch.isfinite(out.channels).all()
    assert out.channels[0, 0, :, :5, :5].abs().max().item() == 0.0


def test_clear_errors():
    img, tpl = torch.rand(1, 3, 10, 10), torch.rand(1, 3, 4, 4)
    with pytest.raises(ValueError, match="larger than the image"):
        ncc.sliding_scores(img, torch.rand(1, 3, 11, 4))
    with pytest.raises(ValueError, match="channel counts differ"):
        ncc.sliding_scores(img, torch.rand(1, 2, 4, 4))
    with pytest.raises(ValueError, match="masks must be"):
        ncc.sliding_scores(img, tpl, torch.ones(3, 3))
    with pytest.raises(ValueError, match="binary"):
        ncc.sliding_scores(img, tpl, torch.full((4, 4), 0.5))
    with pytest.raises(ValueError, match="channel counts differ"):
        ncc.mcncc(torch.rand(3, 4, 4), torch.rand(2, 4, 4))
    with pytest.raises(ValueError, match="spatial shape"):
        ncc.mcncc(torch.rand(3, 4, 4), torch.rand(3, 4, 4), torch.ones(4, 5))
    with pytest.raises(ValueError, match="at least 2 pixels"):
        ncc.mcncc(torch.rand(3, 4, 4), torch.rand(3, 4, 4), torch.zeros(4, 4))
    with pytest.raises(ValueError, match="method"):
        ncc.sliding_scores(img, tpl, method="loops")
    with pytest.raises(TypeError, match="numeric"):
        ncc.mcncc(np.array([["a"]]), np.array([["b"]]))
