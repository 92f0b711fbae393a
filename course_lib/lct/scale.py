"""DSST-style 1-D scale filter: HOG of S resized samples a^n·(target + 2 cells), a Hann window
over scales, and a multi-channel correlation filter along the scale axis,
H = Ȳ ⊙ X̂ / (Σ_d X̂_d ⊙ X̂_d* + λ_s)."""
from __future__ import annotations

import numpy as np

from course_lib.lct.features import hog_features
from course_lib.lct.patches import get_subwindow


class ScaleFilter:
    """One-dimensional scale correlation filter (DSST; ``scale/get_scale_sample.m`` + the scale block of
    ``tracker_lct.m``). ``base_sz`` = (h, w) of the sampled region at scale 1 (the code uses ``app_sz``)."""

    def __init__(self, base_sz: tuple[int, int], n_scales: int = 33, step: float = 1.02, lam: float = 0.01,
                 max_area: float = 512.0, sigma_factor: float = 0.25, cell_size: int = 4):
        if n_scales < 3:
            raise ValueError(f"need at least 3 scales, got {n_scales}")
        if step <= 1.0:
            raise ValueError(f"scale step must be > 1, got {step}")
        self.base_sz = np.asarray(base_sz, float)
        self.n_scales, self.step, self.lam, self.cell_size = n_scales, step, lam, cell_size
        ss = np.arange(1, n_scales + 1) - np.ceil(n_scales / 2)
        sigma = n_scales / np.sqrt(33) * sigma_factor  # scale_sigma of tracker_lct.m
        self.ysf = np.fft.fft(np.exp(-0.5 * ss**2 / sigma**2))
        #: a^n for n = +16 … −16 (``scaleFactors = step.^(ceil(S/2) - (1:S))``)
        self.factors = step ** (np.ceil(n_scales / 2) - np.arange(1, n_scales + 1))
        self.window = np.hanning(n_scales) if n_scales % 2 else np.hanning(n_scales + 1)[1:]
        model_factor = min(1.0, np.sqrt(max_area / self.base_sz.prod()))
        self.model_sz = np.maximum(np.floor(self.base_sz * model_factor), 2 * cell_size).astype(int)
        self.num: np.ndarray | None = None
        self.den: np.ndarray | None = None

    def sample(self, gray: np.ndarray, center: tuple[float, float], scale: float) -> np.ndarray:
        """(D, S) matrix: HOG of every scaled window resized to ``model_sz``, flattened, times the Hann
        window."""
        mh, mw = self.model_sz
        stack = np.empty((self.n_scales, mh, mw), np.float32)
        for i, f in enumerate(self.factors * scale):
            sz = np.maximum(np.floor(self.base_sz * f), 2).astype(int)
            stack[i] = get_subwindow(gray, center, sz, (mh, mw))
        feats = hog_features(stack, self.cell_size).reshape(self.n_scales, -1)
        return (feats * self.window[:, None]).T

    def update(self, gray: np.ndarray, center: tuple[float, float], scale: float, eta: float = 1.0) -> None:
        """Numerator ȳ̂ ⊙ x̂* and denominator Σ_d |x̂_d|², blended with rate ``eta`` (1 = re-initialise)."""
        xsf = np.fft.fft(self.sample(gray, center, scale), axis=1)
        num = self.ysf[None, :] * np.conj(xsf)
        den = np.sum(xsf.real**2 + xsf.imag**2, axis=0)
        if self.num is None or eta >= 1.0:
            self.num, self.den = num, den
        else:
            self.num = (1 - eta) * self.num + eta * num
            self.den = (1 - eta) * self.den + eta * den

    def response(self, gray: np.ndarray, center: tuple[float, float], scale: float) -> np.ndarray:
        """Scale response real(F⁻¹(Σ_d H_d ⊙ Ẑ_d)) over the S candidate scales."""
        if self.num is None:
            raise RuntimeError("ScaleFilter.update must be called once before response")
        xsf = np.fft.fft(self.sample(gray, center, scale), axis=1)
        return np.real(np.fft.ifft(np.sum(self.num * xsf, axis=0) / (self.den + self.lam)))

    def estimate(self, gray: np.ndarray, center: tuple[float, float], scale: float) -> float:
        """Multiplicative scale change a^n of the best-responding candidate."""
        return float(self.factors[int(np.argmax(self.response(gray, center, scale)))])
