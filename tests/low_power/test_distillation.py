"""Hinton KD: the loss, its closed-form gradient at temperature T, cached teacher outputs, transfer-set masking."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.low_power import distillation as D


def logits(seed, b=6, n=10, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(b, n, generator=g, dtype=torch.float64)


def test_kd_loss_is_the_weighted_sum_of_ce_and_t_squared_kl():
    s, t = logits(0), logits(1)
    y = torch.tensor([0, 3, 9, 2, 2, 5])
    for temp, alpha in [(1.0, 0.0), (4.0, 0.5), (2.0, 0.9), (8.0, 1.0)]:
        p, q = torch.softmax(t / temp, 1), torch.softmax(s / temp, 1)
        kl = (p * (p.log() - q.log())).sum(1).mean()
        want = (1 - alpha) * F.cross_entropy(s, y) + alpha * temp ** 2 * kl
        assert torch.allclose(D.kd_loss(s, t, y, temperature=temp, alpha=alpha).double(), want, atol=1e-5)
    assert torch.allclose(D.kd_loss(s, t, y, alpha=0.0), F.cross_entropy(s.float(), y), atol=1e-6)
    assert torch.allclose(D.kd_loss(s, t, None, temperature=3.0), D.kd_loss(s, t, y, temperature=3.0, alpha=1.0))


def test_unlabelled_transfer_examples_only_get_the_soft_term():
    s, t = logits(2), logits(3)
    y = torch.tensor([4, -1, -1, 7, -1, -1])
    lab = y >= 0
    soft = D.kd_loss(s, t, None, temperature=2.0)
    want = 0.3 * F.cross_entropy(s[lab].float(), y[lab]) + 0.7 * soft
    assert torch.allclose(D.kd_loss(s, t, y, temperature=2.0, alpha=0.7), want, atol=1e-6)
    none = torch.full((6,), -1)
    assert torch.allclose(D.kd_loss(s, t, none, temperature=2.0, alpha=0.7), 0.7 * soft, atol=1e-6)


@pytest.mark.parametrize("temp", [0.5, 1.0, 2.0, 4.0, 8.0])
def test_soft_term_gradient_is_t_times_q_minus_p(temp):
    s = logits(4).requires_grad_()
    t = logits(5)
    D.kd_loss(s, t, None, temperature=temp).backward()
    assert torch.allclose(s.grad, D.kd_gradient(s.detach(), t, temp).float().double(), atol=1e-6)


def test_high_temperature_limit_is_logit_matching_so_t_squared_keeps_the_scale():
    """Hinton et al. §2.1: for large T the gradient T(q − p) → (s − t)/N with zero-mean logits, independent of T;
    without the T² factor it would shrink like 1/T²."""
    s, t = logits(6), logits(7)
    s, t = s - s.mean(1, keepdim=True), t - t.mean(1, keepdim=True)
    b, n = s.shape
    match = (s - t) / (n * b)
    errors = [(D.kd_gradient(s, t, temp) - match).norm() / match.norm() for temp in (10.0, 100.0, 1000.0)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-2
    norms = [D.kd_gradient(s, t, temp).norm() for temp in (20.0, 200.0)]
    assert norms[0] / norms[1] == pytest.approx(1.0, abs=0.05)            # same scale: the T² at work
    raw = [(D.kd_gradient(s, t, temp) / temp ** 2).norm() for temp in (20.0, 200.0)]
    assert raw[0] / raw[1] == pytest.approx(100.0, rel=0.05)               # without T²: 1/T² smaller


def test_teacher_logits_are_computed_once_in_eval_mode_and_restore_the_mode():
    torch.manual_seed(0)
    teacher = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.5), nn.Linear(16, 4)).train()
    x = torch.randn(50, 8)
    out = D.teacher_logits(teacher, x, batch_size=16)
    assert teacher.training and not out.requires_grad and out.shape == (50, 4)
    assert torch.allclose(out, teacher.eval()(x))


def test_student_learns_the_teacher_from_soft_labels_alone_through_the_loop():
    torch.manual_seed(0)
    x = torch.randn(400, 12)
    teacher = nn.Sequential(nn.Linear(12, 32), nn.Tanh(), nn.Linear(32, 5))
    t = D.teacher_logits(teacher, x)
    y_hidden = torch.full((400,), -1)
    student = nn.Sequential(nn.Linear(12, 32), nn.Tanh(), nn.Linear(32, 5))
    hist = D.train_student(student, x[:300], y_hidden[:300], teacher=t[:300], temperature=2.0, alpha=1.0,
                           epochs=30, lr=1e-2, batch_size=50, x_test=x[300:], y_test=t[300:].argmax(1))
    assert "train_loss" in hist.columns and len(hist) == 30
    assert hist["test_acc"].iloc[-1] >= 85.0                     # agreement with the teacher on unseen inputs
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0] / 3


def test_labelled_subset_has_per_class_examples_and_is_seeded():
    y = torch.arange(10).repeat_interleave(20)
    a, b = D.labelled_subset(y, 3, seed=1), D.labelled_subset(y, 3, seed=1)
    assert torch.equal(a, b) and torch.bincount(y[a]).tolist() == [3] * 10
    assert not torch.equal(a, D.labelled_subset(y, 3, seed=2))
    with pytest.raises(ValueError, match="fewer than per_class=21"):
        D.labelled_subset(y, 21, seed=0)


def test_summary_mean_and_spread():
    import pandas as pd

    df = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    assert D.summary(df, ["a"]) == {"a": (2.0, 1.0)}


def test_bad_input_gets_a_clear_error():
    s, t = logits(8), logits(9)
    with pytest.raises(ValueError, match="temperature T must be > 0"):
        D.kd_loss(s, t, temperature=0.0)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        D.kd_loss(s, t, temperature=2.0, alpha=1.5)
    with pytest.raises(ValueError, match=r"\(batch, classes\)"):
        D.kd_loss(s, t[:, :5])
    x, y = torch.randn(10, 4), torch.full((10,), -1)
    with pytest.raises(ValueError, match="need teacher logits"):
        D.train_student(nn.Linear(4, 3), x, y, epochs=1, x_test=x, y_test=y.clamp_min(0))
    with pytest.raises(ValueError, match="same length"):
        D.train_student(nn.Linear(4, 3), x, y[:5], epochs=1, x_test=x, y_test=y)
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        D.train_student(nn.Linear(4, 3), x, y.clamp_min(0), epochs=0, x_test=x, y_test=y)


def test_record_from_the_committed_course_run():
    from course_lib.low_power import claims as C
    from course_lib.low_power.presets import PRESETS

    k = D.study(PRESETS["smoke"])
    assert k["cached"] and k["gradient_error"] < 1e-6          # kd_loss computes in float32
    ledger = C.make_ledger("smoke", notebook=5)
    D.record(ledger, k)
    assert ledger.status("lp.kd_gradient") == "PASS"
    res = D.load_results()
    gains = [r["kd_transfer"] - r["label_only"] for r in res["transfer"]]
    assert ledger.measured["lp.kd_transfer"].value == pytest.approx(min(gains))  # the worst seed
    assert "artifact" in ledger.measured["lp.kd_transfer"].source.label().lower() or \
        "kd_results.json" in ledger.measured["lp.kd_transfer"].source.label()
    assert len(res["transfer"]) == len(res["mnist1d"]) == len(res["full_label"]) == 3
