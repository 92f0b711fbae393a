"""Bad input to the LCT tracker gets a clear error naming what was expected (issue 13)."""
import numpy as np
import pytest

from course_lib.lct import kcf
from course_lib.lct.tracker import LADDER, LCTTracker, run_tracker


def _frame(h=60, w=80, seed=0):
    return (np.random.default_rng(seed).random((h, w)) * 255).astype(np.uint8)


@pytest.mark.parametrize("box", [(80, 10, 10, 10), (10, 60, 10, 10), (-20, 10, 20, 10), (10, -15, 10, 15),
                                 (200, 200, 5, 5)])
def test_initial_box_outside_the_frame(box):
    with pytest.raises(ValueError, match=r"initial box .* lies outside the 80x60 frame"):
        LCTTracker(LADDER["KCF"]).init(_frame(), box)


def test_initial_box_partly_inside_is_accepted():
    state = LCTTracker(LADDER["KCF"]).init(_frame(), (70, 50, 20, 20))
    assert np.isfinite(state.box).all()


@pytest.mark.parametrize("box", [(10, 10, 0, 5), (10, 10, 5, -1), (np.nan, 10, 5, 5), (10, 10, np.inf, 5),
                                 (10, 10, 5)])
def test_initial_box_must_be_finite_and_positive(box):
    with pytest.raises(ValueError, match=r"box must be a finite \(x, y, w, h\) with positive size"):
        LCTTracker(LADDER["KCF"]).init(_frame(), box)


def test_nan_frame_is_rejected_at_init_and_update():
    frame = _frame().astype(np.float32) / 255
    bad = frame.copy()
    bad[5, 7] = np.nan
    with pytest.raises(ValueError, match=r"^frame must be finite \(no NaN or ±inf\); found 1 NaN"):
        LCTTracker(LADDER["LCT"]).init(bad, (20, 20, 16, 16))  # checked before any filter
    tracker = LCTTracker(LADDER["KCF+scale+LT"])  # float frames: the re-detector takes uint8 only
    tracker.init(frame, (20, 20, 16, 16))
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="frame must be finite"):
        tracker.update(bad)
    with pytest.raises(ValueError, match="frame must be finite"):
        run_tracker(LADDER["KCF"], [frame, bad], (20, 20, 16, 16))


def test_frame_shape_and_filter_parameters():
    with pytest.raises(ValueError, match=r"frame must be an \(H, W\) or \(H, W, 3\) array"):
        LCTTracker().init(np.zeros((4, 4, 3, 2), np.uint8), (1, 1, 2, 2))
    xf = kcf.fft2(np.random.default_rng(0).random((8, 8, 2)))
    with pytest.raises(ValueError, match="lambda must be a positive number"):
        kcf.train_filter(xf, xf[..., 0], (8, 8), lam=float("nan"))


@pytest.mark.parametrize("n_frames", [89, 90, 91])
def test_too_short_synthetic_sequence_is_refused_clearly(n_frames):
    from course_lib.lct.sequences import synthetic_occlusion_sequence

    with pytest.raises(ValueError, match="needs >= 92 frames"):
        synthetic_occlusion_sequence(n_frames)
    assert len(synthetic_occlusion_sequence(92).frames) == 92
