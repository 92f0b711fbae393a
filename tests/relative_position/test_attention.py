"""The four attention formulations agree (values and gradients); masks, caching and edge cases."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from course_lib.relative_position.attention import (
    KVCache,
    RelativeMultiheadAttention,
    causal_mask,
    relative_attention,
)


def _run(impl, tensors, upstream, **kw):
    ins = [None if t is None else t.clone().requires_grad_() for t in tensors]
    out = relative_attention(*ins, impl=impl, **kw)[0]
    out.backward(upstream)
    return [out.detach()] + [None if t is None else t.grad for t in ins]


def _max_diff(a, b):
    return max(float((x - y).abs().max()) for x, y in zip(a, b) if x is not None)


def test_split_einsum_equals_naive_at_brief_shape():
    # brief §6.6: d = 128, 4 heads, k = 16, batch 8 — assert <= 1e-5 on the outputs
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(8, 4, 24, 128, generator=g) for _ in range(3))
    wk, wv = (torch.randn(33, 128, generator=g) for _ in range(2))
    naive = relative_attention(q, k, v, wk, wv, impl="naive")[0]
    for impl in ("einsum", "fused"):
        assert float((relative_attention(q, k, v, wk, wv, impl=impl)[0] - naive).abs().max()) <= 1e-5


@given(n=st.integers(1, 14), kk=st.integers(0, 6), per_head=st.booleans(), keys=st.booleans(),
       values=st.booleans(), causal=st.booleans(), pad=st.booleans(), seed=st.integers(0, 10_000))
def test_fused_and_einsum_match_naive_including_gradients(n, kk, per_head, keys, values, causal, pad, seed):
    g = torch.Generator().manual_seed(seed)
    b, h, d = 2, 3, 4
    q, k, v = (torch.randn(b, h, n, d, generator=g, dtype=torch.float64) for _ in range(3))
    shape = (h, 2 * kk + 1, d) if per_head else (2 * kk + 1, d)
    wk = torch.randn(shape, generator=g, dtype=torch.float64) if keys else None
    wv = torch.randn(shape, generator=g, dtype=torch.float64) if values else None
    mask = None
    if pad and n > 1:
        mask = torch.ones(b, 1, 1, n, dtype=torch.bool)
        mask[0, ..., -1] = False
    up = torch.randn(b, h, n, d, generator=g, dtype=torch.float64)
    ref = _run("naive", (q, k, v, wk, wv), up, mask=mask, causal=causal)
    for impl in ("einsum", "fused"):
        assert _max_diff(_run(impl, (q, k, v, wk, wv), up, mask=mask, causal=causal), ref) < 1e-10


@pytest.mark.parametrize("n_q,n_k,off", [(1, 9, 8), (3, 9, 6), (4, 30, 26)])
def test_query_offsets_match_naive(n_q, n_k, off):
    g = torch.Generator().manual_seed(1)
    q = torch.randn(2, 2, n_q, 5, generator=g, dtype=torch.float64)
    k, v = (torch.randn(2, 2, n_k, 5, generator=g, dtype=torch.float64) for _ in range(2))
    wk, wv = (torch.randn(7, 5, generator=g, dtype=torch.float64) for _ in range(2))
    up = torch.randn(2, 2, n_q, 5, generator=g, dtype=torch.float64)
    for causal in (False, True):
        ref = _run("naive", (q, k, v, wk, wv), up, q_offset=off, causal=causal)
        assert _max_diff(_run("fused", (q, k, v, wk, wv), up, q_offset=off, causal=causal), ref) < 1e-10


def test_sdpa_bias_matches_keys_only_and_refuses_values():
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(2, 2, 10, 8, generator=g) for _ in range(3))
    wk = torch.randn(5, 8, generator=g)
    a = relative_attention(q, k, v, wk, None, impl="sdpa_bias", causal=True)[0]
    b = relative_attention(q, k, v, wk, None, impl="naive", causal=True)[0]
    assert torch.allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError, match="value term"):
        relative_attention(q, k, v, wk, wk, impl="sdpa_bias")


def test_zero_tables_reduce_to_standard_attention():
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 4, 12, 8, generator=g) for _ in range(3))
    z = torch.zeros(9, 8)
    want = F.scaled_dot_product_attention(q, k, v)
    for impl in ("naive", "einsum", "fused"):
        assert torch.allclose(relative_attention(q, k, v, z, z, impl=impl)[0], want, atol=1e-5)


def test_k0_is_attention_plus_a_constant_value_bias():
    g = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(1, 2, 9, 4, generator=g) for _ in range(3))
    wk, wv = torch.randn(1, 4, generator=g), torch.randn(1, 4, generator=g)
    out = relative_attention(q, k, v, wk, wv)[0]
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v) + wv[0], atol=1e-5)


def test_dropout_backward_is_exact():
    g = torch.Generator().manual_seed(5)
    ins = tuple(torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True)
                for s in [(1, 2, 6, 3)] * 3 + [(5, 3)] * 2)

    def f(*t):
        torch.manual_seed(7)
        return relative_attention(*t, dropout_p=0.3)[0]

    assert torch.autograd.gradcheck(f, ins)


def test_weights_are_probabilities_and_causal():
    g = torch.Generator().manual_seed(6)
    q, k, v = (torch.randn(2, 2, 7, 4, generator=g) for _ in range(3))
    w = relative_attention(q, k, v, torch.randn(5, 4), torch.randn(5, 4), causal=True, need_weights=True)[1]
    assert torch.allclose(w.sum(-1), torch.ones(2, 2, 7))
    assert float(w.masked_select(~causal_mask(7)).abs().max()) == 0.0


def test_module_cached_steps_equal_full_causal_pass():
    torch.manual_seed(0)
    attn = RelativeMultiheadAttention(16, 4, 3).eval()
    x = torch.randn(2, 11, 16)
    with torch.no_grad():
        full = attn(x, causal=True)[0]
        cache = KVCache()
        steps = torch.cat([attn(x[:, t:t + 1], causal=True, cache=cache)[0] for t in range(11)], dim=1)
        cache2 = KVCache()
        chunks = torch.cat([attn(x[:, :5], causal=True, cache=cache2)[0],
                            attn(x[:, 5:], causal=True, cache=cache2)[0]], dim=1)
    assert torch.allclose(full, steps, atol=1e-5) and torch.allclose(full, chunks, atol=1e-5)
    assert cache.length == 11


@pytest.mark.parametrize("impl", ["fused", "einsum", "naive"])
def test_module_impls_agree_and_handle_long_inputs(impl):
    torch.manual_seed(0)
    ref = RelativeMultiheadAttention(16, 2, 4)
    other = RelativeMultiheadAttention(16, 2, 4, impl=impl)
    other.load_state_dict(ref.state_dict())
    x = torch.randn(1, 130, 16)  # n >> k
    assert torch.allclose(ref(x)[0], other(x)[0], atol=1e-5)


def test_module_validates_inputs():
    with pytest.raises(ValueError, match="divisible"):
        RelativeMultiheadAttention(10, 3, 2)
    with pytest.raises(ValueError, match="impl"):
        RelativeMultiheadAttention(8, 2, 2, impl="cuda_magic")
    attn = RelativeMultiheadAttention(8, 2, 2)
    with pytest.raises(ValueError, match="batch, length, 8"):
        attn(torch.randn(2, 5, 7))
    with pytest.raises(ValueError, match="key_padding_mask"):
        attn(torch.randn(2, 5, 8), key_padding_mask=torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        relative_attention(*(torch.randn(1, 2, 3, 4) for _ in range(3)), mask=torch.ones(3, 3))
    with pytest.raises(ValueError, match="table"):
        relative_attention(*(torch.randn(1, 2, 3, 4) for _ in range(3)), torch.randn(4, 4))


def test_plain_module_without_tables_is_standard_mha():
    torch.manual_seed(0)
    attn = RelativeMultiheadAttention(16, 4, None)
    assert attn.rel_k is None and attn.rel_v is None
    x = torch.randn(2, 6, 16)
    q, k, v = attn.project(x)
    want = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(2, 6, 16)
    assert torch.allclose(attn(x)[0], attn.out_proj(want), atol=1e-6)
    assert math.isclose(float(attn(x, need_weights=True)[1].sum()), 2 * 4 * 6, rel_tol=1e-5)


def test_per_head_tables_shapes_and_gradients():
    attn = RelativeMultiheadAttention(12, 3, 2, per_head_tables=True)
    assert attn.rel_k.weight.shape == (3, 5, 4)
    attn(torch.randn(2, 9, 12))[0].sum().backward()
    assert all(p.grad is not None for p in attn.parameters())
    assert list(itertools.chain(attn.rel_k.weight.grad.shape)) == [3, 5, 4]


def test_relation_aware_attention_with_graph_labels_generalises_relative_positions():
    from course_lib.relative_position.attention import relation_aware_attention
    from course_lib.relative_position.positions import relative_position_index

    g = torch.Generator().manual_seed(8)
    q, k, v = (torch.randn(2, 2, 6, 4, generator=g) for _ in range(3))
    wk, wv = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    rel = relative_position_index(6, 6, 2)
    a = relation_aware_attention(q, k, v, rel, wk, wv)[0]
    assert torch.allclose(a, relative_attention(q, k, v, wk, wv, impl="naive")[0], atol=1e-5)
    labels = torch.randint(0, 3, (6, 6), generator=g)  # e.g. edge types of a small graph
    out, p = relation_aware_attention(q, k, v, labels, wk[:3], None)
    assert out.shape == q.shape and torch.allclose(p.sum(-1), torch.ones(2, 2, 6))
    with pytest.raises(ValueError, match="labels must be"):
        relation_aware_attention(q, k, v, labels.float(), wk)
    with pytest.raises(ValueError, match="tables must be"):
        relation_aware_attention(q, k, v, labels + 10, wk)


def test_autocast_bfloat16_runs_and_keeps_fp32_table_gradients():
    torch.manual_seed(0)
    attn = RelativeMultiheadAttention(32, 4, 4)
    x = torch.randn(2, 10, 32)
    ref = attn(x)[0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = attn(x)[0]
    assert y.dtype == torch.bfloat16 and float((y.float() - ref).abs().max().detach()) < 0.05
    y.float().sum().backward()
    assert attn.rel_k.weight.grad.dtype == torch.float32


@pytest.mark.parametrize("block", [1, 40, 200])
def test_blocked_fused_kernel_equals_naive(block):
    from course_lib.relative_position.attention import relative_attention_fused

    g = torch.Generator().manual_seed(9)
    q, k, v = (torch.randn(3, 4, 6, 5, generator=g, dtype=torch.float64) for _ in range(3))
    wk, wv = (torch.randn(4, 5, 5, generator=g, dtype=torch.float64) for _ in range(2))  # per-head, k = 2
    mask = torch.ones(3, 1, 1, 6, dtype=torch.bool)
    mask[1, ..., -2:] = False
    up = torch.randn(3, 4, 6, 5, generator=g, dtype=torch.float64)
    ref = _run("naive", (q, k, v, wk, wv), up, mask=mask, causal=True)
    ins = [t.clone().requires_grad_() for t in (q, k, v, wk, wv)]
    out, p = relative_attention_fused(*ins, mask=mask, causal=True, block_elements=block)
    out.backward(up)
    assert p.shape == (3, 4, 6, 6)
    assert _max_diff([out.detach()] + [t.grad for t in ins], ref) < 1e-10
