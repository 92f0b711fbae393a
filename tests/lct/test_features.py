import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course_lib.lct.features import (
    FEATURE_SETS,
    cosine_window,
    extract_features,
    feature_channels,
    gaussian_labels,
    hog_features,
    intensity_histograms,
    rank_transform,
    to_gray,
)


def _texture(h, w, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((h, w)).astype(np.float32)


@pytest.mark.parametrize("soft", [True, False])
def test_hog_shape_batch_and_range(soft):
    stack = np.stack([_texture(26, 18, s) for s in range(3)])
    out = hog_features(stack, soft=soft)
    assert out.shape == (3, 6, 4, 31) and out.dtype == np.float32
    for i in range(3):  # batching is exact
        np.testing.assert_array_equal(out[i], hog_features(stack[i], soft=soft))
    assert out.min() >= 0
    assert np.all(out[..., :27] <= 4 * 0.2 * 0.5 + 1e-6)  # 4 clipped normalisations × 0.5


def test_hog_constant_image_is_zero_and_stripes_pick_orientation():
    assert np.abs(hog_features(np.full((16, 16), 0.3, np.float32))).max() == 0
    x = np.arange(32, dtype=np.float32)
    vertical_stripes = np.tile(0.5 + 0.4 * np.sin(x / 2), (32, 1))  # intensity varies along x
    unsigned = hog_features(vertical_stripes)[..., 18:27].sum(axis=(0, 1))
    assert int(np.argmax(unsigned)) == 0  # gradient direction 0° (horizontal)
    horizontal = hog_features(vertical_stripes.T.copy())[..., 18:27].sum(axis=(0, 1))
    assert int(np.argmax(horizontal)) in (4, 5)  # 90° sits between the 80° and 100° bins


def test_hog_is_contrast_invariant_for_strong_gradients():
    im = _texture(24, 24, 3)
    np.testing.assert_allclose(hog_features(0.5 * im), hog_features(im), atol=2e-3)


def test_hog_rejects_bad_input():
    with pytest.raises(ValueError):
        hog_features(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError):
        hog_features(np.zeros((2, 3, 4, 5), np.float32))
    with pytest.raises(TypeError):
        hog_features([[0.0]])


@given(h=st.integers(8, 30), w=st.integers(8, 30), seed=st.integers(0, 1000))
def test_intensity_histograms_match_brute_force(h, w, seed):
    im = _texture(h, w, seed)
    hist = intensity_histograms(im)
    assert hist.shape == (h // 4, w // 4, 8)
    np.testing.assert_allclose(hist.sum(-1), 1.0, atol=1e-6)
    lo, hi = im.min(), im.max()
    q = np.clip(((im - lo) * (8 / (hi - lo))).astype(int), 0, 7)
    qp = np.pad(q, ((3, 3), (3, 3)), mode="edge")
    i, j = (h // 4) // 2, (w // 4) // 2
    r, c = i * 4 + 2, j * 4 + 2  # padded index of the window's first pixel = centre
    brute = np.bincount(qp[r:r + 6, c:c + 6].ravel(), minlength=8) / 36
    np.testing.assert_allclose(hist[i, j], brute, atol=1e-6)


def test_rank_transform_is_invariant_to_whole_bin_shifts():
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 20, (20, 20))
    im = ((levels + 0.5) / 32).astype(np.float32)
    shifted = ((levels + 7 + 0.5) / 32).astype(np.float32)  # monotone change of brightness
    np.testing.assert_array_equal(rank_transform(im), rank_transform(shifted))
    r = rank_transform(im)
    assert r.min() > 0 and r.max() <= 1  # a pixel always counts itself


def test_labels_and_window():
    y = gaussian_labels((9, 7), 1.5)
    assert y[0, 0] == pytest.approx(1.0) and y.max() == y[0, 0]
    np.testing.assert_allclose(y, np.roll(np.flip(y, (0, 1)), (1, 1), axis=(0, 1)))  # y(m) == y(-m)
    w = cosine_window((6, 5))
    assert w.shape == (6, 5) and w[0].max() == 0 and w[:, 0].max() == 0
    with pytest.raises(ValueError):
        gaussian_labels((4, 4), 0.0)


@pytest.mark.parametrize("kind", FEATURE_SETS)
def test_extract_features_channels(kind):
    f = extract_features(_texture(40, 28), kind)
    assert f.shape == (10, 7, feature_channels(kind))
    assert np.isfinite(f).all()


def test_extract_features_bad_kind_and_gray():
    with pytest.raises(ValueError, match="feature set"):
        extract_features(_texture(8, 8), "sift")
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 1] = 255
    assert to_gray(rgb).max() == pytest.approx(0.587, abs=0.01)
    with pytest.raises(ValueError):
        to_gray(np.zeros((4, 4, 2), np.uint8))
