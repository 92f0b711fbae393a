import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course_lib.lct.detector import PADetector, box_iou, detector_channels, pa_update
from course_lib.lct.patches import get_subwindow, search_window
from course_lib.lct.scale import ScaleFilter


def _scene(seed=0, size=(120, 160)):
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random(size).astype(np.float32), (0, 0), 1.5)
    return (img - img.min()) / (img.max() - img.min())


def test_scale_filter_recovers_a_zoom():
    img = _scene()
    centre = (60.0, 80.0)
    sf = ScaleFilter((40, 40))
    sf.update(img, centre, 1.0, 1.0)
    m = cv2.getRotationMatrix2D((centre[1], centre[0]), 0, 1.02**4)  # the object grows by 1.02^4
    zoomed = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)
    est = sf.estimate(zoomed, centre, 1.0)
    assert abs(np.log(est) / np.log(1.02) - 4) <= 1
    assert sf.estimate(img, centre, 1.0) == pytest.approx(1.0)
    assert len(sf.factors) == 33 and sf.factors[16] == 1.0 and sf.window[0] == 0


def test_scale_filter_validation():
    with pytest.raises(ValueError):
        ScaleFilter((10, 10), n_scales=1)
    with pytest.raises(ValueError):
        ScaleFilter((10, 10), step=1.0)
    with pytest.raises(RuntimeError):
        ScaleFilter((16, 16)).response(_scene(), (60, 80), 1.0)


def test_subwindow_replicates_borders_and_resizes():
    im = np.arange(100, dtype=np.float32).reshape(10, 10)
    p = get_subwindow(im, (0.0, 0.0), (4, 4))
    assert p.shape == (4, 4) and p[0, 0] == 0 and p[2, 2] == im[0, 0] and p[3, 3] == im[1, 1]
    np.testing.assert_array_equal(get_subwindow(im, (5.0, 5.0), (4, 4)), im[3:7, 3:7])
    assert get_subwindow(im, (5.0, 5.0), (8, 8), (4, 4)).shape == (4, 4)
    with pytest.raises(ValueError):
        get_subwindow(im, (5, 5), (0, 3))


def test_search_window_rules():
    win, app = search_window((101, 25), (288, 352))  # tall: 1.4 x height, 2.8 x width
    assert tuple(win) == (141, 70) and tuple(app) == (109, 33)
    win, _ = search_window((87, 107), (240, 360))  # large: 2x
    assert tuple(win) == (174, 214)
    win, _ = search_window((20, 20), (240, 360))
    assert tuple(win) == (56, 56)
    with pytest.raises(ValueError):
        search_window((0, 5), (10, 10))


def test_box_iou():
    ref = np.array([0, 0, 10, 10])
    np.testing.assert_allclose(box_iou(np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]]), ref),
                               [1.0, 50 / 150, 0.0])


@given(seed=st.integers(0, 1000), y=st.sampled_from([-1.0, 1.0]))
def test_pa_update_reaches_the_margin_when_aggressive(seed, y):
    rng = np.random.default_rng(seed)
    x = rng.random((1, 20)).astype(np.float64)
    w = rng.standard_normal(21) * 0.01
    pa_update(w, x, np.array([y]), c=1e9)  # C -> inf: the PA step lands exactly on the margin
    assert y * (x[0] @ w[:-1] + w[-1]) == pytest.approx(1.0, abs=1e-6)
    before = w.copy()
    pa_update(w, x, np.array([y]))  # a satisfied sample leaves w (numerically) alone: passive
    np.testing.assert_allclose(w, before, atol=1e-9)


def test_pa_update_validation():
    with pytest.raises(ValueError):
        pa_update(np.zeros(3), np.zeros((2, 2)), np.array([1.0, 0.0]))
    with pytest.raises(ValueError):
        pa_update(np.zeros(3), np.zeros((2, 3)), np.array([1.0, -1.0]))


def test_detector_channels_binary_16():
    gray = (_scene() * 255).astype(np.uint8)
    f = detector_channels(gray)
    assert f.shape == (*gray.shape, 16) and set(np.unique(f)) <= {0.0, 1.0}
    rgb = np.stack([gray, 255 - gray, gray // 2], -1)
    assert detector_channels(rgb).shape == (*gray.shape, 16)
    with pytest.raises(TypeError):
        detector_channels(gray.astype(np.float32))


def test_detector_finds_the_moved_target_in_the_whole_frame():
    rng = np.random.default_rng(1)
    bg = (0.5 + 0.05 * rng.standard_normal((120, 160))).clip(0, 1)
    target = (_scene(5, (16, 16)) > 0.5).astype(float)
    f0, f1 = bg.copy(), bg.copy()
    f0[30:46, 20:36] = target
    f1[70:86, 120:136] = target
    det = PADetector((16, 16), (44, 44), detect_region=None, prior_sigma=1e6)
    det.train((f0 * 255).astype(np.uint8), (38.0, 28.0))
    pos, score = det.detect((f1 * 255).astype(np.uint8), (38.0, 28.0))
    assert np.hypot(*(pos - np.array([78.0, 128.0]))) < 4 and score > 0
