"""Relative index matrix, clipping convention, tables and absolute position encodings."""
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from course_lib.relative_position.positions import (
    LearnedPositionalEmbedding,
    RelativePositionTable,
    clip_distance,
    relative_position_index,
    sinusoidal_encoding,
)


def test_hand_made_four_token_example():
    # rel[i, j] = clip(j - i, -k, k) + k with k = 2: a key to the right of the query has a positive distance
    want = torch.tensor([[2, 3, 4, 4],
                         [1, 2, 3, 4],
                         [0, 1, 2, 3],
                         [0, 0, 1, 2]])
    assert torch.equal(relative_position_index(4, 4, 2), want)
    assert torch.equal(relative_position_index(4, 4, 1), torch.tensor([[1, 2, 2, 2], [0, 1, 2, 2],
                                                                       [0, 0, 1, 2], [0, 0, 0, 1]]))


@given(n_q=st.integers(1, 30), extra=st.integers(0, 30), k=st.integers(0, 12), off=st.integers(0, 20))
def test_index_depends_only_on_clipped_distance(n_q, extra, k, off):
    n_k = n_q + extra
    rel = relative_position_index(n_q, n_k, k, q_offset=off)
    i = torch.arange(n_q)[:, None] + off
    j = torch.arange(n_k)[None, :]
    assert rel.shape == (n_q, n_k)
    assert int(rel.min()) >= 0 and int(rel.max()) <= 2 * k
    assert torch.equal(rel, (j - i).clamp(-k, k) + k)
    # joint shift of query and key positions leaves the index unchanged
    if n_q > 1 and n_k > 1:
        assert torch.equal(rel[1:, 1:], rel[:-1, :-1])


def test_long_sequences_beyond_k_have_no_index_errors():
    table = RelativePositionTable(k=4, depth=8)
    a = table(500)  # lengths >> k and >> any training length
    assert a.shape == (500, 500, 8)
    assert torch.equal(a[0, 499], table.weight[8]) and torch.equal(a[499, 0], table.weight[0])


def test_per_head_table_and_incremental_row():
    table = RelativePositionTable(k=2, depth=3, heads=5)
    assert table(4).shape == (5, 4, 4, 3)
    row = relative_position_index(1, 7, 2, q_offset=6)
    assert row.tolist() == [[0, 0, 0, 0, 0, 1, 2]]


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="k must be an int >= 0"):
        relative_position_index(3, 3, -1)
    with pytest.raises(ValueError, match="n_q must be"):
        relative_position_index(0, 3, 2)
    with pytest.raises(TypeError, match="integer tensor"):
        clip_distance(torch.zeros(3), 2)


def test_sinusoids_and_learned_positions():
    pe = sinusoidal_encoding(50, 16)
    assert pe.shape == (50, 16)
    assert torch.allclose(pe[0, 0::2], torch.zeros(8)) and torch.allclose(pe[0, 1::2], torch.ones(8))
    assert torch.allclose(sinusoidal_encoding(10, 16, offset=40), pe[40:50])
    with pytest.raises(ValueError, match="even"):
        sinusoidal_encoding(4, 7)
    learned = LearnedPositionalEmbedding(8, 4)
    assert learned(3, offset=5).shape == (3, 4)
    with pytest.raises(ValueError, match="cannot extrapolate"):
        learned(4, offset=5)
