import numpy as np
import pytest
import torch

from course_lib.lim_net.data import (
    TEST_A_IDS,
    TEST_B_IDS,
    TRAIN_IDS,
    check_split,
    make_target,
    normalise,
    synthetic_case,
)
from course_lib.lim_net.models import ClickUNet2D, MemoryNet, QualityRegressor, UNet3D, count_params, pad_to_multiple
from course_lib.lim_net.synthetic import make_synthetic_volume


def test_click_unet_is_about_half_a_million_parameters_and_shapes():
    net = ClickUNet2D()
    assert 400_000 < count_params(net) < 600_000
    assert net(torch.rand(2, 4, 32, 48)).shape == (2, 1, 32, 48)
    with pytest.raises(ValueError):
        net(torch.rand(1, 4, 30, 32))
    with pytest.raises(ValueError):
        net(torch.rand(1, 3, 32, 32))


def test_memory_net_and_quality_and_unet3d_shapes():
    m = MemoryNet(key_dim=8, value_dim=12)
    key, feats = m.encode_key(torch.rand(3, 1, 32, 32))
    assert key.shape == (3, 8, 8, 8)
    v = m.encode_value(torch.rand(3, 1, 32, 32), torch.rand(3, 1, 32, 32), feats)
    assert v.shape == (3, 12, 8, 8)
    assert m.decode(v, feats).shape == (3, 1, 32, 32)
    q = QualityRegressor()(torch.rand(5, 4, 32, 32))
    assert q.shape == (5,) and ((q > 0) & (q < 1)).all()
    u = UNet3D(base=4)
    x, sizes = pad_to_multiple(torch.rand(1, 3, 5, 12, 20), 8)
    assert x.shape[-3:] == (8, 16, 24) and sizes == (5, 12, 20)
    assert u(x).shape == (1, 1, 8, 16, 24)
    with pytest.raises(ValueError):
        u(torch.rand(1, 3, 5, 16, 16))


def test_synthetic_volume_is_deterministic_and_smooth_along_z():
    a = make_synthetic_volume((20, 48, 48), n_blobs=3, seed=3)
    b = make_synthetic_volume((20, 48, 48), n_blobs=3, seed=3)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
    assert a.image.dtype == np.float32 and 0 <= a.image.min() and a.image.max() <= 1
    present = set(np.unique(a.labels)) - {0}
    assert present and present <= {1, 2, 3}
    for k in present:
        m = a.labels == k
        zs = np.flatnonzero(m.any(axis=(1, 2)))
        assert zs.size >= 3 and np.all(np.diff(zs) == 1)  # one contiguous z-run
        ious = [(m[z] & m[z + 1]).sum() / max(1, (m[z] | m[z + 1]).sum()) for z in zs[1:-2]]
        assert np.median(ious) > 0.5  # shapes change smoothly between neighbouring slices
        inside, ring = a.image[m].mean(), a.image[~m & (a.labels == 0)].mean()
        assert abs(inside - ring) > 0.02


def test_zero_shot_split_and_targets():
    check_split(TRAIN_IDS, TEST_A_IDS)
    check_split(TRAIN_IDS, TEST_B_IDS)
    with pytest.raises(ValueError):
        check_split((1, 2), (2, 3))
    case = synthetic_case((16, 32, 32), seed=1)
    lid = int(np.unique(case.labels[case.labels > 0])[0])
    t = make_target(case, lid, margin=2)
    zs = np.flatnonzero((case.labels == lid).any(axis=(1, 2)))
    assert t.z0 == max(0, zs[0] - 2) and t.gt.sum() == (case.labels == lid).sum()
    with pytest.raises(ValueError):
        make_target(case, 99)


def test_normalise_ct_window_and_mr_percentiles():
    ct = normalise(np.array([-1000, -200, 50, 300, 2000]), "CT")
    np.testing.assert_allclose(ct, [0, 0, 0.5, 1, 1])
    mr = normalise(np.arange(1000.0), "MR")
    assert mr.min() == 0 and mr.max() == 1
    with pytest.raises(ValueError):
        normalise(np.zeros(3), "PET")
