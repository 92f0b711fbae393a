"""Pruning: exact counts, equality with torch.nn.utils.prune, file sizes, structured rebuild, gradual schedule."""
import pytest
import torch

from course_lib import cost
from course_lib.low_power import data, models
from course_lib.low_power import pruning as P


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.8, 0.95])
def test_global_masks_hit_the_target_and_equal_torch_prune(sparsity):
    m = models.build("digits_cnn", 1)
    pruned, masks = P.prune_magnitude(m, sparsity)
    n = sum(layer.weight.numel() for _, layer in P.prunable(m))
    assert sum(int((layer.weight == 0).sum()) for _, layer in P.prunable(pruned)) == round(sparsity * n)
    _, peer = P.torch_global_l1(m, sparsity)
    assert all(torch.equal(masks[k], peer[k]) for k in masks)


def test_local_masks_prune_every_layer_equally():
    pruned, _ = P.prune_magnitude(models.build("digits_cnn", 0), 0.5, scope="local")
    for _, layer in P.prunable(pruned):
        assert int((layer.weight == 0).sum()) == round(0.5 * layer.weight.numel())


def test_masks_keep_the_file_size_while_csr_shrinks_it():
    m = models.build("digits_cnn", 0)
    pruned, _ = P.prune_magnitude(m, 0.8)
    assert cost.serialized_bytes(pruned) == cost.serialized_bytes(m)
    assert cost.serialized_bytes(P.to_csr_state(pruned)) < cost.serialized_bytes(m)
    back = P.from_csr_state(P.to_csr_state(pruned), models.build("digits_cnn"))
    assert all(torch.equal(a, b) for a, b in zip(back.state_dict().values(), pruned.state_dict().values()))


def test_save_load_round_trip_after_prune_remove():
    peer, _ = P.torch_global_l1(models.build("digits_cnn", 0), 0.5)
    assert not any(k.endswith(("_orig", "_mask")) for k in peer.state_dict())
    fresh = P.save_load_roundtrip(peer, models.build("digits_cnn"))
    assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in peer.state_dict().items())


def test_fine_tuning_keeps_pruned_weights_at_zero():
    s = data.load_digits()
    pruned, masks = P.prune_magnitude(models.build("digits_mlp", 0), 0.7)
    P.fine_tune(pruned, masks, s, epochs=1, device="cpu")
    assert P.weight_sparsity(pruned) == pytest.approx(0.7, abs=1e-3)


def test_gradual_schedule_is_cubic_and_monotone():
    vals = [P.gradual_sparsity(t, 0.8, steps=100) for t in range(0, 101, 10)]
    assert vals[0] == 0.0 and vals[-1] == pytest.approx(0.8)
    assert all(b >= a for a, b in zip(vals, vals[1:]))
    assert P.gradual_sparsity(50, 0.8, steps=100) == pytest.approx(0.8 * (1 - 0.5 ** 3))
    assert P.gradual_sparsity(500, 0.8, steps=100) == pytest.approx(0.8)


def test_structured_pruning_rebuilds_smaller_layers_that_compute_the_same_kept_channels():
    m = models.build("digits_cnn", 0).eval()
    small = P.prune_channels(m, 0.5)
    assert [layer.weight.shape[0] for _, layer in P.prunable(small)] == [8, 16, 32, 10]
    x = torch.randn(2, 1, 8, 8)
    keep = P.channel_keep(m[0], 0.5)
    assert torch.allclose(small[0](x), m[0](x)[:, keep], atol=1e-6)
    ex = x[:1]
    assert cost.count_params(small) / cost.count_params(m) <= 0.55
    assert cost.count_macs(small, ex) / cost.count_macs(m, ex) <= 0.55
    peer = P.torch_pruning_channels(m, 0.5, ex)
    assert cost.count_params(peer) == cost.count_params(small)
    assert cost.count_macs(peer, ex) == cost.count_macs(small, ex)


def test_structured_pruning_of_a_1d_cnn():
    m = models.build("mnist1d_cnn", 0)
    small = P.prune_channels(m, 0.5)
    assert small(torch.randn(3, 1, 40)).shape == (3, 10)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, "0.5", True])
def test_sparsity_outside_zero_one_is_refused(bad):
    with pytest.raises(ValueError, match=r"sparsity must be a number in \[0, 1\)"):
        P.prune_magnitude(models.build("digits_mlp"), bad)
    with pytest.raises(ValueError, match="sparsity"):
        P.prune_channels(models.build("digits_mlp"), bad)


def test_other_bad_input():
    with pytest.raises(ValueError, match="scope"):
        P.magnitude_masks(models.build("digits_mlp"), 0.5, scope="layer")
    with pytest.raises(TypeError, match="nn.Sequential"):
        P.prune_channels(torch.nn.Linear(3, 3), 0.5)
    with pytest.raises(ValueError, match="depthwise"):
        P.prune_channels(torch.nn.Sequential(torch.nn.Conv2d(4, 4, 3, groups=4), torch.nn.Conv2d(4, 2, 1)), 0.5)
