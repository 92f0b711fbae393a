import pytest
import torch

from course_lib.counting.models import (
    MODEL_NAMES,
    AttentionSumBaseline,
    NMSCounter,
    SoftAttentionMLP,
    make_model,
)
from course_lib.counting.toy import ToyCountingDataset, duplicate_scene, grid_boxes
from course_lib.counting.training import count_metrics, evaluate_models, run_toy, sweep, train_models


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_maps_a_batch_to_logits(name):
    b = ToyCountingDataset(0.5, 0.1, seed=0).batch(5)
    out = make_model(name)(b.boxes, b.attention)
    assert out.shape == (5, 11) and torch.isfinite(out).all()


def test_identity_classifiers_read_the_one_hot():
    model = AttentionSumBaseline(10)
    with torch.no_grad():
        model.classifier.bias.zero_()
    a = torch.zeros(3, 10)
    a[0, :2], a[1, :7], a[2, :4] = 1, 1, 1
    assert model(grid_boxes(10)[None].expand(3, -1, -1), a).argmax(1).tolist() == [2, 7, 4]
    counter = make_model("counter")
    with torch.no_grad():
        counter.classifier.bias.zero_()
    assert counter(grid_boxes(10)[None].expand(3, -1, -1), a).argmax(1).tolist() == [2, 7, 4]


def test_normalised_attention_cannot_tell_one_from_two_identical_objects():
    torch.manual_seed(0)
    model = SoftAttentionMLP(10)
    boxes = grid_boxes(10)[None].repeat(2, 1, 1)
    boxes[1, 1] = boxes[1, 0]  # second example: proposal 1 duplicates object 0
    a = torch.zeros(2, 10)
    a[0, 0], a[1, :2] = 1, 1
    out = model(boxes, a)
    assert torch.allclose(out[0], out[1], atol=1e-5)


def test_nms_counter_counts_duplicates_once():
    scene = duplicate_scene(5, 3, jitter=0.05)
    assert NMSCounter(10, 0.5, 0.5).count(scene.boxes, scene.attention).item() == 4


def test_nms_threshold_fit_improves_accuracy():
    b = ToyCountingDataset(0.5, 0.0, seed=1).batch(512)
    nms = NMSCounter(10, iou_threshold=0.05, score_threshold=0.95)
    before = (nms.count(b.boxes, b.attention) == b.count).float().mean().item()
    after = nms.fit_thresholds(b.boxes, b.attention, b.count)
    assert after >= before and after == (nms.count(b.boxes, b.attention) == b.count).float().mean().item()


def test_count_metrics():
    m = count_metrics(torch.tensor([1, 2, 4, 3]), torch.tensor([1, 3, 2, 3]))
    assert m == pytest.approx({"accuracy": 0.5, "off_by_one": 0.25, "mae": 0.75, "rmse": (5 / 4) ** 0.5})


def test_training_lowers_the_loss_and_evaluation_reports_all_models():
    models = {k: make_model(k, seed=0) for k in ("counter", "attention_sum", "nms")}
    hist = train_models(
        models,
        ToyCountingDataset(0.5, 0.0, seed=0),
        iterations=30,
        batch_size=64,
        progress=False,
        log_every=1,
    )
    for name in ("counter", "attention_sum"):
        losses = hist[hist.model == name].loss.to_numpy()
        assert losses[-5:].mean() < losses[:5].mean()
    metrics = evaluate_models(models, ToyCountingDataset(0.5, 0.0, seed=9).batches(2, 64))
    assert list(metrics.model) == ["counter", "attention_sum", "nms"]
    assert ((metrics.accuracy >= 0) & (metrics.accuracy <= 1)).all()
    with pytest.raises(ValueError):
        train_models(models, ToyCountingDataset(0.5, 0.0), iterations=0, batch_size=4)


def test_run_toy_and_sweep_shapes():
    run = run_toy(
        0.0,
        0.0,
        models=("attention_sum", "nms"),
        iterations=2,
        batch_size=16,
        eval_batches=2,
        eval_batch_size=32,
        progress=False,
    )
    assert run.accuracy("nms") == 1.0  # tiny boxes, no noise: thresholding a is exact
    res = sweep(
        "q",
        [0.0, 1.0],
        fixed=0.5,
        models=("counter", "attention_sum"),
        iterations=2,
        batch_size=8,
        eval_batches=1,
        eval_batch_size=8,
        progress=False,
    )
    assert len(res.metrics) == 4 and set(res.f_weights) == {0.0, 1.0} and res.f_weights[0.0].shape == (8, 16)
    with pytest.raises(ValueError):
        sweep("x", [0.1], fixed=0.0)
    with pytest.raises(ValueError):
        make_model("resnet")
