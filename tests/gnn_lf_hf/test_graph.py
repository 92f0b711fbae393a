import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from course_lib.gnn_lf_hf.graph import (
    CSRPair,
    add_self_loops,
    adjacency,
    as_csr,
    coo,
    edge_homophily,
    karate_club,
    laplacian,
    normalized_adjacency,
    spmm,
)

from .conftest import a_hat_of, random_graph


@given(n=st.integers(2, 25), p=st.floats(0.05, 0.9), seed=st.integers(0, 10_000))
def test_normalized_adjacency_properties(n, p, seed):
    ei = random_graph(n, p, seed)
    A = adjacency(ei, n, dtype=torch.float64)
    Ad = A.to_dense()
    assert torch.equal(Ad, Ad.T) and float(Ad.diagonal().abs().sum()) == 0.0
    A_hat = normalized_adjacency(A).to_dense()
    deg = Ad.sum(1) + 1
    expected = (Ad + torch.eye(n, dtype=torch.float64)) / torch.sqrt(deg[:, None] * deg[None, :])
    torch.testing.assert_close(A_hat, expected)
    ev = torch.linalg.eigvalsh(A_hat)
    assert float(ev.max()) == pytest.approx(1.0, abs=1e-10)  # D̃^{1/2}1 is an eigenvector
    assert float(ev.min()) > -1.0
    L = laplacian(normalized_adjacency(A)).to_dense()
    torch.testing.assert_close(L, torch.eye(n, dtype=torch.float64) - A_hat)
    lam = torch.linalg.eigvalsh(L)
    assert float(lam.min()) > -1e-10 and float(lam.max()) < 2.0


def test_adjacency_symmetrises_and_dedups():
    ei = torch.tensor([[0, 0, 1, 2, 2], [1, 1, 2, 2, 0]])  # duplicate 0→1, self-loop 2→2
    A = adjacency(ei, 3).to_dense()
    assert torch.equal(A, torch.tensor([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]]))
    assert torch.equal(add_self_loops(adjacency(ei, 3)).to_dense().diagonal(), torch.ones(3))


def test_adjacency_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        adjacency(torch.zeros(3, 4, dtype=torch.long), 5)
    with pytest.raises(ValueError, match="outside"):
        adjacency(torch.tensor([[0], [7]]), 5)
    with pytest.raises(TypeError, match="integers"):
        adjacency(torch.zeros(2, 3), 5)
    with pytest.raises(ValueError, match="square"):
        normalized_adjacency(torch.eye(3))


@given(n=st.integers(3, 20), seed=st.integers(0, 1000), d=st.integers(1, 5))
def test_csr_spmm_forward_and_backward_match_dense(n, seed, d):
    A_hat = a_hat_of(random_graph(n, 0.4, seed), n)
    S = as_csr(A_hat)
    X = torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed), requires_grad=True)
    W = torch.randn(n, d, dtype=torch.float64)
    (spmm(S, X) * W).sum().backward()
    g1 = X.grad.clone()
    X.grad = None
    (A_hat.to_dense() @ X * W).sum().backward()
    torch.testing.assert_close(g1, X.grad)
    torch.testing.assert_close(spmm(S, X.detach()), A_hat.to_dense() @ X.detach())


def test_csrpair_matmul_and_consistent_dropout():
    g = torch.Generator().manual_seed(0)
    dense = (torch.rand(6, 9, generator=g) < 0.4).double() * torch.rand(6, 9, generator=g, dtype=torch.float64)
    X = dense.to_sparse()
    pair = CSRPair(X)
    W = torch.randn(9, 3, dtype=torch.float64, requires_grad=True)
    out = pair.matmul(W)
    torch.testing.assert_close(out, dense @ W)
    out.sum().backward()
    torch.testing.assert_close(W.grad, dense.T @ torch.ones(6, 3, dtype=torch.float64))
    # with dropout, the forward and the transposed (backward) matrices must use the same mask
    S, St = pair.with_values(pair.values * torch.arange(pair.values.numel(), dtype=torch.float64))
    torch.testing.assert_close(S.to_dense().T, St.to_dense())
    torch.manual_seed(1)
    W.grad = None
    y = pair.matmul(W, dropout=0.5, training=True)
    y.sum().backward()
    assert not torch.allclose(y, dense @ W)


def test_edge_homophily_and_karate():
    ei, y = karate_club()
    assert ei.shape == (2, 156) and y.numel() == 34 and int(y.sum()) == 17
    h = edge_homophily(ei, y)
    assert 0.8 < h < 0.9  # the club split cuts 11 of the 78 friendships
    assert h == pytest.approx(67 / 78)
    with pytest.raises(ValueError, match="no edges"):
        edge_homophily(torch.tensor([[0], [0]]), y)
    assert coo(torch.tensor([[0], [1]]), torch.tensor([2.0]), (2, 2)).to_dense()[0, 1] == 2.0
