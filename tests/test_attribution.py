import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from course_lib import attribution as A


class Linear(torch.nn.Module):
    """logits = [Σ w⊙x, 0]: the target-0 logit is a known linear function of the pixels."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(torch.as_tensor(w, dtype=torch.float32))

    def forward(self, x):
        s = (x[:, 0] * self.w).flatten(1).sum(1)
        return torch.stack([s, torch.zeros_like(s)], 1)


def test_mask_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    maps = rng.integers(0, 4, (5, 6, 7)).astype(float)  # many ties
    masks = rng.random((5, 6, 7)) < 0.3
    got = A.mask_auroc(maps, masks)
    want = [roc_auc_score(m.ravel(), a.ravel()) for a, m in zip(maps, masks)]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_energy_in_mask_by_hand():
    maps = np.array([[[1.0, -2.0], [3.0, 0.0]], [[0.0, 0.0], [-1.0, 0.0]]])
    masks = np.array([[[1, 1], [0, 0]], [[1, 0], [0, 0]]])
    # image 0: positive mass 4, inside 1; image 1: no positive mass -> the mask's area fraction
    np.testing.assert_allclose(A.energy_in_mask(maps, masks), [0.25, 0.25])


def test_bad_input_is_named():
    maps = np.zeros((2, 4, 4))
    with pytest.raises(ValueError, match="masks must have the maps' shape"):
        A.mask_auroc(maps, np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        A.energy_in_mask(np.zeros((2, 1, 4, 4)), np.zeros((2, 1, 4, 4)))
    bad = maps.copy()
    bad[0, 1, 1] = np.nan
    with pytest.raises(ValueError, match="maps must be finite"):
        A.energy_in_mask(bad, np.ones((2, 4, 4)))
    with pytest.raises(ValueError, match="both mask and non-mask"):
        A.mask_auroc(maps + np.arange(16).reshape(4, 4), np.ones((2, 4, 4)))
    model = Linear(np.ones((4, 4)))
    with pytest.raises(ValueError, match="images must have shape"):
        A.insertion_deletion(model, torch.zeros(2, 1, 4, 5), maps, torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="baseline must be one of"):
        A.insertion_deletion(model, torch.zeros(2, 1, 4, 4), maps, torch.zeros(2, dtype=torch.long), baseline="x")
    with pytest.raises(ValueError, match="needs background="):
        A.insertion_deletion(model, torch.zeros(2, 1, 4, 4), maps, torch.zeros(2, dtype=torch.long),
                             baseline="background")
    with pytest.raises(ValueError, match="targets must have shape"):
        A.insertion_deletion(model, torch.zeros(2, 1, 4, 4), maps, torch.zeros(3, dtype=torch.long))


def test_deletion_curve_by_hand_and_morf_beats_lerf():
    # 1×2×2 image, target logit = Σ w x with w = [4, 3, 2, 1]; the other logit is 0
    w = np.array([[4.0, 3.0], [2.0, 1.0]])
    model = Linear(w)
    x = torch.ones(1, 1, 2, 2)
    good = torch.tensor(w)[None]
    res = A.insertion_deletion(model, x, good, [0], "deletion", steps=4)
    logits = np.array([10, 6, 3, 1, 0.0])  # remaining Σ w after deleting 0..4 pixels in MoRF order
    want = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(res["curves"][0], want, rtol=1e-6)
    np.testing.assert_allclose(res["auc"][0], np.trapezoid(want, dx=0.25), rtol=1e-6)
    bad = A.insertion_deletion(model, x, -good, [0], "deletion", steps=4)
    assert res["auc"][0] < bad["auc"][0]
    ins = A.insertion_deletion(model, x, good, [0], "insertion", steps=4)
    np.testing.assert_allclose(ins["curves"][0], 1 / (1 + np.exp(-np.array([0, 4, 7, 9, 10.0]))), rtol=1e-6)


def test_baselines():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.equal(A.make_baseline(x, "zero"), torch.zeros_like(x))
    assert torch.equal(A.make_baseline(x, "background", background=-0.5), torch.full_like(x, -0.5))
    blurred = A.make_baseline(x, "blur", blur_sigma=1.0)
    assert blurred.shape == x.shape and blurred.std() < x.std()
    assert torch.allclose(A.gaussian_blur(torch.ones(2, 3, 5, 5), 1.5), torch.ones(2, 3, 5, 5))


def test_pixel_order_breaks_ties_randomly_not_in_raster_order():
    maps = torch.zeros(1, 8, 8)
    order = A.pixel_order(maps, seed=0)[0]
    assert sorted(order.tolist()) == list(range(64)) and order[:8].tolist() != list(range(8))
    maps[0, 7, 7] = 1.0
    assert A.pixel_order(maps)[0, 0].item() == 63


def test_sensitivity_n_is_one_for_the_exact_attribution_of_a_linear_model():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((5, 5))
    model = Linear(w)
    x = torch.as_tensor(rng.standard_normal((2, 1, 5, 5)), dtype=torch.float32)
    exact = (x[:, 0] * torch.as_tensor(w, dtype=torch.float32))  # gradient × input = exact contribution
    corr = A.sensitivity_n(model, x, exact, [0, 0], ns=[1, 3, 10], n_masks=20)
    np.testing.assert_allclose(corr, 1.0, atol=1e-5)
    noise = A.sensitivity_n(model, x, torch.as_tensor(rng.standard_normal((2, 5, 5))), [0, 0], ns=[3], n_masks=50)
    assert np.all(noise < 0.9)
    with pytest.raises(ValueError, match="at most the number of pixels"):
        A.sensitivity_n(model, x, exact, [0, 0], ns=[26])


def test_cascading_randomization_separates_gradient_from_an_edge_map():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(4 * 36, 3))
    x = torch.randn(4, 1, 6, 6)
    t = torch.zeros(4, dtype=torch.long)

    def grad(m, xx, tt):
        xx = xx.clone().requires_grad_()
        m(xx).gather(1, tt[:, None]).sum().backward()
        return xx.grad[:, 0]

    def edges(m, xx, tt):  # ignores the model: must stay identical
        return xx[:, 0].abs()

    before = model[0].weight.detach().clone()
    g = A.cascading_randomization(model, grad, x, t, ["3", "0"])
    e = A.cascading_randomization(model, edges, x, t, ["3", "0"])
    assert list(g["randomised up to"]) == ["none (trained)", "3", "0"]
    assert g["spearman"].iloc[-1] < 0.8 and np.allclose(e["spearman"], 1.0)
    assert torch.equal(model[0].weight, before)  # the caller's model is untouched (deep copy)
    with pytest.raises(ValueError, match="layers with parameters"):
        A.cascading_randomization(model, grad, x, t, ["fc9"])


def test_to_pixel_map_and_mean_se():
    a = torch.tensor([[[[1.0]], [[-2.0]]]])
    assert A.to_pixel_map(a, "sum").item() == -1 and A.to_pixel_map(a, "abs").item() == 3
    assert A.to_pixel_map(a, "max_abs").item() == 2
    m, se = A.mean_se([1.0, 2.0, 3.0, np.nan])
    assert m == 2.0 and se == pytest.approx(1 / np.sqrt(3))


def test_evaluate_maps_one_row_per_image():
    model = Linear(np.ones((4, 4)))
    x = torch.rand(3, 1, 4, 4)
    masks = np.zeros((3, 4, 4))
    masks[:, :2] = 1
    df = A.evaluate_maps(model, x, A.random_maps(3, 4, 4), [0, 0, 0], masks, steps=4)
    assert list(df.columns) == ["mask AUROC", "energy in mask", "deletion AUC", "insertion AUC"] and len(df) == 3
