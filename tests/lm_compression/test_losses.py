import torch
import torch.nn.functional as F
from torch import nn

from course_lib.lm_compression.losses import (
    SharedProjections,
    alignment_loss,
    dual_mlm_loss,
    kd_loss,
    mask_tokens,
    projection_loss,
)


def test_kd_loss_limits():
    torch.manual_seed(0)
    s, t, y = torch.randn(8, 2), torch.randn(8, 2), torch.randint(0, 2, (8,))
    assert torch.allclose(kd_loss(s, t, y, alpha=0.0), F.cross_entropy(s, y))
    assert float(kd_loss(t, t, y, alpha=1.0)) < 1e-6
    y_un = torch.full((8,), -100)
    assert torch.allclose(kd_loss(s, t, y_un, alpha=0.5), 0.5 * kd_loss(s, t, y, alpha=1.0))


def test_dual_mlm_loss_scores_each_token_with_its_own_softmax():
    torch.manual_seed(0)
    lt, ls = torch.randn(6, 10), torch.randn(6, 4)
    targets = torch.tensor([3, 10 + 1, -100, 7, 10 + 3, -100])
    out = dual_mlm_loss(lt, ls, targets, teacher_size=10)
    manual = (F.cross_entropy(lt[[0, 3]], targets[[0, 3]], reduction="sum")
              + F.cross_entropy(ls[[1, 4]], targets[[1, 4]] - 10, reduction="sum")) / 4
    assert torch.allclose(out["loss"], manual)


def test_masking_only_touches_eligible_positions():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 100, (64, 20))
    mask = torch.ones_like(ids)
    mask[:, 15:] = 0
    inputs, targets = mask_tokens(ids, mask, 4, 100, rate=0.3, generator=g)
    chosen = targets != -100
    assert not chosen[:, 15:].any() and 0.2 < chosen[:, :15].float().mean() < 0.4
    assert torch.equal(inputs[~chosen], ids[~chosen]) and torch.equal(targets[chosen], ids[chosen])


def _layer(h, f):
    return nn.TransformerEncoderLayer(h, 2, f, 0.0, batch_first=True, norm_first=True)


def test_projection_loss_is_zero_for_an_exactly_projected_teacher_and_trains_p():
    torch.manual_seed(0)
    proj = SharedProjections(16, 8, 32, 12)
    student, teacher = [_layer(8, 12)], [_layer(16, 32)]
    P = {"h": proj.P_h.detach(), "f": proj.P_f.detach()}
    from course_lib.lm_compression.losses import _layer_variables

    with torch.no_grad():
        for (wt, ra, cb), (ws, _, _) in zip(_layer_variables(teacher[0]), _layer_variables(student[0])):
            wt.copy_(P[ra] @ ws @ P[cb].T if cb else P[ra] @ ws)
    out = projection_loss(teacher, student, proj)
    assert float(out["loss"]) < 1e-10
    with torch.no_grad():
        student[0].linear1.weight.add_(0.1)
    out = projection_loss(teacher, student, proj)
    out["loss"].backward()
    assert float(out["proj_down"]) > 0 and float(out["proj_up"]) > 0
    assert proj.P_h.grad is not None and student[0].linear1.weight.grad.abs().sum() > 0
    assert teacher[0].linear1.weight.grad is None


def test_alignment_loss_zero_when_outputs_match():
    x = torch.randn(4, 6)
    out = alignment_loss(x, x.clone())
    assert float(out["loss"]) < 1e-6 and abs(float(out["align_cos"]) - 1) < 1e-6
