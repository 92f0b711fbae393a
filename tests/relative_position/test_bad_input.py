"""Bad input to relation-aware attention and the position helpers gets a clear error (issue 13)."""
import numpy as np
import pytest
import torch

from course_lib.relative_position.attention import RelativeMultiheadAttention, relative_attention
from course_lib.relative_position.positions import (
    RelativePositionTable,
    relative_position_index,
    sinusoidal_encoding,
)


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(2, 2, 5, 4, generator=g) for _ in range(3))
    return q, k, v, torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)


@pytest.mark.parametrize("impl", ["fused", "einsum", "naive"])
@pytest.mark.parametrize("which", ["q", "k", "v", "rel_k", "rel_v"])
def test_nonfinite_inputs_are_named(impl, which):
    q, k, v, wk, wv = _inputs()
    named = dict(q=q, k=k, v=v, rel_k=wk, rel_v=wv)
    named[which][0, 0] = float("nan") if which != "v" else float("inf")
    with pytest.raises(ValueError, match=rf"^{which} must be finite \(no NaN or ±inf\); found"):
        relative_attention(named["q"], named["k"], named["v"], named["rel_k"], named["rel_v"], impl=impl)


def test_plain_attention_path_is_checked_too():
    q, k, v, _, _ = _inputs()
    k[1, 1, 2, 3] = float("-inf")
    with pytest.raises(ValueError, match="k must be finite"):
        relative_attention(q, k, v)


def test_non_tensor_and_integer_inputs_raise_type_error():
    q, k, v, wk, wv = _inputs()
    with pytest.raises(TypeError, match="q must be a floating-point torch.Tensor"):
        relative_attention(q.tolist(), k, v, wk, wv)
    with pytest.raises(TypeError, match="rel_k must be a floating-point"):
        relative_attention(q, k, v, wk.long(), wv)


def test_numpy_integers_are_accepted_and_bools_rejected():
    rel = relative_position_index(np.int64(4), np.int32(6), np.int64(2), q_offset=np.int16(1))
    assert torch.equal(rel, relative_position_index(4, 6, 2, q_offset=1))
    assert RelativePositionTable(np.int64(3), np.int64(8)).weight.shape == (7, 8)
    assert sinusoidal_encoding(np.int64(5), np.int64(6)).shape == (5, 6)
    for bad in (True, 2.0, "2"):
        with pytest.raises(ValueError, match="k must be an int >= 0"):
            relative_position_index(4, 4, bad)


def test_sinusoids_keep_float64_phases_and_return_the_requested_dtype():
    pe = sinusoidal_encoding(3, 4, offset=10_000, device="cpu", dtype=torch.float32)
    p = torch.arange(10_000, 10_003, dtype=torch.float64)[:, None]
    inv = torch.tensor([1.0, 10000.0 ** -0.5], dtype=torch.float64)
    ref = torch.stack([torch.sin(p * inv[0]), torch.cos(p * inv[0]), torch.sin(p * inv[1]), torch.cos(p * inv[1])],
                      -1).squeeze(1)
    assert pe.dtype == torch.float32 and torch.allclose(pe.double(), ref, atol=1e-7)


def test_module_forward_still_runs_on_its_unchecked_fast_path():
    attn = RelativeMultiheadAttention(8, 2, 2)
    y, _ = attn(torch.randn(2, 5, 8))
    assert y.shape == (2, 5, 8) and bool(torch.isfinite(y).all())
