"""Bad input to LIM-Net's public entry points gets a clear error (issue 13); numpy integers are clicks too."""
import numpy as np
import pytest
import torch

from course_lib.lim_net.clicks import Click, encode_slice_clicks
from course_lib.lim_net.models import ClickUNet2D, MemoryNet, QualityRegressor
from course_lib.lim_net.pipeline import LIMNet, LIMNetSession


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return LIMNet(ClickUNet2D(base=4), MemoryNet(key_dim=8, value_dim=8, width=4), QualityRegressor(width=4)).eval()


def test_click_accepts_numpy_integers_and_stores_python_ints():
    z, y, x = np.argwhere(np.ones((2, 3, 4), bool))[-1]  # numpy int64 voxel indices
    c = Click(z, y, x, np.bool_(False))
    assert (c.z, c.y, c.x, c.positive) == (1, 2, 3, False)
    assert all(type(v) is int for v in (c.z, c.y, c.x)) and type(c.positive) is bool
    assert c == Click(1, 2, 3, False) and hash(c) == hash(Click(1, 2, 3, False))
    maps = encode_slice_clicks([Click(np.int32(0), np.int64(2), np.uint8(3))], 0, 8, 8)
    assert maps[0, 2, 3] == 1.0


@pytest.mark.parametrize("bad", [1.0, True, "1", None, np.float64(1.0)])
def test_click_rejects_non_integers(bad):
    with pytest.raises(TypeError, match=r"Click.y must be an int voxel index \(or a numpy integer\)"):
        Click(0, bad, 0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_session_rejects_a_nonfinite_volume(model, bad):
    image = np.zeros((4, 16, 16), np.float32)
    image[2, 3, 4] = bad
    with pytest.raises(ValueError, match=r"image \(Z, H, W volume\) must be finite .* among 1024 values"):
        LIMNetSession(model, image, mrf="none")


def test_session_step_needs_a_click_inside_the_volume(model):
    sess = LIMNetSession(model, np.zeros((4, 16, 16), np.float32), mrf="none")
    with pytest.raises(TypeError, match=r"step needs a Click\(z, y, x, positive\), got tuple"):
        sess.step((1, 2, 3))
    with pytest.raises(ValueError, match="outside the volume"):
        sess.step(Click(4, 0, 0))
    assert sess.step(Click(np.int64(1), np.int64(8), np.int64(8))).shape == (4, 16, 16)
