"""Synthetic tasks (labels, determinism) and the length-generalisation loop."""
import pytest
import torch

from course_lib.relative_position.synthetic import (
    build_tagger,
    evaluate_length_split,
    position_accuracy,
    results_frame,
    run_variant,
    train_tagger,
)
from course_lib.relative_position.tasks import BLANK, TASKS, get_task, make_batch


def test_labels_of_every_task_on_a_hand_example():
    x = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7]])
    b = BLANK
    assert TASKS["offset"].labels(x).tolist() == [[b, b, 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]]
    assert TASKS["sum_mod"].labels(x).tolist() == [[b, b, 4, 5, 5, 6, 4, 1, 8, 1, 8, 8, 3, 7]]
    assert TASKS["far_offset"].labels(x).tolist() == [[b] * 12 + [3, 1]]
    assert TASKS["reverse_window"].labels(x).tolist() == [[1, 4, 1, 3, 6, 2, 9, 5, 8, 5, 3, 5, b, b]]
    assert TASKS["far_offset"].labels(x[:, :5]).tolist() == [[b] * 5]


def test_batches_are_deterministic_and_validated():
    a = make_batch("offset", 4, 9, generator=torch.Generator().manual_seed(1))
    b = make_batch("offset", 4, 9, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and a[0].shape == (4, 9)
    assert int(a[0].max()) < 10
    with pytest.raises(ValueError, match="unknown task"):
        get_task("copy_everything")
    with pytest.raises(ValueError, match=">= 1"):
        make_batch("offset", 0, 5)


def test_short_training_learns_the_offset_task_with_relative_positions():
    model = build_tagger("relative", 8, seed=0)
    before = float(position_accuracy(model, "offset", 12, num_sequences=64).mean())
    losses = train_tagger(model, "offset", steps=80, batch_size=32, seed=0)
    after = position_accuracy(model, "offset", 30, num_sequences=64)
    assert losses[-1] < 0.5 * losses[0]
    assert float(after[2:].mean()) > max(0.5, before + 0.3)


def test_evaluation_metrics_and_frame():
    model = build_tagger("learned", 8, seed=0, max_len=64)
    ev = evaluate_length_split(model, "offset", train_max=10, test_length=20, num_sequences=32)
    assert set(ev) == {"acc_train_length", "acc_test_all", "acc_unseen", "per_position"}
    assert len(ev["per_position"]) == 20 and 0 <= ev["acc_unseen"] <= 1
    res = run_variant("tiny", "relative", 2, steps=5, num_sequences=16)
    frame = results_frame([res])
    assert list(frame.index) == ["tiny"] and "acc on unseen positions" in frame
    with pytest.raises(ValueError, match="min_len"):
        train_tagger(model, steps=1, min_len=5, max_len=4)
