"""Bad input gets a clear error naming what was expected."""
import pytest
import torch

from course_lib.input_iba.attributor import InputIBAConfig, explain, explain_batch, iba_attribution
from course_lib.input_iba.model import make_cnn
from course_lib.input_iba.welford import estimate_layer_stats, named_layer


@pytest.fixture(scope="module")
def setup():
    model = make_cnn(0).eval().requires_grad_(False)
    stats = estimate_layer_stats(model, "pool1", torch.randn(32, 1, 32, 32))
    return model, stats, torch.randn(2, 1, 32, 32), torch.tensor([1, 2])


def test_unknown_layer_lists_the_valid_names(setup):
    model, stats, images, targets = setup
    with pytest.raises(ValueError, match=r"'pool9'.*valid layer names: conv1, relu1, conv2, relu2, pool1"):
        named_layer(model, "pool9")
    with pytest.raises(ValueError, match="valid layer names"):
        iba_attribution(model, images, targets, stats, layer="features.17")
    with pytest.raises(ValueError, match="valid layer names"):
        explain_batch(model, images, targets, stats, layer="nope")


@pytest.mark.parametrize("bad, match", [
    (torch.randn(1, 32, 32), r"shape \(N, C, H, W\)"),
    (torch.randn(2, 3, 32, 32), "3 channel.*expects 1"),
    (torch.randint(0, 5, (2, 1, 32, 32)), "float tensor"),
    ("an image", "float tensor"),
])
def test_wrong_image_shape_or_channels(setup, bad, match):
    model, stats, _, targets = setup
    with pytest.raises(ValueError, match=match):
        iba_attribution(model, bad, targets, stats)
    with pytest.raises(ValueError, match=match):
        explain_batch(model, bad, targets, stats)


def test_resolution_that_does_not_match_the_feature_statistics(setup):
    model, stats, _, targets = setup
    with pytest.raises(ValueError, match=r"features of shape \(32, 8, 8\).*statistics have shape \(32, 16, 16\)"):
        iba_attribution(model, torch.randn(2, 1, 16, 16), targets, stats)


@pytest.mark.parametrize("beta", [0, -1.0, float("nan")])
def test_beta_must_be_positive(setup, beta):
    model, stats, images, targets = setup
    with pytest.raises(ValueError, match="β"):
        iba_attribution(model, images, targets, stats, beta=beta)
    with pytest.raises(ValueError, match=r"feat_beta \(β\)"):
        explain_batch(model, images, targets, stats, feat_beta=beta)
    with pytest.raises(ValueError, match=r"input_beta \(β\)"):
        InputIBAConfig(input_beta=beta).validate()


def test_nan_in_the_input(setup):
    model, stats, images, targets = setup
    bad = images.clone()
    bad[0, 0, 3, 4] = float("nan")
    with pytest.raises(ValueError, match="images must be finite.*1 NaN"):
        iba_attribution(model, bad, targets, stats)
    with pytest.raises(ValueError, match="images must be finite"):
        explain(model, bad[0], 1, stats)
    with pytest.raises(ValueError, match="finite"):
        estimate_layer_stats(model, "pool1", bad)


def test_bad_targets(setup):
    model, stats, images, _ = setup
    with pytest.raises(ValueError, match=r"class indices in \[0, 10\)"):
        iba_attribution(model, images, [1, 10], stats)
    with pytest.raises(ValueError, match="2 integer class indices"):
        iba_attribution(model, images, [1], stats)
    with pytest.raises(ValueError, match="integer class indices"):
        iba_attribution(model, images, torch.tensor([0.5, 1.0]), stats)


def test_bad_counts(setup):
    model, stats, images, targets = setup
    with pytest.raises(ValueError, match="input_steps"):
        explain_batch(model, images, targets, stats, input_steps=-1)
    with pytest.raises(TypeError, match="chunk"):
        explain_batch(model, images, targets, stats, chunk=1.5)
