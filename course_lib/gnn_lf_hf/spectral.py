"""Spectral view (§5, App. A.3): each propagation is a filter g(λ) over the eigenvalues λ ∈ [0, 2) of L̃.

* closed forms: g(λ) = ζ q(1−λ) / (ζ p(1−λ) + ξλ), read straight off the objective's Gram polynomials
  (:func:`course_lib.gnn_lf_hf.objective.objective_spec`), e.g. PPNP α/(α + (1−α)λ);
* iterative forms: the degree-K polynomial obtained by running :func:`propagation.iterate` with Â replaced by
  the scalar 1 − λ;
* θ_k: the coefficients of Z = Σ_k θ_k L̃^k H for the iterative forms, by running the same iteration on
  polynomial coefficient vectors (Â ↦ multiplication by 1 − x).
"""
from __future__ import annotations

import numpy as np
import torch

from course_lib.gnn_lf_hf.objective import objective_spec
from course_lib.gnn_lf_hf.propagation import check_params, iterate


def _polyval(coeffs: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    return sum(c * x ** i for i, c in enumerate(coeffs))


def filter_response(kind: str, lam, *, form: str = "closed", K: int = 10, alpha: float = 0.1, mu: float = 0.9,
                    beta: float = 0.9) -> np.ndarray:
    """g(λ) of ``kind`` at the Laplacian eigenvalues ``lam`` (array-like in [0, 2]).

    Closed: ζq(1−λ)/(ζp(1−λ) + ξλ) (SGC's K → ∞ limit: 1 at λ = 0, else 0). Iterative: the K-step polynomial.
    """
    k = check_params(kind, alpha=alpha, mu=mu, beta=beta, K=K)
    lam = np.asarray(lam, dtype=np.float64)
    if lam.size and (lam.min() < -1e-9 or lam.max() > 2 + 1e-9):
        raise ValueError(f"filter_response: eigenvalues of L̃ lie in [0, 2], got range [{lam.min()}, {lam.max()}]")
    if form == "iterative":
        x = torch.as_tensor(lam.reshape(-1, 1))
        out = iterate(k, torch.ones_like(x), lambda Z: (1 - x) * Z, K, alpha=alpha, mu=mu, beta=beta)
        return out.numpy().reshape(lam.shape)
    if form != "closed":
        raise ValueError(f"form must be 'closed' or 'iterative', got {form!r}")
    spec = objective_spec(k, alpha=alpha, mu=mu, beta=beta)
    if spec.zeta == 0:
        return (np.abs(lam) < 1e-12).astype(np.float64)
    nu = 1 - lam
    return spec.zeta * _polyval(spec.q, nu) / (spec.zeta * _polyval(spec.p, nu) + spec.xi * lam)


def theta_coefficients(kind: str, K: int = 10, *, alpha: float = 0.1, mu: float = 0.9,
                       beta: float = 0.9) -> np.ndarray:
    """θ_0..θ_d of the iterative form written as Z = Σ_k θ_k L̃^k H (App. A.3; d = K, or K + 1 for LF/HF).

    SGC gives θ_k = (−1)^k C(K, k); the truncated PPNP series Σ_{i<K} α(1−α)^i Â^i gives the paper's
    θ_k = α Σ_{i=k}^{K−1} (1−α)^i (−1)^k C(i, k).
    """
    k = check_params(kind, alpha=alpha, mu=mu, beta=beta, K=K)
    size = K + 2
    e0 = torch.zeros(size, 1, dtype=torch.float64)
    e0[0] = 1.0

    def times_A(P: torch.Tensor) -> torch.Tensor:  # Â = I − L̃: multiply the polynomial by (1 − x)
        shifted = torch.zeros_like(P)
        shifted[1:] = P[:-1]
        return P - shifted

    theta = iterate(k, e0, times_A, K, alpha=alpha, mu=mu, beta=beta).numpy().ravel()
    last = np.flatnonzero(np.abs(theta) > 0)
    return theta[: (last[-1] + 1 if last.size else 1)]


def _dense64(L: torch.Tensor) -> torch.Tensor:
    """L as a dense float64 matrix on its device (on the CPU for MPS, which has neither float64 nor eigh)."""
    dense = L.to_dense() if L.layout != torch.strided else L
    return (dense.cpu() if dense.device.type == "mps" else dense).double()


def laplacian_spectrum(L: torch.Tensor) -> np.ndarray:
    """All eigenvalues of a (small) L̃, ascending — dense ``eigvalsh``, O(n³): use for graphs up to a few thousand.

    Computed on L's device (CPU for MPS) and returned as a host numpy array."""
    return torch.linalg.eigvalsh(_dense64(L)).cpu().numpy()


def spectral_energy(H: torch.Tensor, L: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(λ, energy): the eigenvalues of L̃ and the share of ‖H‖² on each eigenvector — where a signal lives."""
    lam, V = torch.linalg.eigh(_dense64(L))
    coef = V.T @ H.to(V.device, torch.float64)
    energy = (coef ** 2).sum(1)
    return lam.cpu().numpy(), (energy / energy.sum()).cpu().numpy()
