import math

import numpy as np
import pytest
import torch

from course_lib.gnn_lf_hf.propagation import closed_form, iterative_form
from course_lib.gnn_lf_hf.spectral import filter_response, laplacian_spectrum, spectral_energy, theta_coefficients

P = {"alpha": 0.15, "mu": 0.7, "beta": 1.5}


@pytest.mark.parametrize("kind", ["appnp", "gcn", "jknet", "dagnn", "lf", "hf"])
def test_filter_response_acts_on_laplacian_eigenvectors(kind, karate):
    """Propagating an eigenvector u of L̃ (eigenvalue λ) returns g(λ)·u — closed and iterative forms."""
    _, _, A_hat = karate
    L = torch.eye(34, dtype=torch.float64) - A_hat.to_dense()
    lam, U = torch.linalg.eigh(L)
    Zc = closed_form(kind, U, A_hat, method="dense", **P)
    Zi = iterative_form(kind, U, A_hat, 6, **P)
    gc = filter_response(kind, lam.numpy().clip(0, 2), **P)
    gi = filter_response(kind, lam.numpy().clip(0, 2), form="iterative", K=6, **P)
    torch.testing.assert_close(Zc, U * torch.as_tensor(gc), atol=1e-9, rtol=0)
    torch.testing.assert_close(Zi, U * torch.as_tensor(gi), atol=1e-9, rtol=0)


def test_closed_responses_known_values():
    lam = np.linspace(0, 2, 9)
    a = 0.1
    np.testing.assert_allclose(filter_response("appnp", lam, alpha=a), a / (a + (1 - a) * lam))
    hf = (1 + 0.9 * lam) / (1 + 0.9 * lam + 9 * lam)
    np.testing.assert_allclose(filter_response("hf", lam, alpha=a, beta=0.9), hf)
    for k in ("appnp", "lf", "hf", "gcn", "dagnn", "jknet"):
        assert filter_response(k, [0.0], alpha=a)[0] == pytest.approx(1.0)  # smooth signals pass unchanged
    np.testing.assert_array_equal(filter_response("sgc", [0.0, 0.5]), [1.0, 0.0])
    np.testing.assert_allclose(filter_response("sgc", lam, form="iterative", K=5), (1 - lam) ** 5)
    # iterative → closed as K grows
    np.testing.assert_allclose(filter_response("lf", lam, form="iterative", K=400, alpha=a, mu=0.9),
                               filter_response("lf", lam, alpha=a, mu=0.9), atol=1e-12)
    with pytest.raises(ValueError, match="eigenvalues"):
        filter_response("lf", [2.5])
    with pytest.raises(ValueError, match="form"):
        filter_response("lf", [0.5], form="exact")


def test_theta_sgc_is_binomial_and_ppnp_matches_paper():
    K = 7
    np.testing.assert_allclose(theta_coefficients("sgc", K), [(-1) ** k * math.comb(K, k) for k in range(K + 1)])
    a = 0.2
    paper = [a * sum((1 - a) ** i * (-1) ** k * math.comb(i, k) for i in range(k, K)) for k in range(K)]
    # the paper's PPNP θ_k is the truncated series Σ_{i<K} α(1−α)^i Â^i, i.e. our DAGNN series with K − 1 terms
    np.testing.assert_allclose(theta_coefficients("dagnn", K - 1, alpha=a), paper, rtol=1e-12, atol=1e-14)
    # θ reproduces the response: Σ θ_k λ^k = g_iter(λ)
    lam = np.linspace(0, 2, 11)
    th = theta_coefficients("hf", 5, alpha=0.3, beta=2.0)
    assert th.size == 7  # degree K + 1 for HF
    np.testing.assert_allclose(np.polyval(th[::-1], lam),
                               filter_response("hf", lam, form="iterative", K=5, alpha=0.3, beta=2.0), atol=1e-10)


def test_spectrum_helpers(karate):
    _, _, A_hat = karate
    L = torch.eye(34, dtype=torch.float64) - A_hat.to_dense()
    lam = laplacian_spectrum(L)
    assert lam[0] == pytest.approx(0.0, abs=1e-12) and lam[-1] < 2
    lam2, energy = spectral_energy(torch.ones(34, 1, dtype=torch.float64), L)
    assert energy.sum() == pytest.approx(1.0)
    assert energy[0] > 0.9  # a constant signal is mostly (not exactly) the smoothest mode
