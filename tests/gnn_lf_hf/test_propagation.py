import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from course_lib.gnn_lf_hf.propagation import (
    KINDS,
    canonical_kind,
    check_params,
    closed_form,
    contraction_factor,
    iterate,
    iterative_form,
    null_space_projection,
    propagate,
    solve_shifted,
)

from .conftest import a_hat_of, random_graph

PARAMS = st.fixed_dictionaries({"alpha": st.floats(0.05, 0.6), "mu": st.floats(0.5, 1.0),
                                "beta": st.floats(0.0, 5.0)})


def _signal(n, d=3, seed=0):
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _dense_closed(kind, H, A_hat, alpha, mu, beta):
    """The paper's closed forms written with dense matrices (solve, reference)."""
    n = H.size(0)
    eye = torch.eye(n, dtype=torch.float64)
    A = A_hat.to_dense()
    L = eye - A
    xi = 1 / alpha - 1
    if kind == "appnp":
        return alpha * torch.linalg.solve(eye - (1 - alpha) * A, H)
    if kind == "gcn":
        return torch.linalg.solve(eye + L, H)
    if kind == "jknet":
        return torch.linalg.solve((1 + xi) * eye - xi * A, A @ H)
    if kind == "dagnn":
        return torch.linalg.solve((1 + xi) * eye - xi * A, H)
    if kind == "lf":  # Eq. 30: {μI + (1−μ)Â + (1/α − 1)L̃}^{-1}{μI + (1−μ)Â}H
        M = mu * eye + (1 - mu) * A
        return torch.linalg.solve(M + xi * L, M @ H)
    if kind == "hf":  # Eq. 38
        M = eye + beta * L
        return torch.linalg.solve(M + xi * L, M @ H)
    raise AssertionError(kind)


@given(n=st.integers(4, 25), seed=st.integers(0, 500), params=PARAMS,
       kind=st.sampled_from(["appnp", "gcn", "jknet", "dagnn", "lf", "hf"]))
def test_closed_forms_match_dense_paper_formulas(n, seed, params, kind):
    A_hat = a_hat_of(random_graph(n, 0.3, seed), n)
    H = _signal(n, seed=seed)
    ref = _dense_closed(kind, H, A_hat, **params)
    torch.testing.assert_close(closed_form(kind, H, A_hat, **params), ref, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(closed_form(kind, H, A_hat, method="dense", **params), ref, atol=1e-10, rtol=1e-10)


@given(n=st.integers(4, 20), seed=st.integers(0, 500), params=PARAMS,
       kind=st.sampled_from(["appnp", "gcn", "jknet", "dagnn", "lf", "hf"]))
def test_iterative_error_obeys_contraction_bound(n, seed, params, kind):
    """‖Z_K − Z*‖ ≤ ρ^K ‖Z_0 − Z*‖-type bound: the error shrinks geometrically with the paper's factor ρ."""
    A_hat = a_hat_of(random_graph(n, 0.3, seed), n)
    H = _signal(n, seed=seed)
    Zc = closed_form(kind, H, A_hat, method="dense", **params)
    rho = contraction_factor(kind, **params)
    assert 0 <= rho < 1
    errs = iterative_form(kind, H, A_hat, 40, depths=range(41), **params)
    e0 = float((errs[0] - Zc).norm()) if kind not in ("jknet", "dagnn") else float(Zc.norm()) + float(H.norm())
    for K in (5, 20, 40):
        assert float((errs[K] - Zc).norm()) <= rho ** K * (e0 + 1e-12) * 1.000001 + 1e-10


def test_reductions_to_ppnp(karate):
    _, y, A_hat = karate
    H = _signal(y.numel())
    ppnp = closed_form("appnp", H, A_hat, alpha=0.2)
    torch.testing.assert_close(closed_form("lf", H, A_hat, alpha=0.2, mu=1.0), ppnp, atol=1e-12, rtol=0)
    torch.testing.assert_close(closed_form("hf", H, A_hat, alpha=0.2, beta=0.0), ppnp, atol=1e-12, rtol=0)
    appnp = iterative_form("appnp", H, A_hat, 7, alpha=0.2)
    torch.testing.assert_close(iterative_form("lf", H, A_hat, 7, alpha=0.2, mu=1.0), appnp)
    torch.testing.assert_close(iterative_form("hf", H, A_hat, 7, alpha=0.2, beta=0.0), appnp)
    # DAGNN's closed form is PPNP's with ξ = 1/α − 1 (Table 1)
    torch.testing.assert_close(closed_form("dagnn", H, A_hat, alpha=0.2), ppnp, atol=1e-10, rtol=0)
    # ... but μ < 1 / β > 0 really change the result
    assert float((closed_form("lf", H, A_hat, alpha=0.2, mu=0.6) - ppnp).abs().max()) > 1e-3
    assert float((closed_form("hf", H, A_hat, alpha=0.2, beta=2.0) - ppnp).abs().max()) > 1e-3


def test_truncated_series_weights():
    """JKNet/DAGNN iterative forms are the paper's series Σ w_k Â^k H (Table 1), checked with Â = scalar."""
    xi = 1 / 0.25 - 1
    for kind, w in (("jknet", lambda k: xi ** (k - 1) / (1 + xi) ** k if k else 0.0),
                    ("dagnn", lambda k: xi ** k / (1 + xi) ** (k + 1))):
        nu = torch.tensor([[0.37]], dtype=torch.float64)
        out = iterate(kind, torch.ones(1, 1, dtype=torch.float64), lambda Z, nu=nu: nu * Z, 6, alpha=0.25)
        assert float(out) == pytest.approx(sum(w(k) * 0.37 ** k for k in range(7)))


def test_sgc_limit_is_projection_on_kernel(karate):
    _, y, A_hat = karate
    H = _signal(y.numel())
    Z = closed_form("sgc", H, A_hat)
    L = torch.eye(y.numel(), dtype=torch.float64) - A_hat.to_dense()
    assert float((L @ Z).abs().max()) < 1e-12
    torch.testing.assert_close(null_space_projection(A_hat, Z), Z)  # idempotent
    far = iterative_form("sgc", H, A_hat, 2000)
    assert float((far - Z).abs().max()) < 1e-6
    # every row is a multiple of √d̃: rank-one per component
    assert torch.linalg.matrix_rank(Z).item() == 1


def test_solve_shifted_and_propagate_dispatch(karate):
    _, y, A_hat = karate
    H = _signal(y.numel(), 2)
    Z = solve_shifted(3.0, -2.0, A_hat, H)
    torch.testing.assert_close(3.0 * Z - 2.0 * (A_hat.to_dense() @ Z), H, atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="positive definite"):
        solve_shifted(1.0, -2.0, A_hat, H)
    with pytest.raises(ValueError, match="method"):
        solve_shifted(3.0, -2.0, A_hat, H, method="inverse")
    torch.testing.assert_close(propagate("lf", H, A_hat, form="closed"), closed_form("lf", H, A_hat))
    torch.testing.assert_close(propagate("hf", H, A_hat, K=3), iterative_form("hf", H, A_hat, 3))
    with pytest.raises(ValueError, match="form"):
        propagate("lf", H, A_hat, form="magic")


def test_cg_backward_matches_dense_autograd(karate):
    _, y, A_hat = karate
    H = _signal(y.numel(), 2).requires_grad_()
    W = _signal(y.numel(), 2, seed=5)
    (closed_form("hf", H, A_hat, alpha=0.3, beta=1.5) * W).sum().backward()
    g_cg = H.grad.clone()
    H.grad = None
    (closed_form("hf", H, A_hat, alpha=0.3, beta=1.5, method="dense") * W).sum().backward()
    torch.testing.assert_close(g_cg, H.grad, atol=1e-9, rtol=1e-9)


@pytest.mark.parametrize("kind, kwargs, match", [
    ("lf", {"alpha": 0.7}, "2/3"), ("lf", {"mu": 0.4}, "mu"), ("lf", {"mu": 1.2}, "mu"),
    ("hf", {"beta": -0.1}, "beta"), ("appnp", {"alpha": 0.0}, "alpha"), ("appnp", {"alpha": 1.5}, "alpha"),
    ("hf", {"K": -1}, "K"), ("sgc", {"K": 2.5}, "K"),
])
def test_parameter_ranges_are_checked(kind, kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_params(kind, **kwargs)


def test_kind_names():
    assert canonical_kind("PPNP") == "appnp" and canonical_kind("GNN-HF") == "hf"
    assert set(KINDS) == {"sgc", "gcn", "appnp", "jknet", "dagnn", "lf", "hf"}
    with pytest.raises(ValueError, match="unknown"):
        canonical_kind("gat")
    with pytest.raises(TypeError):
        check_params("lf", alpha="0.1")
    assert contraction_factor("lf", alpha=0.1, mu=0.9) == pytest.approx(0.89 / 0.99)
    assert contraction_factor("hf", alpha=0.1, beta=0.9) == pytest.approx(0.99 / 1.09)
    assert math.isclose(contraction_factor("appnp", alpha=0.1), 0.9)


def test_shape_and_dtype_errors(karate):
    _, y, A_hat = karate
    with pytest.raises(ValueError, match="rows"):
        closed_form("appnp", torch.zeros(5, 2, dtype=torch.float64), A_hat)
    with pytest.raises(TypeError, match="dtype"):
        iterative_form("appnp", torch.zeros(34, 2), A_hat, 3)
    with pytest.raises(ValueError, match="depths"):
        iterative_form("appnp", torch.zeros(34, 2, dtype=torch.float64), A_hat, 3, depths=[5])
