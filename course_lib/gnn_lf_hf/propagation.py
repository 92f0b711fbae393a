"""Closed and iterative propagations of every model in the paper's Table 1 plus GNN-LF / GNN-HF (§3–4).

Kinds (``KINDS``):

===========  ===========================================================  =================================
kind         closed form (solve, never an explicit inverse)               iterative form (K steps)
===========  ===========================================================  =================================
``sgc``      K → ∞ limit: projection on ker L̃ (Thm 3.1)                  Z = Â^K H
``gcn``      (I + L̃)^{-1} H  (one GC layer, Thm 3.2)                     Z ← ½ÂZ + ½H
``appnp``    α(I − (1−α)Â)^{-1} H  (PPNP, Thm 3.3)                       Z ← (1−α)ÂZ + αH  (APPNP)
``jknet``    ((1+ξ)I − ξÂ)^{-1} ÂH,  ξ = 1/α − 1 (Thm 3.4)               Σ_{k=1..K} ξ^{k−1}/(1+ξ)^k Â^k H
``dagnn``    ((1+ξ)I − ξÂ)^{-1} H,   ξ = 1/α − 1 (Thm 3.5)               Σ_{k=0..K} ξ^k/(1+ξ)^{k+1} Â^k H
``lf``       Eq. 33: {(μ+1/α−1)I + (2−μ−1/α)Â}^{-1}{μI + (1−μ)Â}H        Eq. 34
``hf``       Eq. 41: {(β+1/α)I + (1−β−1/α)Â}^{-1}{I + βL̃}H               Eq. 42
===========  ===========================================================  =================================

Every linear system here has the form (aI + bÂ)Z = R with a > |b|, i.e. a symmetric positive-definite matrix
(eigenvalues a + bν, ν ∈ (−1, 1]); :func:`solve_shifted` solves it by conjugate gradients on the sparse Â
(default) or by a dense ``torch.linalg.solve`` (small graphs, reference).
"""
from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Iterable

import numpy as np
import torch

from course_lib.checks import is_int, require_finite_tensors
from course_lib.gnn_lf_hf.graph import as_csr, spmm

KINDS = ("sgc", "gcn", "appnp", "jknet", "dagnn", "lf", "hf")
ALIASES = {"ppnp": "appnp", "gnn-lf": "lf", "gnn-hf": "hf", "gnn_lf": "lf", "gnn_hf": "hf"}
FORMS = ("closed", "iterative")
ApplyA = Callable[[torch.Tensor], torch.Tensor]


def canonical_kind(kind: str) -> str:
    """Normalise a model name (``ppnp`` → ``appnp``, ``gnn-lf`` → ``lf``, ...); unknown names raise ValueError."""
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a string, got {type(kind).__name__}")
    k = ALIASES.get(kind.lower(), kind.lower())
    if k not in KINDS:
        raise ValueError(f"unknown propagation kind {kind!r}; expected one of {KINDS} (aliases {list(ALIASES)})")
    return k


def check_params(kind: str, *, alpha: float = 0.1, mu: float = 0.9, beta: float = 0.9,
                 K: int | None = None) -> str:
    """Validate the hyper-parameters of ``kind`` against the paper's ranges and return the canonical kind.

    * appnp / jknet / dagnn / hf: α ∈ (0, 1]  (ξ = 1/α − 1 ≥ 0);
    * lf: α ∈ (0, 2/3) and μ ∈ [1/2, 1] — μ ≥ ½ keeps μI + (1−μ)Â positive semi-definite, α < 2/3 keeps the
      iteration coefficient 1 + αμ − 2α positive (Thm 4.1/4.2); μ = 1 is allowed (it is PPNP);
    * hf: β ≥ 0 (β = 0 is PPNP; the paper uses β > 0);
    * K: a non-negative integer.
    """
    k = canonical_kind(kind)
    for name, val in (("alpha", alpha), ("mu", mu), ("beta", beta)):
        if not isinstance(val, numbers.Real) or isinstance(val, (bool, np.bool_)) or not math.isfinite(val):
            raise TypeError(f"{name} must be a finite real number, got {val!r}")
    if K is not None and not (is_int(K) and K >= 0):
        raise ValueError(f"K must be a non-negative int (number of propagation steps), got {K!r}")
    if k in ("appnp", "jknet", "dagnn", "hf") and not 0.0 < alpha <= 1.0:
        raise ValueError(f"{k}: alpha (teleport / restart probability) must be in (0, 1], got {alpha}")
    if k == "lf":
        if not 0.0 < alpha < 2.0 / 3.0:
            raise ValueError(f"lf: alpha must be in (0, 2/3) so that 1 + alpha*mu - 2*alpha > 0 (Thm 4.2), "
                             f"got {alpha}")
        if not 0.5 <= mu <= 1.0:
            raise ValueError(f"lf: mu must be in [1/2, 1] so that mu*I + (1-mu)*A_hat is positive semi-definite "
                             f"(Thm 4.1; mu = 1 is PPNP), got {mu}")
    if k == "hf" and beta < 0:
        raise ValueError(f"hf: beta must be >= 0 (I + beta*L is then positive definite; beta = 0 is PPNP), "
                         f"got {beta}")
    return k


def contraction_factor(kind: str, *, alpha: float = 0.1, mu: float = 0.9, beta: float = 0.9) -> float:
    """Coefficient of ÂZ in the fixed-point iteration: the error shrinks at least by this factor per step.

    APPNP/JKNet/DAGNN: 1 − α; GCN layer: ½; LF: (1 + αμ − 2α)/(1 + αμ − α) (Thm 4.2); HF: (αβ − α + 1)/(αβ + 1)
    (Thm 4.4); SGC: 1 (no contraction: Â^K converges only through the spectral gap of Â).
    """
    k = check_params(kind, alpha=alpha, mu=mu, beta=beta)
    return {"sgc": 1.0, "gcn": 0.5, "appnp": 1 - alpha, "jknet": 1 - alpha, "dagnn": 1 - alpha,
            "lf": (1 + alpha * mu - 2 * alpha) / (1 + alpha * mu - alpha),
            "hf": (alpha * beta - alpha + 1) / (alpha * beta + 1)}[k]


# ----------------------------------------------------------------------------------------------------------
# linear solves
# ----------------------------------------------------------------------------------------------------------
def cg_solve(apply: Callable[[torch.Tensor], torch.Tensor], B: torch.Tensor, *, tol: float | None = None,
             max_iter: int = 2000) -> torch.Tensor:
    """Conjugate gradients for an SPD operator, all columns of B at once (each column its own step sizes).

    Stops when every column's residual norm is ≤ tol·‖b‖ (default tol: 1e-12 in float64, 1e-6 in float32).
    """
    if B.dim() != 2:
        raise ValueError(f"cg_solve: B must be 2-D (n, d), got shape {tuple(B.shape)}")
    tol = tol if tol is not None else (1e-12 if B.dtype == torch.float64 else 1e-6)
    tiny = torch.finfo(B.dtype).tiny
    X = torch.zeros_like(B)
    R = B.clone()
    P = R.clone()
    rs = (R * R).sum(0)
    bound = (tol * B.norm(dim=0)) ** 2
    for _ in range(max_iter):
        if bool((rs <= bound).all()):
            return X
        AP = apply(P)
        step = rs / (P * AP).sum(0).clamp_min(tiny)
        X = X + step * P
        R = R - step * AP
        rs_new = (R * R).sum(0)
        P = R + (rs_new / rs.clamp_min(tiny)) * P
        rs = rs_new
    warnings.warn(f"cg_solve: not converged to tol={tol} after {max_iter} iterations "
                  f"(max relative residual {float((rs / bound.clamp_min(tiny)).max().sqrt() * tol):.2e})",
                  RuntimeWarning, stacklevel=2)
    return X


class _ShiftedSolve(torch.autograd.Function):
    """Z = (aI + bÂ)^{-1} R by CG; backward is the same SPD solve applied to the incoming gradient."""

    @staticmethod
    def forward(ctx, R, A_hat, a, b, tol):
        ctx.A_hat, ctx.a, ctx.b, ctx.tol = A_hat, a, b, tol
        return cg_solve(lambda V: a * V + b * spmm(A_hat, V), R, tol=tol)

    @staticmethod
    def backward(ctx, grad):
        A_hat, a, b = ctx.A_hat, ctx.a, ctx.b
        return cg_solve(lambda V: a * V + b * spmm(A_hat, V), grad.contiguous(), tol=ctx.tol), None, None, None, None


def solve_shifted(a: float, b: float, A_hat: torch.Tensor, R: torch.Tensor, *, method: str = "cg",
                  tol: float | None = None) -> torch.Tensor:
    """Solve (aI + bÂ) Z = R — the linear system behind every closed form here (SPD when a − |b| > 0).

    ``method="cg"``: sparse conjugate gradients (differentiable in R); ``"dense"``: ``torch.linalg.solve`` on a
    dense matrix (O(n²) memory, small graphs / reference). Never forms an inverse.
    """
    if a - abs(b) <= 0:
        raise ValueError(f"solve_shifted: aI + bÂ is not positive definite for a={a}, b={b} (need a > |b|)")
    if R.dim() != 2 or R.size(0) != A_hat.size(0):
        raise ValueError(f"solve_shifted: R must be (n, d) with n = {A_hat.size(0)}, got {tuple(R.shape)}")
    if method == "cg":
        return _ShiftedSolve.apply(R, as_csr(A_hat) if A_hat.is_sparse else A_hat, float(a), float(b), tol)
    if method == "dense":
        A = A_hat.to_dense() if A_hat.layout != torch.strided else A_hat
        S = b * A + a * torch.eye(A.size(0), dtype=A.dtype, device=A.device)
        return torch.linalg.solve(S, R)
    raise ValueError(f"solve_shifted: method must be 'cg' or 'dense', got {method!r}")


def system_coefficients(kind: str, *, alpha: float = 0.1, mu: float = 0.9, beta: float = 0.9) -> tuple[float, float]:
    """(a, b) of the closed form's system matrix aI + bÂ as the paper writes it (Eqs. 31/33, 39/41, Table 1)."""
    k = check_params(kind, alpha=alpha, mu=mu, beta=beta)
    xi = 1.0 / alpha - 1.0
    if k == "sgc":
        raise ValueError("sgc has no invertible system: its stationary points are ker L̃ (use closed_form)")
    return {"gcn": (2.0, -1.0), "appnp": (1 / alpha, 1 - 1 / alpha), "jknet": (1 + xi, -xi),
            "dagnn": (1 + xi, -xi), "lf": (mu + 1 / alpha - 1, 2 - mu - 1 / alpha),
            "hf": (beta + 1 / alpha, 1 - beta - 1 / alpha)}[k]


def null_space_projection(A_hat: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    """Z = Σ_c v_c v_cᵀ H with v_c ∝ D̃^{1/2}1 on connected component c: the K → ∞ limit of Â^K H (SGC, Thm 3.1).

    Needs Â built with self-loops (then Â_ii = 1/d̃_i recovers the degrees). Every row becomes a multiple of
    √d̃_i — the over-smoothed state where only the degree and the component remain.
    """
    from course_lib.gnn_lf_hf.graph import connected_components

    A = (A_hat.to_sparse_coo() if A_hat.layout == torch.sparse_csr else A_hat).coalesce()
    idx, vals = A.indices(), A.values()
    diag = torch.zeros(A.size(0), dtype=vals.dtype, device=vals.device)
    on = idx[0] == idx[1]
    diag[idx[0, on]] = vals[on]
    if bool((diag <= 0).any()):
        raise ValueError("null_space_projection: Â needs self-loops (Â_ii = 1/d̃_i > 0)")
    sq = diag.rsqrt().to(H.dtype)  # √d̃
    comp = torch.as_tensor(connected_components(A), device=H.device)
    nc = int(comp.max()) + 1
    norm2 = torch.zeros(nc, dtype=H.dtype, device=H.device).index_add_(0, comp, sq * sq)
    proj = torch.zeros(nc, H.size(1), dtype=H.dtype, device=H.device).index_add_(0, comp, sq[:, None] * H)
    return sq[:, None] * proj[comp] / norm2[comp][:, None]


def closed_form(kind: str, H: torch.Tensor, A_hat: torch.Tensor, *, alpha: float = 0.1, mu: float = 0.9,
                beta: float = 0.9, method: str = "cg", tol: float | None = None) -> torch.Tensor:
    """Closed-form propagation Z of ``kind`` (table in the module docstring), by a linear solve, never an inverse."""
    k = check_params(kind, alpha=alpha, mu=mu, beta=beta)
    _check_H(H, A_hat)
    if k == "sgc":
        return null_space_projection(A_hat, H)
    A_hat = as_csr(A_hat) if A_hat.layout != torch.strided else A_hat
    if k == "appnp":  # Thm 3.3 as written: α (I − (1−α)Â)^{-1} H
        return alpha * solve_shifted(1.0, alpha - 1.0, A_hat, H, method=method, tol=tol)
    a, b = system_coefficients(k, alpha=alpha, mu=mu, beta=beta)
    AH = spmm(A_hat, H) if k in ("jknet", "lf", "hf") else None
    rhs = {"gcn": H, "dagnn": H, "jknet": AH,
           "lf": mu * H + (1 - mu) * AH if k == "lf" else None,
           "hf": H + beta * (H - AH) if k == "hf" else None}[k]
    return solve_shifted(a, b, A_hat, rhs, method=method, tol=tol)


# ----------------------------------------------------------------------------------------------------------
# iterative forms
# ----------------------------------------------------------------------------------------------------------
def iterate(kind: str, H: torch.Tensor, apply_A: ApplyA, K: int, *, alpha: float = 0.1, mu: float = 0.9,
            beta: float = 0.9, depths: Iterable[int] | None = None):
    """Run the iterative form of ``kind`` for K steps using only ``apply_A`` (Z ↦ ÂZ), sums and scalings.

    Because only the operator is needed, the same code gives the node embeddings (apply_A = sparse Â), the
    filter response g(λ) (apply_A = multiplication by 1 − λ) and the θ_k coefficients (apply_A = polynomial
    multiplication by 1 − x); see :mod:`course_lib.gnn_lf_hf.spectral`.
    Returns Z^(K), or ``{k: Z^(k)}`` for every k in ``depths`` (all ≤ K) when ``depths`` is given.
    """
    #: Check the hyper-parameters against the ranges in which each iteration converges, and the
    #: requested depths. $\xi = 1/\alpha - 1$ is the weight of the smoothness term of the objective.
    k = check_params(kind, alpha=alpha, mu=mu, beta=beta, K=K)
    want = sorted(set(depths)) if depths is not None else None
    if want is not None and (not want or want[0] < 0 or want[-1] > K):
        raise ValueError(f"depths must be non-empty and within [0, K={K}], got {want}")
    out: dict[int, torch.Tensor] = {}
    xi = 1.0 / alpha - 1.0
    #: **Truncated power series** (the JKNet and DAGNN rows of Table 1):
    #: $Z = \sum_{k} w_k \hat A^k H$ — one more power of $\hat A$ per step, weights read off the closed form.
    if k in ("jknet", "dagnn"):  # truncated series Σ w_k Â^k H
        P = H
        Z = H / (1 + xi) if k == "dagnn" else torch.zeros_like(H)
        if want is not None and 0 in want:
            out[0] = Z
        for step in range(1, K + 1):
            P = apply_A(P)
            w = (xi ** (step - 1) / (1 + xi) ** step) if k == "jknet" else xi ** step / (1 + xi) ** (step + 1)
            Z = Z + w * P
            if want is not None and step in want:
                out[step] = Z
        return out if want is not None else Z
    #: **GNN-LF, iterative form (Eq. 34).** With $c = 1 + \alpha\mu - \alpha$, start from the low-pass
    #: filtered input $Z^{(0)} = \frac{\mu}{c} H + \frac{1-\mu}{c} \hat A H$, then repeat
    #: $Z \leftarrow \frac{1 + \alpha\mu - 2\alpha}{c}\, \hat A Z + \alpha Z^{(0)}$.
    if k == "lf":  # Eq. 34
        c = 1 + alpha * mu - alpha
        Z = (mu / c) * H + ((1 - mu) / c) * apply_A(H)
        coef, res = (1 + alpha * mu - 2 * alpha) / c, alpha * Z
    #: **GNN-HF, iterative form (Eq. 42).** With $c' = \alpha\beta + 1$ and $\tilde L = I - \hat A$, start
    #: from the high-pass filtered input $Z^{(0)} = \frac{1}{c'} H + \frac{\beta}{c'} \tilde L H$, then repeat
    #: $Z \leftarrow \frac{\alpha\beta - \alpha + 1}{c'}\, \hat A Z + \alpha Z^{(0)}$.
    elif k == "hf":  # Eq. 42
        c = alpha * beta + 1
        Z = (1 / c) * H + (beta / c) * (H - apply_A(H))
        coef, res = (alpha * beta - alpha + 1) / c, alpha * Z
    #: The other rows of Table 1 are the same two-term update with other constants,
    #: e.g. APPNP: $Z \leftarrow (1-\alpha)\hat A Z + \alpha H$ (GNN-LF with $\mu = 1$, GNN-HF with $\beta = 0$).
    elif k == "appnp":
        Z, coef, res = H, 1 - alpha, alpha * H
    elif k == "gcn":
        Z, coef, res = H, 0.5, 0.5 * H
    else:  # sgc
        Z, coef, res = H, 1.0, None
    #: One loop for all of them: $Z^{(k+1)} = \text{coef}\cdot \hat A Z^{(k)} + \text{res}$.
    #: It converges to the closed form because $|\text{coef}| \cdot \rho(\hat A) < 1$ (`contraction_factor`).
    if want is not None and 0 in want:
        out[0] = Z
    for step in range(1, K + 1):
        Z = coef * apply_A(Z) if res is None else coef * apply_A(Z) + res
        if want is not None and step in want:
            out[step] = Z
    return out if want is not None else Z


def iterative_form(kind: str, H: torch.Tensor, A_hat: torch.Tensor, K: int = 10, *, alpha: float = 0.1,
                   mu: float = 0.9, beta: float = 0.9, depths: Iterable[int] | None = None):
    """Iterative propagation of ``kind`` with the sparse Â (APPNP, Eq. 34 for LF, Eq. 42 for HF, ...)."""
    _check_H(H, A_hat)
    A = as_csr(A_hat) if A_hat.layout != torch.strided else A_hat
    return iterate(kind, H, lambda Z: spmm(A, Z), K, alpha=alpha, mu=mu, beta=beta, depths=depths)


def propagate(kind: str, H: torch.Tensor, A_hat: torch.Tensor, *, form: str = "iterative", K: int = 10,
              alpha: float = 0.1, mu: float = 0.9, beta: float = 0.9, method: str = "cg") -> torch.Tensor:
    """One entry point: ``form="closed"`` → :func:`closed_form`, ``"iterative"`` → :func:`iterative_form`.

    ``H`` (n, d) and the sparse ``A_hat`` (n, n) share dtype and device; NaN / inf in either raises ValueError.
    """
    if form == "closed":
        return closed_form(kind, H, A_hat, alpha=alpha, mu=mu, beta=beta, method=method)
    if form == "iterative":
        return iterative_form(kind, H, A_hat, K, alpha=alpha, mu=mu, beta=beta)
    raise ValueError(f"form must be one of {FORMS}, got {form!r}")


def _check_H(H: torch.Tensor, A_hat: torch.Tensor) -> None:
    if not isinstance(H, torch.Tensor) or H.dim() != 2:
        raise ValueError(f"H must be a 2-D tensor (nodes × channels), got {getattr(H, 'shape', type(H))}")
    if not A_hat.dim() == 2 or A_hat.size(0) != A_hat.size(1) or A_hat.size(0) != H.size(0):
        raise ValueError(f"A_hat must be square with as many rows as H: A_hat {tuple(A_hat.shape)}, "
                         f"H {tuple(H.shape)}")
    if H.dtype != A_hat.dtype:
        raise TypeError(f"H and A_hat must share a dtype, got {H.dtype} and {A_hat.dtype}")
    if H.device != A_hat.device:
        raise ValueError(f"H and A_hat must be on one device, got {H.device} and {A_hat.device}")
    require_finite_tensors(("H (node features)", H), ("A_hat (normalised adjacency)", A_hat))
