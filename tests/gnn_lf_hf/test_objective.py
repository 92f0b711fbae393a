import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from course_lib.gnn_lf_hf.objective import (
    kernel_sqrt,
    laplacian_regularizer,
    objective,
    objective_explicit,
    objective_grad,
    objective_spec,
    pairwise_smoothness,
    stationary_point,
)
from course_lib.gnn_lf_hf.propagation import closed_form

from .conftest import a_hat_of, random_graph

KINDS = ["sgc", "gcn", "appnp", "jknet", "dagnn", "lf", "hf"]


def _kernels(kind, A, alpha, mu, beta):
    """Dense F₁, F₂ of Eq. 3 as the paper states them (Table 1, Thm 4.1, Thm 4.3)."""
    n = A.size(0)
    eye = torch.eye(n, dtype=torch.float64)
    if kind == "jknet":
        return eye, A
    if kind == "lf":
        F = kernel_sqrt(mu * eye + (1 - mu) * A)
        return F, F
    if kind == "hf":
        F = kernel_sqrt(eye + beta * (eye - A))
        return F, F
    return eye, eye


@given(n=st.integers(4, 16), seed=st.integers(0, 300), kind=st.sampled_from(KINDS),
       alpha=st.floats(0.05, 0.6), mu=st.floats(0.5, 1.0), beta=st.floats(0.0, 4.0))
def test_gram_objective_equals_literal_eq3(n, seed, kind, alpha, mu, beta):
    A_hat = a_hat_of(random_graph(n, 0.35, seed), n)
    A = A_hat.to_dense()
    g = torch.Generator().manual_seed(seed)
    Z, H = (torch.randn(n, 3, dtype=torch.float64, generator=g) for _ in range(2))
    spec = objective_spec(kind, alpha=alpha, mu=mu, beta=beta)
    F1, F2 = _kernels(kind, A, alpha, mu, beta)
    L = torch.eye(n, dtype=torch.float64) - A
    ref = objective_explicit(Z, H, F1, F2, L, spec.zeta, spec.xi)
    assert float(objective(Z, H, A_hat, spec)) == pytest.approx(float(ref), rel=1e-9, abs=1e-9)


@given(n=st.integers(4, 16), seed=st.integers(0, 300), kind=st.sampled_from(KINDS))
def test_gradient_matches_autograd(n, seed, kind):
    A_hat = a_hat_of(random_graph(n, 0.35, seed), n)
    g = torch.Generator().manual_seed(seed)
    Z = torch.randn(n, 2, dtype=torch.float64, generator=g).requires_grad_()
    H = torch.randn(n, 2, dtype=torch.float64, generator=g)
    spec = objective_spec(kind, alpha=0.2, mu=0.7, beta=1.3)
    objective(Z, H, A_hat, spec).backward()
    torch.testing.assert_close(objective_grad(Z.detach(), H, A_hat, spec), Z.grad)


@pytest.mark.parametrize("kind", KINDS)
def test_closed_form_is_stationary_and_a_minimum(kind, karate):
    _, y, A_hat = karate
    H = torch.randn(34, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    spec = objective_spec(kind, alpha=0.15, mu=0.8, beta=2.0)
    Z = closed_form(kind, H, A_hat, alpha=0.15, mu=0.8, beta=2.0)
    assert float(objective_grad(Z, H, A_hat, spec).norm()) < 1e-9
    torch.testing.assert_close(Z, stationary_point(H, A_hat, spec), atol=1e-9, rtol=0)
    # convex objective: any perturbation does not decrease it
    base = float(objective(Z, H, A_hat, spec))
    for s in range(3):
        D = torch.randn(34, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(10 + s))
        assert float(objective(Z + 1e-2 * D, H, A_hat, spec)) >= base - 1e-12


def test_regulariser_identity_and_paper_eq4(karate):
    ei, y, A_hat = karate
    Z = torch.randn(34, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    tr = float(laplacian_regularizer(Z, A_hat))
    assert float(pairwise_smoothness(Z, ei)) == pytest.approx(tr, rel=1e-12)
    # the paper's Eq. 4 (no degree normalisation) is a different number
    assert abs(float(pairwise_smoothness(Z, ei, degree_normalized=False)) - tr) > 1e-3
    # a constant signal is NOT free under L̃ (only D̃^{1/2}1 is)
    const = torch.ones(34, 1, dtype=torch.float64)
    assert float(laplacian_regularizer(const, A_hat)) > 1e-3
    d = 1.0 / A_hat.to_dense().diagonal()
    assert float(laplacian_regularizer(d.sqrt()[:, None], A_hat)) == pytest.approx(0.0, abs=1e-12)


def test_kernel_sqrt_and_errors():
    M = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    R = kernel_sqrt(M)
    torch.testing.assert_close(R @ R, M)
    with pytest.raises(ValueError, match="semi-definite"):
        kernel_sqrt(torch.tensor([[0.0, 2.0], [2.0, 0.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="must both be"):
        objective(torch.zeros(3, 2), torch.zeros(3, 3), torch.eye(3).to_sparse(), objective_spec("appnp"))
