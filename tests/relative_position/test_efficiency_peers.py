"""Timing/memory helpers and the transformers peer modules (random weights, offline)."""
import pytest
import torch

from course_lib.relative_position import efficiency as eff
from course_lib.relative_position.peers import count_parameters, peer_modules


def test_memory_naive_grows_with_batch_times_heads():
    t = eff.memory_table((16, 32), impls=("naive", "einsum", "fused"))
    mb = t.set_index(["n", "impl"])["saved MB"]
    assert mb[(32, "naive")] > 3.5 * mb[(16, "naive")]  # ~ n^2
    assert mb[(32, "naive")] > 8 * mb[(32, "fused")] and mb[(32, "naive")] > 8 * mb[(32, "einsum")]
    assert eff.relation_tensor_bytes(64, batch=8, heads=4, d_head=32, impl="naive") == 2 * 8 * 4 * 64 * 64 * 32 * 4
    with pytest.raises(ValueError, match="impl"):
        eff.relation_tensor_bytes(4, batch=1, heads=1, d_head=1, impl="flash")


def test_saved_tensor_bytes_counts_distinct_storages():
    x = torch.randn(100, requires_grad=True)
    assert eff.saved_tensor_bytes(lambda: (x * x).sum()) == 400
    assert eff.saved_tensor_bytes(lambda: (x * 2).sum()) == 0


def test_interleaved_timings_and_tables():
    best = eff.interleaved_timings({"a": lambda: sum(range(100)), "b": lambda: sum(range(10_000))}, rounds=3)
    assert 0 <= best["a"] < best["b"]
    with pytest.raises(ValueError, match="rounds"):
        eff.interleaved_timings({}, rounds=0)
    t = eff.timing_table((16,), level="core", rounds=1, batch=1)
    assert (t.loc[t.candidate == "torch SDPA (no positions)", "ratio"] == 1.0).all()
    assert "naive (b,h,n,n,d) reference" in set(t.candidate)
    m = eff.timing_table((16,), level="module", rounds=1, batch=1)
    assert eff.ratio_pivot(m).shape == (3, 1)
    with pytest.raises(ValueError, match="level"):
        eff.timing_table((16,), level="gpu")


def test_peer_modules_map_hidden_states_to_hidden_states():
    x = torch.randn(2, 20, 64, requires_grad=True)
    mods = peer_modules(64, 4, k=8)
    assert len(mods) == 4
    for name, m in mods.items():
        y = m(x)
        assert y.shape == x.shape, name
        y.sum().backward()
        assert count_parameters(m) > 0
