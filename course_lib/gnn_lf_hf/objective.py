"""The unified objective (Eq. 3):  O(Z) = ζ‖F₁Z − F₂H‖²_F + ξ·tr(Zᵀ L̃ Z), its gradient and its stationary point.

All kernels in the paper are polynomials in Â (I, Â, L̃ = I − Â, μI + (1−μ)Â, I + βL̃) or square roots of one
(GNN-LF/HF use F₁ = F₂ = M^{1/2}). We therefore store the fitting term through its Gram polynomials
P = F₁ᵀF₁, Q = F₁ᵀF₂, R = F₂ᵀF₂ (coefficients in powers of Â), which needs no matrix square root:

  ‖F₁Z − F₂H‖² = tr(ZᵀPZ) − 2 tr(ZᵀQH) + tr(HᵀRH),   ∇O = 2ζ(PZ − QH) + 2ξL̃Z,

and the stationary point solves (ζP + ξL̃) Z = ζ Q H (Eqs. 29, 37 and the proofs of Table 1).
"""
from __future__ import annotations

import dataclasses

import torch

from course_lib.gnn_lf_hf.graph import as_csr, spmm
from course_lib.gnn_lf_hf.propagation import check_params, null_space_projection, solve_shifted


@dataclasses.dataclass(frozen=True)
class ObjectiveSpec:
    """ζ, ξ and the Gram polynomials p, q, r (coefficients of Â⁰, Â¹, ...) of F₁ᵀF₁, F₁ᵀF₂, F₂ᵀF₂ (Eq. 3)."""

    kind: str
    zeta: float
    xi: float
    p: tuple[float, ...]
    q: tuple[float, ...]
    r: tuple[float, ...]


def objective_spec(kind: str, *, alpha: float = 0.1, mu: float = 0.9, beta: float = 0.9) -> ObjectiveSpec:
    """The choice of (ζ, ξ, F₁, F₂) that makes ``kind`` the minimiser of Eq. 3 (Table 1, Thm 4.1, Thm 4.3).

    sgc: ζ = 0, ξ = 1 · gcn: F = I, ζ = ξ = 1 · appnp/dagnn: F = I, ξ = 1/α − 1 · jknet: F₁ = I, F₂ = Â ·
    lf: F = {μI + (1−μ)Â}^{1/2} · hf: F = {I + βL̃}^{1/2}, all with ζ = 1, ξ = 1/α − 1.
    """
    k = check_params(kind, alpha=alpha, mu=mu, beta=beta)
    xi = 1.0 / alpha - 1.0
    one = (1.0,)
    if k == "sgc":
        return ObjectiveSpec(k, 0.0, 1.0, one, one, one)
    if k == "gcn":
        return ObjectiveSpec(k, 1.0, 1.0, one, one, one)
    if k in ("appnp", "dagnn"):
        return ObjectiveSpec(k, 1.0, xi, one, one, one)
    if k == "jknet":
        return ObjectiveSpec(k, 1.0, xi, one, (0.0, 1.0), (0.0, 0.0, 1.0))
    if k == "lf":
        m = (mu, 1.0 - mu)
        return ObjectiveSpec(k, 1.0, xi, m, m, m)
    m = (1.0 + beta, -beta)  # I + βL̃ = (1+β)I − βÂ
    return ObjectiveSpec(k, 1.0, xi, m, m, m)


def poly_apply(coeffs: tuple[float, ...], A_hat: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Σ_k c_k Â^k X (Horner's rule with sparse products)."""
    out = coeffs[-1] * X
    for c in reversed(coeffs[:-1]):
        out = spmm(A_hat, out) + c * X
    return out


def laplacian_regularizer(Z: torch.Tensor, A_hat: torch.Tensor) -> torch.Tensor:
    """tr(Zᵀ L̃ Z) = tr(ZᵀZ) − tr(ZᵀÂZ), the smoothness term of Eq. 3."""
    return (Z * Z).sum() - (Z * spmm(_fast(A_hat), Z)).sum()


def objective(Z: torch.Tensor, H: torch.Tensor, A_hat: torch.Tensor, spec: ObjectiveSpec) -> torch.Tensor:
    """O(Z) of Eq. 3 via the Gram form (module docstring); differentiable (autograd) in Z and H."""
    _check(Z, H, A_hat)
    A_hat = _fast(A_hat)
    fit = (Z * poly_apply(spec.p, A_hat, Z)).sum() - 2 * (Z * poly_apply(spec.q, A_hat, H)).sum() \
        + (H * poly_apply(spec.r, A_hat, H)).sum()
    return spec.zeta * fit + spec.xi * laplacian_regularizer(Z, A_hat)


def objective_grad(Z: torch.Tensor, H: torch.Tensor, A_hat: torch.Tensor, spec: ObjectiveSpec) -> torch.Tensor:
    """∇_Z O = 2ζ(PZ − QH) + 2ξL̃Z (derivative of Eq. 3; Eqs. 29 and 37 set it to zero)."""
    _check(Z, H, A_hat)
    A_hat = _fast(A_hat)
    grad = 2 * spec.xi * (Z - spmm(A_hat, Z))
    if spec.zeta:
        grad = grad + 2 * spec.zeta * (poly_apply(spec.p, A_hat, Z) - poly_apply(spec.q, A_hat, H))
    return grad


def stationary_point(H: torch.Tensor, A_hat: torch.Tensor, spec: ObjectiveSpec, *, method: str = "cg",
                     tol: float | None = None) -> torch.Tensor:
    """Solve ∇O = 0, i.e. (ζP + ξL̃) Z = ζQH, straight from the objective (independent of the per-model closed
    forms in :mod:`propagation`). For ζ = 0 (SGC) every Z with L̃Z = 0 is stationary; we return the one that
    power iteration from H reaches (the projection on ker L̃)."""
    _check(H, H, A_hat)
    if spec.zeta == 0:
        return null_space_projection(A_hat, H)
    if len(spec.p) > 2:
        raise ValueError("stationary_point: P must be of degree <= 1 in Â")
    p0, p1 = (spec.p + (0.0,))[:2]
    a, b = spec.zeta * p0 + spec.xi, spec.zeta * p1 - spec.xi
    return solve_shifted(a, b, A_hat, spec.zeta * poly_apply(spec.q, A_hat, H), method=method, tol=tol)


def objective_explicit(Z: torch.Tensor, H: torch.Tensor, F1: torch.Tensor, F2: torch.Tensor, L: torch.Tensor,
                       zeta: float, xi: float) -> torch.Tensor:
    """Eq. 3 literally, with dense kernels F₁, F₂ and Laplacian L (small graphs; checks the Gram form)."""
    return zeta * ((F1 @ Z - F2 @ H) ** 2).sum() + xi * torch.trace(Z.T @ L @ Z)


def kernel_sqrt(M: torch.Tensor) -> torch.Tensor:
    """Symmetric PSD square root M^{1/2} = V diag(√λ) Vᵀ (dense, small graphs; the F of GNN-LF/HF)."""
    evals, evecs = torch.linalg.eigh(M)
    if float(evals.min()) < -1e-8 * max(1.0, float(evals.abs().max())):
        raise ValueError(f"kernel_sqrt: M is not positive semi-definite (smallest eigenvalue {float(evals.min()):.3g})")
    return (evecs * evals.clamp_min(0).sqrt()) @ evecs.T


def pairwise_smoothness(Z: torch.Tensor, edge_index: torch.Tensor, *, degree_normalized: bool = True) -> torch.Tensor:
    """½ Σ_ij Ã_ij ‖Z_i/√d̃_i − Z_j/√d̃_j‖² (exact tr(ZᵀL̃Z), ``degree_normalized=True``) or the paper's Eq. 4
    form ½ Σ_ij Â_ij ‖Z_i − Z_j‖² (``False``). ``edge_index`` must hold both directions of each edge, no loops.
    """
    n = Z.size(0)
    ei = edge_index[:, edge_index[0] != edge_index[1]]
    deg = torch.ones(n, dtype=Z.dtype, device=Z.device).index_add_(
        0, ei[0], torch.ones(ei.size(1), dtype=Z.dtype, device=Z.device))  # d̃ = d + 1 (self-loop)
    i, j = ei
    s = deg.rsqrt()
    if degree_normalized:
        return 0.5 * ((Z[i] * s[i, None] - Z[j] * s[j, None]) ** 2).sum()
    return 0.5 * ((s[i] * s[j])[:, None] * (Z[i] - Z[j]) ** 2).sum()


def _fast(A_hat: torch.Tensor) -> torch.Tensor:
    return as_csr(A_hat) if A_hat.layout != torch.strided else A_hat


def _check(Z: torch.Tensor, H: torch.Tensor, A_hat: torch.Tensor) -> None:
    if Z.shape != H.shape or Z.dim() != 2 or Z.size(0) != A_hat.size(0):
        raise ValueError(f"Z and H must both be (n, d) with n = {A_hat.size(0)}; got Z {tuple(Z.shape)}, "
                         f"H {tuple(H.shape)}")
