import numpy as np
import pytest
import torch

from course_lib.data import DataUnavailable
from course_lib.mcncc import features, fid300, metrics, search, treads
from course_lib.mcncc.ncc import mcncc


def test_references_are_binary_distinct_and_seeded():
    refs = treads.make_references(6, (64, 32), seed=3)
    assert refs.shape == (6, 64, 32) and set(np.unique(refs)) <= {0.0, 1.0}
    assert np.array_equal(refs, treads.make_references(6, (64, 32), seed=3))
    flat = refs.reshape(6, -1)
    assert len({r.tobytes() for r in flat}) == 6
    assert (refs[:, 0, 0] == 1.0).all()  # paper outside the sole
    with pytest.raises(ValueError, match="at least 16"):
        treads.make_references(2, (8, 8))


def test_queries_are_partial_rotated_and_degraded():
    refs = treads.make_references(4, (96, 48), seed=0)
    qs = treads.make_queries(refs, seed=1, per_reference=3)
    assert len(qs) == 12 and [q.label for q in qs[:3]] == [0, 0, 0]
    for q in qs:
        y0, x0, h, w = q.box
        assert 0.3 <= h * w / (96 * 48) <= 0.75
        assert abs(q.angle) <= 10 and q.image.shape == q.mask.shape and 0.0 <= q.image.min() <= q.image.max() <= 1
    assert {q.flipped for q in qs} == {True, False}
    clean, noisy = treads.aligned_pairs(refs, (32, 24), np.random.default_rng(0))
    assert clean.shape == noisy.shape == (4, 32, 24) and not np.allclose(clean, noisy)


def test_rotate_with_mask_keeps_everything():
    img = np.random.default_rng(0).random((20, 10)).astype(np.float32)
    out, m = treads.rotate_with_mask(img, 30.0)
    assert out.shape[0] >= 20 and 150 <= m.sum() <= 200  # edge pixels blended with the fill are invalid
    same, m0 = treads.rotate_with_mask(img, 0.0)
    assert np.array_equal(same, img) and m0.all()


def test_gabor_magnitude_ignores_polarity_and_flat_regions():
    bank = features.GaborBank(4, (4.0,), stride=2)
    img = torch.as_tensor(treads.make_references(1, (64, 32), seed=1))
    f, f_inv = bank(img[:, None]), bank(1.0 - img[:, None])
    assert f.shape == (1, 4, 32, 16) and torch.allclose(f, f_inv, atol=1e-5)
    flat = bank(torch.full((1, 1, 32, 32), 0.8))
    assert flat.max().item() < 1e-3
    with pytest.raises(ValueError, match="gray"):
        bank(torch.rand(1, 3, 8, 8))


def test_feature_mask_downsamples_and_erodes():
    m = np.zeros((12, 12), bool)
    m[2:10, 2:10] = True
    fm = features.feature_mask(m, 2, erode=1)
    assert fm.shape == (6, 6) and fm.sum() == 4 and fm[2:4, 2:4].all()
    assert features.feature_mask(np.ones((8, 8)), 2, erode=1).sum() == 4  # the array border is eroded too


def test_cnn_shapes():
    net = features.TreadCNN(channels=8, width=8)
    assert net(torch.rand(2, 1, 32, 24)).shape == (2, 8, 16, 12)
    with pytest.raises(ValueError, match="stride"):
        features.TreadCNN(stride=3)


def test_cmc_ranks_ties_and_summary():
    scores = np.array([[0.9, 0.1, 0.2], [0.5, 0.5, 0.1], [0.3, 0.2, 0.1]])
    r = metrics.ranks(scores, [0, 1, 2])
    assert r.tolist() == [1.0, 1.5, 3.0]
    s = metrics.cmc_summary(scores, [0, 1, 2])
    assert s["top-1"] == pytest.approx(1 / 3) and s["mean rank"] == pytest.approx(5.5 / 3)
    assert metrics.topk(38, 1) == 1 and metrics.topk(38, 5) == 2 and metrics.topk(38, 10) == 4
    assert metrics.cmc_curve(r, 3).tolist() == pytest.approx([1 / 3, 2 / 3, 1.0])
    with pytest.raises(ValueError, match="labels"):
        metrics.ranks(scores, [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        metrics.ranks(np.full((1, 2), np.nan), [0])


def test_search_finds_the_planted_placement_and_rotation():
    refs = treads.make_references(5, (64, 32), seed=2)
    bank = features.GaborBank(4, (4.0, 8.0), stride=2)
    crop = refs[3, 10:50, 2:30]
    img, mask = treads.rotate_with_mask(1.0 - crop, -8.0, fill=0.5)   # polarity flip + rotation
    res = search.score_gallery([img], [mask], refs, bank, (-8.0, 0.0, 8.0), pad=6, erode=1)
    assert np.argmax(res.scores["mcncc"][0]) == 3
    assert res.where["mcncc"][0, 3, 0] == 2  # rotating the query by +8° undoes its −8°
    assert res.channels.shape == (1, 5, 8)
    for k in ("ncc3d", "cosine"):
        assert res.scores[k].shape == (1, 5)


def test_query_templates_errors_and_shrinks():
    bank = features.GaborBank(4, (4.0,), stride=2)
    big = np.random.default_rng(0).random((80, 60)).astype(np.float32)
    tpl, m, factor = search.query_templates(big, None, (0.0,), bank, (40, 30))
    assert factor < 1 and tpl.shape[-2] <= 20 and m.shape == tpl.shape[:1] + tpl.shape[-2:]
    with pytest.raises(ValueError, match="mask shape"):
        search.query_templates(big, np.ones((3, 3)), (0.0,), bank, (40, 30))
    with pytest.raises(ValueError, match="at least one rotation"):
        search.angles_for(0, 10)
    assert search.angles_for(5, 10) == (-10.0, -5.0, 0.0, 5.0, 10.0)


def test_weighted_fit_prefers_informative_channels():
    from course_lib.mcncc import weighted

    rng = np.random.default_rng(0)
    q, n, c = 30, 10, 4
    ch = rng.normal(0, 0.2, (q, n, c))
    labels = rng.integers(0, n, q)
    ch[np.arange(q), labels, 0] += 1.0          # only channel 0 separates true pairs
    w = weighted.fit_channel_weights(ch, labels, epochs=150)
    assert w[0] > 0.5 and abs(w).sum() == pytest.approx(1.0)
    wn = weighted.fit_channel_weights(ch, labels, epochs=150, nonneg=True)
    assert (wn >= 0).all() and wn[0] > 0.5
    fa = torch.rand(3, 2, 5, 5)
    pm = weighted.pairwise_mcncc(fa, fa)
    assert pm.shape == (3, 3) and torch.allclose(pm.diagonal(), torch.ones(3), atol=1e-4)
    assert pm[0, 1].item() == pytest.approx(mcncc(fa[0].double(), fa[1].double()).item(), abs=1e-4)


def test_fid300_loader(monkeypatch, tmp_path):
    try:
        data = fid300.load_fid300_mini(0.25, tracks=range(1, 6))
    except DataUnavailable:
        pytest.skip("fid300_mini not available offline here")
    assert len(data.queries) == 5 and data.references.shape[0] == 38
    assert data.labels.tolist()[:2] == [list(data.reference_ids).index(1044), list(data.reference_ids).index(14)]
    assert data.references.max() <= 1.0 and data.subset([2, 3]).track_ids.tolist() == [2, 3]
    with pytest.raises(ValueError, match="tracks 1..50"):
        fid300.load_fid300_mini(0.25, tracks=[51])
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    with pytest.raises(DataUnavailable):
        fid300.load_fid300_mini()


def test_synthetic_stand_in_layout():
    s = fid300.synthetic_set(n=5, shape=(64, 32), n_queries=4)
    assert s.references.shape == (5, 64, 32) and len(s.queries) == 4 and s.labels.max() < 5
