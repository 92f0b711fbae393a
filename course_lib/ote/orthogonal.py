"""Orthogonalisation φ of OTE's relation blocks and the scaled orthogonal transform (paper §3).

Conventions: a relation owns per group a raw ``k×k`` matrix ``M`` and log-scales ``s`` (k,); entity groups are
row vectors ``x`` (…, K, k). The transform is ``f(x) = (σ(s) ⊙ x) · φ(M)`` (scale, then rotate/reflect) and its
exact inverse is ``f⁻¹(y) = (y · φ(M)ᵀ) / σ(s)``, σ = exp (``ote_scale = 2``), abs (1) or none (0).
"""
from __future__ import annotations

import torch

ORTHOGONALIZERS = ("gram_schmidt", "qr", "matrix_exp")
SCALINGS = ("exp", "abs", "none")


def _check_square(matrix: torch.Tensor, what: str = "matrix") -> None:
    if not isinstance(matrix, torch.Tensor) or not matrix.is_floating_point():
        raise TypeError(f"{what} must be a floating-point tensor, got {getattr(matrix, 'dtype', type(matrix))}")
    if matrix.ndim < 2 or matrix.shape[-1] != matrix.shape[-2]:
        raise ValueError(f"{what} must have shape (..., k, k), got {tuple(matrix.shape)}")


def gram_schmidt(matrix: torch.Tensor, passes: int = 2, eps: float = 1e-12) -> torch.Tensor:
    """φ(M): Gram–Schmidt on the **rows** of ``M`` (..., k, k) — the paper's orthogonalisation (§3).

    Row i loses its projections on the already orthonormalised rows 1..i−1 and is normalised. ``passes=1`` is
    the classical textbook algorithm; in float32 on the paper's U(0, 1) initial blocks it loses orthogonality
    (errors up to ~1e-3 on a few percent of 4×4 blocks), so the default repeats the projection step once more
    ("twice is enough", CGS2), which gives the same φ(M) to rounding. Batched over leading dimensions;
    differentiable (autograd through the loop).
    """
    _check_square(matrix)
    if passes not in (1, 2):
        raise ValueError(f"passes must be 1 (classical) or 2 (re-orthogonalised), got {passes!r}")
    rows = []
    for i in range(matrix.shape[-1]):
        #: Remove the components along the rows already built: $v \leftarrow v - (v \cdot u_j)\,u_j$.
        v = matrix[..., i, :]
        for _ in range(passes):
            for u in rows:
                v = v - (v * u).sum(-1, keepdim=True) * u
        #: Normalise: $u_i = v / \lVert v \rVert$.
        rows.append(v / torch.linalg.vector_norm(v, dim=-1, keepdim=True).clamp(min=eps))
    return torch.stack(rows, dim=-2)


def orthogonalize_qr(matrix: torch.Tensor) -> torch.Tensor:
    """φ(M) as the sign-corrected QR decomposition: ``Mᵀ = Q R`` with diag(R) > 0, then φ(M) = Qᵀ.

    Mathematically identical to :func:`gram_schmidt` (the same orthonormal basis, built stably by Householder
    reflections); the sign correction makes the factorisation unique.
    This is the orthogonalisation φ of the paper (Tang et al., ACL 2020).
    """
    _check_square(matrix)
    q, r = torch.linalg.qr(matrix.transpose(-1, -2))
    sign = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    return (q * sign[..., None, :]).transpose(-1, -2)


def orthogonalize_matrix_exp(matrix: torch.Tensor) -> torch.Tensor:
    """An alternative parametrisation: ``U = exp(A − Aᵀ)`` (the exponential of a skew-symmetric matrix).

    Always orthogonal with det = +1 (a rotation; no reflections), smooth everywhere — no near-singular
    blocks. Not the paper's φ (compare with :func:`gram_schmidt` in notebook 1).
    """
    _check_square(matrix)
    return torch.linalg.matrix_exp(matrix - matrix.transpose(-1, -2))


def orthogonalize(matrix: torch.Tensor, method: str = "qr") -> torch.Tensor:
    """Dispatch to :func:`gram_schmidt`, :func:`orthogonalize_qr` or :func:`orthogonalize_matrix_exp`."""
    if method == "gram_schmidt":
        return gram_schmidt(matrix)
    if method == "qr":
        return orthogonalize_qr(matrix)
    if method == "matrix_exp":
        return orthogonalize_matrix_exp(matrix)
    raise ValueError(f"method must be one of {ORTHOGONALIZERS}, got {method!r}")


def scale_values(log_scale: torch.Tensor, scaling: str = "exp") -> torch.Tensor:
    """σ(s): ``exp(s)`` (OTE's ``ote_scale = 2``), ``|s|`` (1) or ones (0)."""
    if scaling == "exp":
        return torch.exp(log_scale)
    if scaling == "abs":
        return log_scale.abs()
    if scaling == "none":
        return torch.ones_like(log_scale)
    raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")


def _check_groups(x: torch.Tensor, u: torch.Tensor, scale: torch.Tensor) -> None:
    k = u.shape[-1]
    if x.shape[-1] != k or scale.shape[-1] != k or u.shape[-2] != k:
        raise ValueError(f"group size mismatch: x (..., {x.shape[-1]}), U (..., {u.shape[-2]}, {k}), "
                         f"scale (..., {scale.shape[-1]}); all must use the same k")


def orthogonal_transform(x: torch.Tensor, u: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """f(x) = (scale ⊙ x) · U per group (paper §3, in the row-vector convention of the official code).

    ``x`` (..., K, k), ``u`` (..., K, k, k) orthogonal, ``scale`` (..., K, k) positive; broadcast over the
    leading dimensions.
    """
    _check_groups(x, u, scale)
    #: Scale each coordinate, then multiply the row vector by $U$: $f(x)_j = \sum_i \sigma_i x_i U_{ij}$.
    return ((scale * x)[..., :, None] * u).sum(-2)


def inverse_orthogonal_transform(y: torch.Tensor, u: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Exact inverse f⁻¹(y) = (y · Uᵀ) / scale (rotate back first, then undo the scale; paper §3).

    The released code applies the reciprocal scale *before* Uᵀ, which inverts f only when the k scales of a
    group are equal; this order is exact for any positive scales.
    """
    _check_groups(y, u, scale)
    #: Undo the rotation first ($U^{-1} = U^\top$: $(yU^\top)_i = \sum_j y_j U_{ij}$), then the scale.
    return (y[..., None, :] * u).sum(-1) / scale


def released_inverse(y: torch.Tensor, u: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The released code's inverse, ``(y / scale) · Uᵀ`` — kept only to show where it differs."""
    _check_groups(y, u, scale)
    return ((y / scale)[..., None, :] * u).sum(-1)
