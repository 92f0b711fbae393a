import numpy as np
import pytest

from course_lib.lct import metrics
from course_lib.lct.experiments import synthetic_recovery
from course_lib.lct.sequences import pink_noise
from course_lib.lct.tracker import LADDER, VARIANTS, LCTConfig, LCTTracker, run_tracker


def _zoom_sequence(n=40, grow=1.01):
    """A textured square that grows by ``grow`` per frame on a static background."""
    import cv2

    rng = np.random.default_rng(0)
    bg = 0.5 + 0.1 * pink_noise((120, 160), rng)
    tex = cv2.resize(rng.random((8, 8)), (64, 64), interpolation=cv2.INTER_NEAREST)
    frames, boxes = [], []
    for t in range(n):
        s = int(round(24 * grow**t))
        img = bg.copy()
        y0, x0 = 60 - s // 2, 80 - s // 2
        img[y0:y0 + s, x0:x0 + s] = cv2.resize(tex, (s, s), interpolation=cv2.INTER_AREA)
        frames.append((img.clip(0, 1) * 255).astype(np.uint8))
        boxes.append((x0, y0, s, s))
    return np.stack(frames), np.array(boxes, float)


def _translate_sequence(n=30, step=(1, 2)):
    rng = np.random.default_rng(3)
    big = (0.5 + 0.15 * pink_noise((200, 260), rng)).clip(0, 1)
    frames = []
    for t in range(n):
        y0, x0 = 40 + t * step[0], 40 + t * step[1]
        frames.append((big[y0:y0 + 120, x0:x0 + 160] * 255).astype(np.uint8))
    # the camera pans, so a fixed scene point moves by -step per frame
    boxes = np.array([(70 - t * step[1], 50 - t * step[0], 20, 20) for t in range(n)], float)
    return np.stack(frames), boxes


def test_kcf_follows_pure_translation():
    frames, boxes = _translate_sequence()
    res = run_tracker(LADDER["KCF"], frames, boxes[0])
    assert metrics.center_errors(res.boxes, boxes).max() < 3
    assert np.isnan(res.confidence).all() and res.n_redetections == 0


def test_boxes_include_the_scale_estimate():
    frames, boxes = _zoom_sequence()
    fixed = run_tracker(LADDER["KCF"], frames, boxes[0])
    scaled = run_tracker(LADDER["KCF+scale"], frames, boxes[0])
    np.testing.assert_allclose(fixed.boxes[:, 2:], np.tile(boxes[0, 2:], (len(boxes), 1)))  # fixed-size KCF
    growth = scaled.boxes[-1, 2] / scaled.boxes[0, 2]
    assert growth > 1.15  # true growth 1.01^39 = 1.47; the filter follows most of it
    assert metrics.overlaps(scaled.boxes, boxes).mean() > metrics.overlaps(fixed.boxes, boxes).mean()


def test_full_lct_recovers_where_kcf_does_not():
    v = synthetic_recovery()
    assert v["lct_frames_to_recover"] <= 5
    assert v["kcf_fraction_within_tol"] <= 0.1
    assert v["min_confidence_occluded"] < LCTConfig().t_r


def test_runs_are_deterministic_and_shaped():
    frames, boxes = _translate_sequence(12)
    a = run_tracker(LADDER["LCT"], frames, boxes[0], keep_maps=True)
    b = run_tracker(LADDER["LCT"], frames, boxes[0])
    np.testing.assert_array_equal(a.boxes, b.boxes)
    assert a.boxes.shape == (12, 4) and a.confidence.shape == (12,) and len(a.responses) == 12
    assert a.responses[0] is None and a.responses[1].ndim == 2 and a.fps > 0 and a.cpu_fps > 0


def test_config_and_input_validation():
    with pytest.raises(ValueError, match="features"):
        LCTConfig(features="cnn")
    with pytest.raises(ValueError, match="kernel"):
        LCTConfig(kernel="poly")
    with pytest.raises(ValueError, match="long-term"):
        LCTConfig(use_longterm=False, use_redetect=True)
    with pytest.raises(ValueError):
        LCTConfig(interp_factor=2.0)
    tr = LCTTracker()
    with pytest.raises(ValueError, match="box"):
        tr.init(np.zeros((50, 50), np.uint8), (1, 2, 0, 5))
    with pytest.raises(ValueError):
        run_tracker(LADDER["KCF"], [], (0, 0, 5, 5))
    assert list(LADDER) == ["KCF", "KCF+scale", "KCF+scale+LT", "LCT"]
    assert all(isinstance(v, LCTConfig) for v in VARIANTS.values())
    assert LADDER["LCT"].replace(t_r=0.2).t_r == 0.2


def test_large_targets_are_tracked_at_half_resolution_in_original_coordinates():
    rng = np.random.default_rng(5)
    big = (0.5 + 0.15 * pink_noise((360, 420), rng)).clip(0, 1)
    frames = np.stack([(big[20 + 2 * t:260 + 2 * t, 30 + 3 * t:350 + 3 * t] * 255).astype(np.uint8)
                       for t in range(12)])
    boxes = np.array([(100 - 3 * t, 60 - 2 * t, 110, 110) for t in range(12)], float)
    tracker = LCTTracker(LADDER["KCF"])
    tracker.init(frames[0], boxes[0])
    assert tracker.im_scale == 0.5  # sqrt(110 * 110) >= 100, as ``resize_image`` in the code
    res = run_tracker(LADDER["KCF"], frames, boxes[0])
    assert metrics.center_errors(res.boxes, boxes).max() < 5
    np.testing.assert_allclose(res.boxes[:, 2:], 110, atol=1)  # reported in original pixels


def test_fft_friendly_grid_is_smooth_and_default_keeps_the_code_window():
    frame = np.zeros((240, 360), np.uint8)
    box = (70, 51, 107, 87)  # Car4's first box: the code's rule gives a 43 x 53 cell grid (two primes)
    plain, smooth = LCTTracker(LADDER["KCF"]), LCTTracker(LADDER["KCF"].replace(fft_friendly=True))
    plain.init(frame, box)
    smooth.init(frame, box)
    assert plain.grid == (43, 53) and smooth.grid == (45, 54)
