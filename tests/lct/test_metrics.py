import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course_lib.lct import metrics

box = st.tuples(st.floats(0, 100), st.floats(0, 100), st.floats(1, 50), st.floats(1, 50))


def test_perfect_run():
    gt = np.array([[10, 20, 30, 40], [12, 22, 30, 40]], float)
    s = metrics.ope_summary(gt, gt)
    assert s["P@20"] == 1.0 and s["mean_err"] == 0.0
    assert s["AUC"] == pytest.approx(20 / 21)  # IoU = 1 exceeds every threshold but 1


def test_known_errors_and_curves():
    gt = np.array([[0, 0, 10, 10]] * 4, float)
    pred = gt + np.array([[0, 0, 0, 0], [3, 4, 0, 0], [30, 40, 0, 0], [5, 0, 0, 0]])
    np.testing.assert_allclose(metrics.center_errors(pred, gt), [0, 5, 50, 5])
    prec = metrics.precision_curve(metrics.center_errors(pred, gt))
    assert prec[0] == 0.25 and prec[5] == 0.75 and prec[50] == 1.0
    assert np.all(np.diff(prec) >= 0)
    np.testing.assert_allclose(metrics.overlaps(pred, gt)[[0, 2, 3]], [1.0, 0.0, 50 / 150])


@given(a=box, b=box)
def test_iou_symmetric_and_bounded(a, b):
    a, b = np.array([a]), np.array([b])
    iou = metrics.overlaps(a, b)[0]
    assert 0.0 <= iou <= 1.0 + 1e-12
    assert iou == pytest.approx(metrics.overlaps(b, a)[0])


def test_frames_to_recover_and_shape_check():
    gt = np.zeros((10, 4))
    gt[:, 2:] = 10
    pred = gt.copy()
    pred[:6, 0] = 100
    assert metrics.frames_to_recover(pred, gt, start=2) == 4
    pred[:, 0] = 100
    assert metrics.frames_to_recover(pred, gt, start=2) == float("inf")
    with pytest.raises(ValueError):
        metrics.center_errors(np.zeros((3, 4)), np.zeros((2, 4)))
