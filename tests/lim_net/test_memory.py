import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.lim_net.memory import (
    MemoryBank,
    affinity,
    attention_for_pixel,
    propagate,
    readout,
    topk_softmax,
)
from course_lib.lim_net.models import MemoryNet


def test_affinity_is_negative_scaled_squared_distance():
    g = torch.Generator().manual_seed(0)
    mk, qk = torch.randn(1, 8, 5, generator=g), torch.randn(1, 8, 3, generator=g)
    s = affinity(mk, qk, include_query_norm=True)
    explicit = -((mk[0][:, :, None] - qk[0][:, None, :]) ** 2).sum(0) / math.sqrt(8)
    torch.testing.assert_close(s[0], explicit, atol=1e-5, rtol=1e-5)


def test_query_norm_cancels_in_softmax():
    g = torch.Generator().manual_seed(1)
    mk, qk = torch.randn(2, 4, 7, generator=g), torch.randn(2, 4, 6, generator=g)
    a = topk_softmax(affinity(mk, qk), 3)
    b = topk_softmax(affinity(mk, qk, include_query_norm=True), 3)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 12), st.integers(1, 6), st.integers(0, 1000))
def test_topk_softmax_keeps_k_entries_that_sum_to_one(n, k, seed):
    s = torch.randn(1, n, 4, generator=torch.Generator().manual_seed(seed))
    w = topk_softmax(s, k)
    assert torch.allclose(w.sum(1), torch.ones(1, 4), atol=1e-6)
    assert ((w > 0).sum(1) == min(k, n)).all()
    # the kept entries are the largest similarities of each query
    kept_min = torch.where(w > 0, s, torch.full_like(s, float("inf"))).amin(1)
    dropped_max = torch.where(w > 0, torch.full_like(s, -float("inf")), s).amax(1)
    assert (kept_min >= dropped_max).all()


def test_topk_none_is_plain_softmax_and_readout_shape():
    s = torch.randn(1, 5, 3)
    torch.testing.assert_close(topk_softmax(s, None), torch.softmax(s, 1))
    out, w = readout(torch.randn(1, 4, 10), torch.randn(1, 6, 10), torch.randn(1, 4, 7), top_k=3,
                     return_weights=True)
    assert out.shape == (1, 6, 7) and w.shape == (1, 10, 7)
    with pytest.raises(ValueError):
        topk_softmax(s, 0)


def test_readout_copies_the_value_of_an_identical_key():
    keys = torch.eye(4)[None] * 10  # four well-separated memory keys
    values = torch.arange(8.0).view(1, 2, 4)
    out = readout(keys, values, keys[:, :, 2:3], top_k=1)
    torch.testing.assert_close(out[0, :, 0], values[0, :, 2])


def test_bank_permanent_entries_survive_fifo_and_fifo_is_bounded():
    bank = MemoryBank(fifo_size=3)
    k, v = torch.zeros(2, 2, 2), torch.zeros(3, 2, 2)
    bank.add_permanent(5, k, v)
    for z in range(10):
        bank.add_working(z, k, v)
    assert [e.z for e in bank.working] == [7, 8, 9]
    assert bank.frames()[0] == (5, "permanent") and len(bank) == 4
    bank.add_permanent(5, k + 1, v)  # re-interacted slice replaces its entry
    assert len(bank.permanent) == 1 and bank.permanent[5].key.sum() == 8
    other = bank.copy()
    other.reset_working()
    assert len(other) == 1 and len(bank) == 4
    keys, values = bank.tensors()
    assert keys.shape == (1, 2, 16) and values.shape == (1, 3, 16)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return MemoryNet().eval()


def test_propagate_keeps_prompts_and_records_memory(net):
    g = torch.Generator().manual_seed(0)
    image = torch.rand(9, 32, 32, generator=g)
    prompts = {4: (torch.rand(32, 32, generator=g) > 0.5).float(), 7: torch.zeros(32, 32)}
    res = propagate(net, image, prompts, 4, top_k=5, fifo_size=2, mem_every=1)
    assert res.probs.shape == (9, 32, 32)
    for z, m in prompts.items():
        assert torch.equal(res.probs[z], m)
    assert set(res.memory_frames) == set(range(9)) - set(prompts)
    for frames in res.memory_frames.values():
        perm = [f for f in frames if f[1] == "permanent"]
        work = [f for f in frames if f[1] == "working"]
        assert sorted(f[0] for f in perm) == [4, 7]  # every interacted slice is always in memory
        assert len(work) <= 2
    # moving up from 4: slice 6 reads the working frame of slice 5; slice 3 (downwards) starts a fresh FIFO
    assert (5, "working") in res.memory_frames[6]
    assert not [f for f in res.memory_frames[3] if f[1] == "working"]
    assert ((res.probs >= 0) & (res.probs <= 1)).all()


def test_propagate_is_reproducible_and_validates(net):
    image = torch.rand(6, 16, 16)
    prompts = {2: torch.ones(16, 16)}
    a = propagate(net, image, prompts, 2, top_k=3).probs
    b = propagate(net, image, prompts, 2, top_k=3).probs
    assert torch.equal(a, b)
    with pytest.raises(ValueError):
        propagate(net, image, prompts, 3)


def test_attention_for_pixel_sums_to_one(net):
    image = torch.rand(6, 16, 16)
    w = attention_for_pixel(net, image, [(2, "permanent"), (3, "working")], 4, 5, 6, top_k=4)
    assert w.shape == (2, 4, 4)
    assert w.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert int((w > 0).sum()) == 4
    assert np.isfinite(w.numpy()).all()
