import numpy as np
import pytest
import torch

from course_lib.input_iba import peers
from course_lib.input_iba.data import cluttered_digits
from course_lib.input_iba.model import make_cnn


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = make_cnn(0).eval().requires_grad_(False)
    data = cluttered_digits(3, split="test", seed=5)
    return model, data


SMALL = peers.PeerSettings(ig_steps=4, dls_baselines=2, smoothgrad_samples=2, occlusion_window=8,
                           occlusion_stride=8)


def test_every_peer_returns_one_finite_pixel_map_per_image_and_its_time(setup):
    model, data = setup
    out = peers.run_peers(model, data.images, data.labels, settings=SMALL)
    assert list(out) == list(peers.PEERS)
    for name, res in out.items():
        assert res.maps.shape == (3, 32, 32) and res.maps.dtype == torch.float32, name
        assert torch.isfinite(res.maps).all() and res.seconds_per_image > 0, name
        if name not in ("Occlusion",):
            assert (res.maps >= 0).all(), name   # |gradient|-type maps and ReLU-ed Grad-CAM
    assert not torch.equal(out["Saliency"].maps, out["GuidedBackprop"].maps)


def test_saliency_equals_the_absolute_input_gradient(setup):
    model, data = setup
    x = data.images.clone().requires_grad_()
    model(x).gather(1, data.labels[:, None]).sum().backward()
    np.testing.assert_allclose(peers.explain("Saliency", model, data.images, data.labels).numpy(),
                               x.grad[:, 0].abs().numpy(), rtol=1e-5, atol=1e-8)


def test_gradcam_is_coarse_and_follows_the_chosen_layer(setup):
    model, data = setup
    cam = peers.explain("GradCAM", model, data.images, data.labels)
    early = peers.explain("GradCAM", model, data.images, data.labels, gradcam_layer="relu2")
    assert cam.shape == early.shape == (3, 32, 32) and not torch.allclose(cam, early)


def test_bad_input_is_named(setup):
    model, data = setup
    with pytest.raises(ValueError, match="unknown peer"):
        peers.explain("LIME", model, data.images, data.labels)
    with pytest.raises(ValueError, match="valid layer names"):
        peers.explain("GradCAM", model, data.images, data.labels, gradcam_layer="conv9")
    with pytest.raises(ValueError, match="targets must have shape"):
        peers.explain("Saliency", model, data.images, data.labels[:2])
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        peers.explain("Saliency", model, data.images[:, 0], data.labels)
    bad = data.images.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        peers.explain("Saliency", model, bad, data.labels)
