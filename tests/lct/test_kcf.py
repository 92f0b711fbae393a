import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course_lib.lct import kcf
from course_lib.lct.features import gaussian_labels


@given(m=st.integers(2, 6), n=st.integers(2, 6), d=st.integers(1, 3), kernel=st.sampled_from(kcf.KERNELS),
       lam=st.floats(1e-3, 1.0), seed=st.integers(0, 10_000))
def test_fourier_krr_equals_brute_force(m, n, d, kernel, lam, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, n, d))
    y = rng.standard_normal((m, n))  # training identity holds for any labels
    alpha = kcf.ifft2(kcf.train_filter(kcf.fft2(x), kcf.fft2(y), (m, n), lam, kernel), (m, n))
    np.testing.assert_allclose(alpha, kcf.brute_force_krr(x, y, lam, kernel), atol=1e-8)


@given(m=st.integers(2, 6), n=st.integers(2, 6), d=st.integers(1, 3), kernel=st.sampled_from(kcf.KERNELS),
       seed=st.integers(0, 10_000))
def test_fft_detection_equals_brute_force(m, n, d, kernel, seed):
    rng = np.random.default_rng(seed)
    x, z = rng.standard_normal((m, n, d)), rng.standard_normal((m, n, d))
    y = gaussian_labels((m, n), 1.0).astype(float)
    alphaf = kcf.train_filter(kcf.fft2(x), kcf.fft2(y), (m, n), 0.05, kernel)
    resp = kcf.detect(alphaf, kcf.fft2(x), kcf.fft2(z), (m, n), kernel)
    alpha = kcf.brute_force_krr(x, y, 0.05, kernel)
    np.testing.assert_allclose(resp, kcf.brute_force_response(alpha, x, z, kernel), atol=1e-8)


@given(m=st.integers(1, 7), n=st.integers(1, 7), seed=st.integers(0, 10_000))
def test_fft_correlation_and_parseval(m, n, seed):
    rng = np.random.default_rng(seed)
    x, z = rng.standard_normal((m, n, 2)), rng.standard_normal((m, n, 2))
    corr = kcf.ifft2((kcf.fft2(x) * np.conj(kcf.fft2(z))).sum(2), (m, n))
    np.testing.assert_allclose(corr, kcf.brute_force_correlation(x, z), atol=1e-9)
    assert kcf.spectral_energy(kcf.fft2(x), (m, n)) == pytest.approx(float((x**2).sum()))


@given(dy=st.integers(-5, 5), dx=st.integers(-4, 4), seed=st.integers(0, 100))
def test_detection_peak_is_the_displacement(dy, dx, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 12, 3))
    y = gaussian_labels((16, 12), 1.0)
    alphaf = kcf.train_filter(kcf.fft2(x), kcf.fft2(y), (16, 12))
    z = np.roll(x, (dy, dx), axis=(0, 1))
    got_dy, got_dx, peak = kcf.peak_displacement(kcf.detect(alphaf, kcf.fft2(x), kcf.fft2(z), (16, 12)))
    assert (got_dy, got_dx) == (dy, dx)
    assert peak == pytest.approx(1.0, abs=0.05)  # a pure shift is fitted almost exactly


def test_bad_arguments():
    xf = kcf.fft2(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match="kernel"):
        kcf.kernel_correlation(xf, xf, (4, 4), "poly")
    with pytest.raises(ValueError, match="same shape"):
        kcf.kernel_correlation(xf, kcf.fft2(np.zeros((4, 4, 3))), (4, 4))
    with pytest.raises(ValueError, match="lambda"):
        kcf.train_filter(xf, xf[..., 0], (4, 4), lam=0.0)
    with pytest.raises(ValueError, match="learning rate"):
        kcf.interpolate(xf, xf, 1.5)
    with pytest.raises(ValueError):
        kcf.fft2(np.zeros(5))
