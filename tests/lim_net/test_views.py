import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from course_lib.lim_net import views  # noqa: E402
from course_lib.lim_net.clicks import Click  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _vol():
    img = np.random.default_rng(0).random((6, 16, 16)).astype(np.float32)
    gt = np.zeros((6, 16, 16), bool)
    gt[1:5, 4:10, 4:10] = True
    return img, gt


def test_volume_view_follows_the_slice_and_the_mask():
    img, gt = _vol()
    f2 = views.plot_volume_view(img, gt, 2, gt, [Click(2, 6, 6, True)])
    f4 = views.plot_volume_view(img, np.zeros_like(gt), 4, gt)
    assert "z=2" in f2.axes[0].get_title() and "z=4" in f4.axes[0].get_title()
    pred_area = f2.axes[1].lines[0].get_ydata()
    assert list(pred_area) == list(gt.sum(axis=(1, 2))) and f4.axes[1].lines[0].get_ydata().sum() == 0
    dashed = [ln for ln in f4.axes[1].lines if ln.get_linestyle() == "--"]
    assert dashed and dashed[-1].get_xdata()[0] == 4
    with pytest.raises(ValueError):
        views.plot_volume_view(img, gt, 9)


def test_dice_curves_draw_the_table():
    cur = pd.DataFrame({("A", "LIM-Net (MRF)"): [0.5, 0.6], ("A", "random walker"): [0.4, 0.7],
                        ("B", "LIM-Net (MRF)"): [0.3, 0.35]}, index=pd.Index([1, 2], name="round"))
    fa = views.plot_dice_curves(cur, "A")
    fb = views.plot_dice_curves(cur, "B", title="mr")
    assert len(fa.axes[0].lines) == 2 and list(fa.axes[0].lines[1].get_ydata()) == [0.4, 0.7]
    assert fb.axes[0].get_title() == "mr" and list(fb.axes[0].lines[0].get_ydata()) == [0.3, 0.35]
    with pytest.raises(ValueError):
        views.plot_dice_curves(cur, "C")


def test_slices_and_click_maps_titles_follow_arguments():
    img, gt = _vol()
    f = views.plot_slices(img, gt, gt, zs=[1, 3], title="t1")
    assert [a.get_title() for a in f.axes] == ["z=1", "z=3"]
    maps = np.zeros((2, 16, 16))
    assert views.plot_click_maps(img[0], maps, title="clicks!").axes[0].get_title() == "clicks!"
    with pytest.raises(ValueError):
        views.plot_click_maps(img[0], np.zeros((3, 16, 16)))


def test_training_history_one_panel_per_net():
    h = pd.DataFrame({"net": ["a", "a", "b"], "iter": [1, 2, 1], "loss": [1.0, 0.5, 0.3]})
    f = views.plot_training_history(h)
    assert [a.get_title() for a in f.axes] == ["a", "b"] and list(f.axes[0].lines[0].get_ydata()) == [1.0, 0.5]
