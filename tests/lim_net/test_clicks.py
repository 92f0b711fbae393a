import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.lim_net.clicks import (
    Click,
    encode_slice_clicks,
    encode_volume_clicks,
    interaction_input,
    point_maps,
)


def test_disk_map_is_exact_disk():
    maps = encode_slice_clicks([Click(2, 10, 12, True)], 2, 32, 32, mode="disk", radius=3)
    yy, xx = np.mgrid[0:32, 0:32]
    expected = ((yy - 10) ** 2 + (xx - 12) ** 2 <= 9).astype(np.float32)
    np.testing.assert_array_equal(maps[0].numpy(), expected)
    assert maps[1].sum() == 0


def test_gaussian_map_peak_and_decay():
    maps = encode_slice_clicks([Click(0, 5, 6, False)], 0, 16, 16, mode="gaussian", radius=2.0)
    assert maps[0].sum() == 0
    assert maps[1, 5, 6] == pytest.approx(1.0)
    assert maps[1, 5, 8] == pytest.approx(np.exp(-4 / 8), rel=1e-5)


def test_clicks_on_other_slices_are_ignored_and_signs_split():
    clicks = [Click(1, 3, 3, True), Click(1, 9, 9, False), Click(4, 6, 6, True)]
    maps = encode_slice_clicks(clicks, 1, 12, 12)
    assert maps[0, 3, 3] == 1 and maps[0, 6, 6] == 0 and maps[1, 9, 9] == 1 and maps[0, 9, 9] == 0


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        encode_slice_clicks([Click(0, 40, 3)], 0, 32, 32)
    with pytest.raises(ValueError):
        point_maps(torch.zeros(1, 2), torch.ones(1, dtype=torch.bool), 8, 8, mode="square")
    with pytest.raises(ValueError):
        Click(-1, 0, 0)
    with pytest.raises(TypeError):
        Click(0.5, 0, 0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 23), st.integers(0, 23), st.booleans()), min_size=1, max_size=6),
       st.sampled_from(["disk", "gaussian"]), st.floats(0.5, 6.0))
def test_maps_in_unit_range_and_one_at_each_click(pts, mode, radius):
    clicks = [Click(0, y, x, p) for y, x, p in pts]
    maps = encode_slice_clicks(clicks, 0, 24, 24, mode=mode, radius=radius)
    assert maps.shape == (2, 24, 24)
    assert float(maps.min()) >= 0 and float(maps.max()) <= 1
    for c in clicks:
        assert maps[0 if c.positive else 1, c.y, c.x] == pytest.approx(1.0)


def test_volume_guidance_peaks_at_clicks():
    g = encode_volume_clicks([Click(2, 3, 4, True), Click(5, 1, 1, False)], (8, 8, 8), sigma=2)
    assert g.shape == (2, 8, 8, 8)
    assert g[0, 2, 3, 4] == pytest.approx(1.0) and g[1, 5, 1, 1] == pytest.approx(1.0)
    assert g[0, 5, 1, 1] < 1


def test_interaction_input_stacks_four_channels():
    img = torch.rand(16, 16)
    maps = torch.zeros(2, 16, 16)
    x = interaction_input(img, maps, None)
    assert x.shape == (1, 4, 16, 16)
    assert torch.equal(x[0, 0], img) and x[0, 3].sum() == 0
    with pytest.raises(ValueError):
        interaction_input(img, torch.zeros(2, 8, 8), None)
