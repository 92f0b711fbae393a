import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays

from course_lib.lim_net.metrics import dice, fraction_non_decreasing, noc
from course_lib.lim_net.mrf import fuse, oracle_fuse, slice_dice, slice_errors
from course_lib.lim_net.user import first_click, interior_point, next_click


def _ball(shape, c, r):
    zz, yy, xx = np.ogrid[: shape[0], : shape[1], : shape[2]]
    return (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r**2


def test_first_click_is_positive_interior_of_largest_slice():
    gt = _ball((9, 20, 20), (5, 10, 8), 4)
    c = first_click(gt)
    assert c.positive and c.z == 5 and (c.y, c.x) == (10, 8)


def test_interior_point_counts_image_border_as_outside():
    region = np.zeros((10, 10), bool)
    region[:, :4] = True  # touches the border: the interior is away from it
    y, x = interior_point(region)
    assert x in (1, 2) and 1 <= y <= 8


def test_next_click_sign_and_slice():
    gt = np.zeros((5, 16, 16), bool)
    gt[1:4, 4:12, 4:12] = True
    miss = gt.copy()
    miss[2, 4:12, 4:9] = False  # a big miss on slice 2
    c = next_click(miss, gt)
    assert c.z == 2 and c.positive and not miss[2, c.y, c.x] and gt[2, c.y, c.x]
    extra = gt.copy()
    extra[3, 0:6, 12:16] = True  # a false positive on slice 3
    c = next_click(extra, gt)
    assert c.z == 3 and not c.positive and extra[3, c.y, c.x] and not gt[3, c.y, c.x]
    assert next_click(gt, gt) is None


@settings(max_examples=40, deadline=None)
@given(arrays(bool, (4, 10, 10)), arrays(bool, (4, 10, 10)))
def test_next_click_lies_in_an_error_of_the_worst_slice(pred, gt):
    c = next_click(pred, gt)
    err = pred ^ gt
    if not err.any():
        assert c is None
        return
    assert err[c.z].sum() == err.sum(axis=(1, 2)).max()
    assert err[c.z, c.y, c.x]
    assert c.positive == bool(gt[c.z, c.y, c.x])


@settings(max_examples=60, deadline=None)
@given(arrays(bool, (5, 6, 6)), arrays(bool, (5, 6, 6)), arrays(bool, (5, 6, 6)))
def test_oracle_mrf_property(prev, new, gt):
    fused, took = oracle_fuse(prev, new, gt)
    e_f, e_p, e_n = slice_errors(fused, gt), slice_errors(prev, gt), slice_errors(new, gt)
    assert (e_f <= e_p).all() and (e_f <= e_n).all()
    assert e_f.sum() <= min(e_p.sum(), e_n.sum())
    for z in range(5):
        assert np.array_equal(fused[z], new[z] if took[z] else prev[z])


def test_fuse_ties_pin_and_validation():
    prev, new = np.zeros((3, 2, 2), bool), np.ones((3, 2, 2), bool)
    fused, took = fuse(prev, new, [1, 0.2, 0.5], [0.1, 0.9, 0.5], pin=[0])
    assert took.tolist() == [True, True, True]
    fused, took = fuse(prev, new, [1, 0.2, 0.6], [0.1, 0.9, 0.5])
    assert took.tolist() == [False, True, False] and not fused[0].any() and fused[1].all()
    with pytest.raises(ValueError):
        fuse(prev, new, [1, 2], [1, 2, 3])


def test_slice_dice_and_dice():
    a = np.zeros((2, 4, 4), bool)
    b = a.copy()
    a[0, :2] = True
    b[0, :1] = True
    np.testing.assert_allclose(slice_dice(a, b), [(2 * 4 + 1) / (8 + 4 + 1), 1.0])
    assert dice(a, b) == pytest.approx(2 * 4 / 12)
    assert dice(np.zeros(3, bool), np.zeros(3, bool)) == 1.0
    with pytest.raises(ValueError):
        dice(np.zeros(3), np.zeros(4))


def test_noc_and_monotonicity():
    assert noc([0.5, 0.79, 0.81, 0.9]) == 3
    assert noc([0.5, 0.6], cap=7) == 7
    assert noc([0.85]) == 1
    assert fraction_non_decreasing([0.5, 0.6, 0.55, 0.7, 0.7]) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        fraction_non_decreasing([0.5])


def test_peak_memory_sees_a_large_allocation():
    # in a fresh process: a long-lived test worker may serve the allocation from memory it already holds
    import subprocess
    import sys

    code = ("import numpy as np; from course_lib.lim_net.metrics import peak_memory_mb; "
            "out, mb = peak_memory_mb(lambda: float(np.ones(40 * 2**20 // 8).sum())); print(out, mb)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    out, mb = map(float, res.stdout.split()[-2:])
    assert out == 40 * 2**20 // 8
    assert 20 < mb < 400
