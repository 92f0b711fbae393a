import numpy as np
import pytest
import torch

from course_lib.lim_net.checkpoint import COURSE_CHECKPOINT, load_weights, save_weights
from course_lib.lim_net.clicks import Click
from course_lib.lim_net.data import make_target, synthetic_case
from course_lib.lim_net.experiments import oracle_property_violations, run_method, session_factory, summarize
from course_lib.lim_net.models import ClickUNet2D, MemoryNet, QualityRegressor, UNet3D
from course_lib.lim_net.mrf import slice_errors
from course_lib.lim_net.pipeline import LIMNet, LIMNetSession, run_session
from course_lib.lim_net.train import click_batch, seg_loss, training_pool_structures, triplet_batch, volume_batch


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return LIMNet(ClickUNet2D(base=4), MemoryNet(key_dim=8, value_dim=8, width=4), QualityRegressor(width=4)).eval()


@pytest.fixture(scope="module")
def target():
    case = synthetic_case((12, 32, 32), seed=5)
    return make_target(case, int(np.unique(case.labels[case.labels > 0])[0]), margin=1)


def test_session_rounds_and_modes(model, target):
    for mrf in ("none", "learned", "oracle", "copy"):
        sess = LIMNetSession(model, target.image, mrf=mrf, gt=target.gt)
        dices = run_session(sess, target.gt, 3)
        assert len(dices) == 3 and all(0 <= d <= 1 for d in dices)
        assert all(m.shape == target.gt.shape and m.dtype == bool for m in sess.masks)
        for z in sess.prompts:  # interacted slices show their prompt mask in the raw result
            assert np.array_equal(sess.candidates[-1][z], sess.prompts[z].numpy() > 0.5)
    with pytest.raises(ValueError):
        LIMNetSession(model, target.image, mrf="oracle")


def test_copy_mode_copies_nearest_prompt(model, target):
    sess = LIMNetSession(model, target.image, mrf="copy")
    sess.step(Click(2, 10, 10, True))
    sess.step(Click(8, 12, 12, True))
    out = sess.masks[-1]
    p2, p8 = (sess.prompts[z].numpy() > 0.5 for z in (2, 8))
    assert np.array_equal(out[0], p2) and np.array_equal(out[4], p2) and np.array_equal(out[6], p8)


def test_oracle_session_never_increases_slice_error(model, target):
    sess = LIMNetSession(model, target.image, mrf="oracle", gt=target.gt)
    run_session(sess, target.gt, 4)
    for prev, cand, fused in zip(sess.masks[:-1], sess.candidates[1:], sess.masks[1:]):
        e = slice_errors(fused, target.gt)
        assert (e <= slice_errors(prev, target.gt)).all() and (e <= slice_errors(cand, target.gt)).all()
    assert oracle_property_violations([sess], [target]) == 0


def test_snapshot_restore_reproduces_a_round(model, target):
    sess = LIMNetSession(model, target.image, mrf="learned")
    sess.step(Click(5, 12, 12, True))
    snap = sess.snapshot()
    a = sess.step(Click(6, 14, 14, False)).copy()
    sess.restore(snap)
    assert len(sess.masks) == 1 and len(sess.clicks) == 1
    b = sess.step(Click(6, 14, 14, False))
    assert np.array_equal(a, b)


def test_peers_and_summary(model, target):
    unet = UNet3D(base=2).eval()
    frames = []
    for m in ("LIM-Net (no MRF)", "random walker", "3D U-Net"):
        df, _ = run_method(m, session_factory(m, model, unet), [target], 2, "syn")
        frames.append(df)
    import pandas as pd

    s = summarize(pd.concat(frames))
    assert set(s["method"]) == {"LIM-Net (no MRF)", "random walker", "3D U-Net"}
    assert (s["dice_r2"] >= 0).all() and (s["NoC@80"] >= 1).all()
    with pytest.raises(ValueError):
        session_factory("SAM", model, unet)


def test_training_batches_and_loss(target):
    pool = training_pool_structures([(target.image, target.gt)])
    rng = np.random.default_rng(0)
    x, y = click_batch(pool, 3, rng, crop=32, net=ClickUNet2D(base=4))
    assert x.shape == (3, 4, 32, 32) and y.shape == (3, 1, 32, 32)
    assert x[:, 1:3].max() <= 1 and set(np.unique(y.numpy())) <= {0.0, 1.0}
    imgs, masks = triplet_batch(pool, 2, rng, crop=32)
    assert imgs.shape == masks.shape == (2, 5, 1, 32, 32)
    xv, yv = volume_batch(pool, 1, rng, size=(8, 32, 32))
    assert xv.shape == (1, 3, 8, 32, 32) and yv.shape == (1, 1, 8, 32, 32)
    t = (torch.rand(2, 1, 8, 8) > 0.5).float()
    good, bad = seg_loss((t * 2 - 1) * 20, t), seg_loss((1 - 2 * t) * 20, t)
    assert good < 0.05 < bad


def test_weights_roundtrip(tmp_path, model):
    unet = UNet3D(base=2)
    path = save_weights(tmp_path / "w.pt", model, unet, {"note": "test"})
    state = torch.load(path, weights_only=True)
    assert state["meta"]["note"] == "test"
    m2, u2, meta = load_weights(path)
    for a, b in zip(model.state_dict().values(), m2.state_dict().values()):
        torch.testing.assert_close(a.half().float(), b)
    with pytest.raises(FileNotFoundError):
        load_weights(tmp_path / "missing.pt")


def test_course_checkpoint_is_small_and_loads():
    if not COURSE_CHECKPOINT.is_file():
        pytest.skip("course checkpoint not built yet")
    assert COURSE_CHECKPOINT.stat().st_size < 5 * 2**20
    model, unet, meta = load_weights(COURSE_CHECKPOINT)
    assert 400_000 < model.param_counts()["click_net"] < 600_000 and unet is not None and "seconds" in meta
