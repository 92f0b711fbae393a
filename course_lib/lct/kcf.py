"""Kernelised correlation filter (KCF) in the Fourier domain, plus brute-force references.

Conventions (as in ``gaussian_correlation.m`` / ``do_correlation.m``): a feature map is (M, N, D), real; its
Fourier transform is the half-spectrum ``rfft2`` over the two spatial axes, shape (M, N//2+1, D) (real input
makes the other half redundant, so every product below costs half of a full FFT). Labels peak at (0, 0).

    kernel correlation   k^{xz} = kappa(x, P^tau z) for all cyclic shifts tau      (Gaussian / linear)
    training             alpha_hat = y_hat / (k_hat^{xx} + lambda)                   (kernel ridge regression)
    detection            f(z) = F^-1(k_hat^{xz} ⊙ alpha_hat)
    update               alpha_hat <- (1-eta) alpha_hat + eta alpha_hat_new, same for x_hat
"""
from __future__ import annotations

import numpy as np
import scipy.fft as sfft

KERNELS = ("gaussian", "linear")


def fft2(x: np.ndarray) -> np.ndarray:
    """Half-spectrum 2-D FFT over the two spatial axes of an (M, N) or (M, N, D) real array."""
    if x.ndim not in (2, 3):
        raise ValueError(f"expected an (M, N) or (M, N, D) array, got shape {x.shape}")
    return sfft.rfft2(x, axes=(0, 1))


def ifft2(xf: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`fft2`; ``shape`` = (M, N) of the spatial grid (N is ambiguous from N//2+1)."""
    return sfft.irfft2(xf, s=shape, axes=(0, 1))


def spectral_energy(xf: np.ndarray, shape: tuple[int, int]) -> float:
    """‖x‖² from its half spectrum by Parseval: (1/MN) Σ |x̂|², counting the mirrored columns twice."""
    m, n = shape
    w = np.full(xf.shape[1], 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    p = (xf.real**2 + xf.imag**2)
    if p.ndim == 3:
        p = p.sum(axis=2)
    return float((p * w[None, :]).sum() / (m * n))


def _cross(xf: np.ndarray, zf: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Spatial cross-correlation c(tau) = Σ_d Σ_p x_d(p + tau) z_d(p) for all cyclic shifts tau."""
    prod = xf * np.conj(zf)
    if prod.ndim == 3:
        prod = prod.sum(axis=2)
    return ifft2(prod, shape)


def kernel_correlation(xf: np.ndarray, zf: np.ndarray, shape: tuple[int, int], kernel: str = "gaussian",
                       sigma: float = 1.0) -> np.ndarray:
    """k̂ for all cyclic shifts (``gaussian_correlation.m``), returned in the Fourier domain.

    Gaussian: k = exp(-(1/σ²) max(0, (‖x‖² + ‖z‖² − 2 F⁻¹(Σ_d x̂_d ⊙ ẑ_d*)) / (M N D)));
    linear:   k = F⁻¹(Σ_d x̂_d ⊙ ẑ_d*) / (M N D).
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if xf.shape != zf.shape:
        raise ValueError(f"x and z spectra must have the same shape, got {xf.shape} and {zf.shape}")
    #: Features may have $D$ channels (HOG cells); the kernel sums over channels and, as in the released
    #: `gaussian_correlation.m`, normalises by the number of elements $M N D$.
    d = xf.shape[2] if xf.ndim == 3 else 1
    numel = shape[0] * shape[1] * d
    #: Correlation of $x$ with **every cyclic shift** of $z$ at once: $\mathcal{F}^{-1}(\sum_d \hat x_d \odot
    #: \hat z_d^*)$. Circulant matrices are diagonalised by the DFT, so this is $O(n \log n)$ instead of $n$
    #: dot products.
    xy = _cross(xf, zf, shape)
    #: Linear kernel: the kernel values of all shifts are that correlation itself.
    if kernel == "linear":
        return fft2(xy / numel)
    #: Gaussian kernel: $\lVert x - P^i z\rVert^2 = \lVert x\rVert^2 + \lVert z\rVert^2 - 2\,c_i$, so
    #: every distance comes from the same correlation $c$ (norms by Parseval from the spectra).
    #: The result goes back to the Fourier domain, $\hat k$, ready for Eq. 17 and Eq. 22.
    xx = spectral_energy(xf, shape)
    zz = spectral_energy(zf, shape)
    k = np.exp(-np.maximum(0.0, (xx + zz - 2.0 * xy) / numel) / sigma**2)
    return fft2(k)


def train_filter(xf: np.ndarray, yf: np.ndarray, shape: tuple[int, int], lam: float = 1e-4,
                 kernel: str = "gaussian", sigma: float = 1.0) -> np.ndarray:
    """Dual coefficients α̂ = ŷ / (k̂^{xx} + λ): kernel ridge regression over all cyclic shifts of x
    (KCF Eq. 17)."""
    if not lam > 0:  # also rejects NaN
        raise ValueError(f"lambda must be a positive number, got {lam}")
    #: Kernel ridge regression over all cyclic shifts of $x$, solved element-wise in the Fourier domain
    #: (KCF Eq. 17): $\hat\alpha = \hat y / (\hat k^{xx} + \lambda)$ — no $n \times n$ inverse.
    return yf / (kernel_correlation(xf, xf, shape, kernel, sigma) + lam)


def detect(alphaf: np.ndarray, model_xf: np.ndarray, zf: np.ndarray, shape: tuple[int, int],
           kernel: str = "gaussian", sigma: float = 1.0) -> np.ndarray:
    """Response map f(z) = F⁻¹(k̂^{x̄z} ⊙ α̂) (KCF Eq. 22); its peak index is the displacement (cyclic)."""
    #: Evaluate the regressor on every cyclic shift of the new patch $z$ at once (KCF Eq. 22):
    #: $f(z) = \mathcal{F}^{-1}(\hat k^{\bar x z} \odot \hat\alpha)$; the peak's index is the displacement.
    return ifft2(alphaf * kernel_correlation(zf, model_xf, shape, kernel, sigma), shape)


def peak_displacement(response: np.ndarray) -> tuple[int, int, float]:
    """(dy, dx, peak): location of the response maximum as a signed cyclic shift, and its value."""
    m, n = response.shape
    i, j = np.unravel_index(int(np.argmax(response)), response.shape)
    dy = i - m if i > m // 2 else i
    dx = j - n if j > n // 2 else j
    return int(dy), int(dx), float(response[i, j])


def interpolate(old: np.ndarray, new: np.ndarray, eta: float) -> np.ndarray:
    """Linear-interpolation model update (1 − η)·old + η·new (the ``interp_factor`` update)."""
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"learning rate must be in [0, 1], got {eta}")
    return (1.0 - eta) * old + eta * new


# ------------------------------------------------------------------------------- brute-force references
def cyclic_shifts(x: np.ndarray) -> np.ndarray:
    """All cyclic shifts of an (M, N[, D]) array, stacked as rows: row (a·N + b) is x rolled by (a, b)."""
    m, n = x.shape[:2]
    return np.stack([np.roll(x, (a, b), axis=(0, 1)).ravel() for a in range(m) for b in range(n)])


def _kernel_matrix(a: np.ndarray, b: np.ndarray, kernel: str, sigma: float, numel: int) -> np.ndarray:
    if kernel == "linear":
        return a @ b.T / numel
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.exp(-np.maximum(0.0, d2 / numel) / sigma**2)


def brute_force_krr(x: np.ndarray, y: np.ndarray, lam: float = 1e-4, kernel: str = "gaussian",
                    sigma: float = 1.0) -> np.ndarray:
    """Kernel ridge regression on the explicit circulant training set {P^tau x → y(tau)} (KCF Eq. 2–3):
    α = (K + λI)⁻¹ y with K_ij = κ(P^i x, P^j x). Returns α as an (M, N) array. O((MN)³): tiny inputs only."""
    if x.ndim == 2:
        x = x[..., None]
    m, n, d = x.shape
    if y.shape != (m, n):
        raise ValueError(f"labels must have the spatial shape {(m, n)}, got {y.shape}")
    rows = cyclic_shifts(x).astype(np.float64)
    kmat = _kernel_matrix(rows, rows, kernel, sigma, m * n * d)
    return np.linalg.solve(kmat + lam * np.eye(m * n), y.astype(np.float64).ravel()).reshape(m, n)


def brute_force_response(alpha: np.ndarray, x: np.ndarray, z: np.ndarray, kernel: str = "gaussian",
                         sigma: float = 1.0) -> np.ndarray:
    """f_tau = Σ_j α_j κ(P^{-tau} z, P^j x), evaluated shift by shift: the response :func:`detect` vectorises.

    Entry tau scores the test window moved back by tau, so a target displaced by +tau peaks at tau. Equal to
    :func:`detect` when α is symmetric (α_j = α_{-j}), which holds for the symmetric Gaussian labels."""
    if x.ndim == 2:
        x, z = x[..., None], z[..., None]
    m, n, d = x.shape
    back = np.stack([np.roll(z, (-a, -b), axis=(0, 1)).ravel() for a in range(m) for b in range(n)])
    rows = cyclic_shifts(x).astype(np.float64)
    kmat = _kernel_matrix(back.astype(np.float64), rows, kernel, sigma, m * n * d)
    return (kmat @ alpha.ravel()).reshape(m, n)


def brute_force_correlation(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """c(tau) = Σ_p x(p + tau) z(p) with cyclic indices, by explicit loops (checks the FFT identity)."""
    if x.ndim == 2:
        x, z = x[..., None], z[..., None]
    m, n = x.shape[:2]
    out = np.zeros((m, n))
    for a in range(m):
        for b in range(n):
            out[a, b] = float((np.roll(x, (-a, -b), axis=(0, 1)) * z).sum())
    return out
