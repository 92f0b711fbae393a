"""Per-example loop reference of the counter: an independent, literal transcription of the official forward
pass (``vqa-v2/counting.py``: outer products, ``prod(dim=1)`` over the 3-D difference tensor, the official
``PiecewiseLin`` with its extra w₀ ≡ 0), applied to one example at a time. Used to test :class:`Counter` and
as the peer of the batched implementation in ``benchmarks/bench_counting.py``.
"""

from __future__ import annotations

import torch

from course_lib.counting.component import Counter


def official_piecewise(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The official ``PiecewiseLin.forward`` with weights [0, w₁ … w_d] (d = len(weight)), for any x in [0,
    1]."""
    d = weight.numel()
    w = torch.cat([weight.new_zeros(1), weight.abs()])
    w = w / w.sum()
    w = w.view([d + 1] + [1] * x.dim())
    csum = w.cumsum(dim=0).expand((d + 1,) + tuple(x.shape))
    w = w.expand_as(csum)
    y = d * x.unsqueeze(0)
    idx = y.detach().long()
    frac = y - idx.to(y.dtype)
    out = csum.gather(0, idx.clamp(max=d)) + frac * w.gather(0, (idx + 1).clamp(max=d))
    return out.squeeze(0)


def counter_single(counter: Counter, boxes: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Count feature of ONE example: boxes (n, 4), attention a (n,) already in [0, 1] and already top-n → (n +
    1,)."""
    n = counter.n_objects
    ws = [fk.weight for fk in counter.f]

    def f(k, x):
        return official_piecewise(ws[k], x)

    def outer_product(x):
        return x.unsqueeze(-1) * x.unsqueeze(-2)

    def outer_diff(x):
        return (x.unsqueeze(-1) - x.unsqueeze(-2)).abs()

    lt = torch.max(boxes[:, None, :2], boxes[None, :, :2])
    rb = torch.min(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0).prod(-1)
    union = area[:, None] + area[None, :] - inter
    eps = counter.abs_eps if counter.abs_eps is not None else 0.0
    iou = inter / torch.where(union + eps > 0, union + eps, torch.ones_like(union))
    if counter.abs_eps is None:  # coinciding zero-area boxes have IoU 1 (tiny-box fix)
        iou = torch.where(union > 0, iou, (boxes[:, None] == boxes[None]).all(-1).to(iou.dtype))
    relevancy = outer_product(a)
    distance = 1 - iou
    score = f(0, relevancy) * f(1, distance)
    dedup_score = f(3, relevancy) * f(4, distance)
    sim = f(2, 1 - outer_diff(dedup_score)).prod(dim=0) * f(2, 1 - outer_diff(a))  # official prod over dim 1
    row_sims = sim.sum(dim=1)
    score = score / outer_product(row_sims)
    correction = f(0, a * a) / row_sims
    total = (score.sum() + correction.sum() + 1e-20).sqrt()
    c = total.clamp(0, n)
    i = int(c.detach().floor())
    frac = c - i
    one_hot = torch.zeros(n + 1, dtype=a.dtype, device=a.device)  # index tensors on a's device (CUDA-safe)
    one_hot = one_hot.index_add(0, torch.tensor([min(i, n)], device=a.device), (1 - frac).reshape(1))
    one_hot = one_hot.index_add(0, torch.tensor([min(i + 1, n)], device=a.device), frac.reshape(1))
    att_conf = (f(5, a) - 0.5).abs().mean()
    dist_conf = (f(6, distance) - 0.5).abs().mean()
    return one_hot * f(7, (att_conf + dist_conf).reshape(1))


def counter_loop(counter: Counter, boxes: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """Apply :func:`counter_single` example by example: (B, n, 4), (B, n) → (B, n + 1) (the loop peer)."""
    if boxes.dim() != 3 or attention.shape != boxes.shape[:2] or attention.shape[1] != counter.n_objects:
        raise ValueError(
            f"expected boxes (B, {counter.n_objects}, 4) and attention (B, {counter.n_objects}), "
            f"got {tuple(boxes.shape)} and {tuple(attention.shape)}"
        )
    return torch.stack([counter_single(counter, boxes[b], attention[b]) for b in range(boxes.shape[0])])
