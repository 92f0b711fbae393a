"""The weighted / discriminative variant (§2.2) and the training of the feature CNN, all through the one training
loop (``course_lib.train.fit``).

* :func:`fit_channel_weights` — per-channel weights w of score = Σ_c w_c r_c (Eq. 2.2) by **logistic regression**
  on the C-dimensional vectors of per-channel NCCs r at the best alignment (true pairs vs all other references).
  The paper's exact loss and optimiser are not published (training code absent from the official repository):
  this is the workbook's choice.
* :func:`pairwise_mcncc` — differentiable MCNCC between every pair of two batches of same-size feature maps.
* :func:`train_cnn` — :class:`~course_lib.mcncc.features.TreadCNN` trained from scratch on synthetic treads: a
  softmax over the MCNCC scores of each degraded crop against the clean crops of a batch (its own is the
  positive), so the features are learned **through** the MCNCC score.
* :func:`finetune` — end-to-end fine-tuning of the CNN and the per-channel weights through the weighted MCNCC on
  real pairs (the alignment fixed at the search's best placement), same softmax loss over the gallery.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from course_lib.mcncc.features import TreadCNN, feature_mask


class ChannelWeights(nn.Module):
    """s = Σ_c w_c r_c + b on per-channel NCC vectors r (B, C) (Eq. 2.2; uniform w_c = 1/C is plain MCNCC).
    ``nonneg``: w_c = softplus(v_c) ≥ 0 (a channel's agreement never counts against a match)."""

    def __init__(self, channels: int, nonneg: bool = False):
        super().__init__()
        self.nonneg = nonneg
        init = math.log(math.expm1(1.0 / channels)) if nonneg else 1.0 / channels
        self.v = nn.Parameter(torch.full((channels,), init))
        self.b = nn.Parameter(torch.zeros(()))

    @property
    def w(self) -> torch.Tensor:
        return nn.functional.softplus(self.v) if self.nonneg else self.v

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return r @ self.w + self.b


def fit_channel_weights(channels, labels, epochs: int = 300, lr: float = 0.05, l2: float = 1e-3,
                        device=None, seed: int = 0, nonneg: bool = False) -> np.ndarray:
    """Logistic regression of "same print?" on per-channel NCC vectors: channels (Q, N, C) at the best placement
    of every query/reference pair, labels (Q,) the true reference. Classes are balanced (positives and negatives
    weigh the same); L2 penalty ``l2`` on w; ``nonneg`` constrains w ≥ 0. Full-batch Adam through
    ``course_lib.train.fit``. Returns w (C,), rescaled to Σ|w| = 1 (the scale does not change rankings)."""
    from course_lib.train import fit

    r = torch.as_tensor(np.asarray(channels), dtype=torch.float32)
    lab = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if r.dim() != 3 or lab.shape != (r.shape[0],):
        raise ValueError(f"channels must be (Q, N, C) and labels (Q,); got {tuple(r.shape)} and {tuple(lab.shape)}")
    pos = torch.zeros(r.shape[:2], dtype=torch.bool)
    pos[torch.arange(len(lab)), lab] = True
    model = ChannelWeights(r.shape[-1], nonneg)

    def loss_fn(m, batch):
        x, y = batch
        s = m(x)
        bce = nn.functional.binary_cross_entropy_with_logits
        return bce(s[y], torch.ones_like(s[y])) + bce(s[~y], torch.zeros_like(s[~y])) + l2 * (m.w ** 2).sum()

    fit(model, torch.optim.Adam(model.parameters(), lr), loss_fn, [(r * 10.0, pos)], epochs=epochs,
        progress=False, device=device or "cpu", seed=seed, desc="channel weights")
    w = model.w.detach().cpu().double().numpy()
    return w / max(np.abs(w).sum(), 1e-12)


def pairwise_mcncc(fa: torch.Tensor, fb: torch.Tensor, mask: torch.Tensor | None = None, weights=None
                   ) -> torch.Tensor:
    """MCNCC (Eq. 2.1; with ``weights`` Eq. 2.2) of every map of ``fa`` (A, C, h, w) against every map of ``fb``
    (B, C, h, w) over a shared binary mask (h, w): (A, B). Differentiable; flat channels give 0."""
    if fa.shape[1:] != fb.shape[1:]:
        raise ValueError(f"feature maps must share (C, h, w): {tuple(fa.shape)} vs {tuple(fb.shape)}")
    m = torch.ones(fa.shape[-2:], device=fa.device, dtype=fa.dtype) if mask is None else mask.to(fa)

    def unit(f):
        n = m.sum()
        fc = (f - (f * m).sum((-2, -1), keepdim=True) / n) * m
        return fc / (fc.pow(2).sum((-2, -1), keepdim=True) + 1e-8).sqrt()

    r = torch.einsum("achw,bchw->abc", unit(fa), unit(fb))
    if weights is None:
        return r.mean(-1)
    return r @ weights


@dataclasses.dataclass(frozen=True)
class CNNConfig:
    """Training of the feature CNN on synthetic treads."""

    channels: int = 16
    width: int = 24
    patterns: int = 200        # training patterns (a seed disjoint from every evaluation set)
    shape: tuple[int, int] = (128, 64)
    crop: tuple[int, int] = (48, 40)
    batch: int = 32
    batches_per_epoch: int = 8
    epochs: int = 25
    lr: float = 3e-3
    temperature: float = 0.1
    seed: int = 1000


def train_cnn(cfg: CNNConfig = CNNConfig(), device=None, progress: bool = False, checkpoint=None,
              amp: bool | str = False) -> tuple[TreadCNN, object]:
    """Train :class:`TreadCNN` from scratch through MCNCC: each batch holds ``batch`` clean crops of different
    synthetic patterns and their degraded versions (``treads.aligned_pairs``); loss = cross-entropy of the
    softmax over MCNCC(degraded_i, clean_j)/τ with j = i as the target. Returns (model, history)."""
    from course_lib.mcncc import treads
    from course_lib.train import fit

    refs = treads.make_references(cfg.patterns, cfg.shape, cfg.seed)
    torch.manual_seed(cfg.seed)
    model = TreadCNN(cfg.channels, cfg.width)

    def epoch_batches(epoch: int):
        rng = np.random.default_rng(cfg.seed * 7919 + epoch)
        out = []
        for _ in range(cfg.batches_per_epoch):
            pick = rng.choice(len(refs), cfg.batch, replace=False)
            clean, noisy = treads.aligned_pairs(refs[pick], cfg.crop, rng)
            out.append((torch.as_tensor(clean)[:, None], torch.as_tensor(noisy)[:, None]))
        return out

    def loss_fn(m, batch):
        clean, noisy = batch
        s = pairwise_mcncc(m(noisy).float(), m(clean).float()) / cfg.temperature  # the score in float32 under AMP
        return nn.functional.cross_entropy(s, torch.arange(len(s), device=s.device))

    hist = fit(model, torch.optim.Adam(model.parameters(), cfg.lr), loss_fn, epoch_batches, epochs=cfg.epochs,
               progress=progress, device=device or "cpu", seed=cfg.seed, desc="TreadCNN", checkpoint=checkpoint,
               resume=checkpoint is not None, amp=amp)
    return model.cpu().eval(), hist


def aligned_crops(references: np.ndarray, canvases: np.ndarray, canvas_masks: np.ndarray, where: np.ndarray,
                  stride: int, pad: int, fill: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Reference crops (N, h, w) under the query canvas at each reference's best placement ``where`` (N, 3) =
    (rotation, row, column) in feature cells of the padded reference; returns (crops, query canvas per
    reference (N, h, w))."""
    refs = np.pad(np.asarray(references, np.float32), ((0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    h, w = canvases.shape[-2:]
    crops = np.full((len(refs), h, w), fill, np.float32)
    for j, (_, u, v) in enumerate(where):
        y0, x0 = int(u) * stride, int(v) * stride
        piece = refs[j, y0:y0 + h, x0:x0 + w]
        crops[j, :piece.shape[0], :piece.shape[1]] = piece
    return crops, canvases[where[:, 0]]


def finetune(model: TreadCNN, queries: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None,
             references: np.ndarray, labels, where: np.ndarray, start_scores: np.ndarray,
             angles: Sequence[float], pad: int,
             negatives: int = 8, epochs: int = 8, lr: float = 1e-3, temperature: float = 0.1, erode: int = 1,
             device=None, seed: int = 0, progress: bool = False) -> tuple[TreadCNN, np.ndarray, object]:
    """End-to-end fine-tuning of the CNN and per-channel weights through the weighted MCNCC (Eq. 2.2) on real
    training pairs. Alignment is fixed at the search's best placements ``where`` (Q, N, 3) (from
    :func:`course_lib.mcncc.search.score_gallery` with the starting features); each query is scored against its
    true reference and its ``negatives`` wrong references with the highest ``start_scores`` (Q, N) (softmax
    cross-entropy, the true reference as the target).
    Returns (fine-tuned copy of the model, weights (C,), history)."""
    import copy

    from course_lib.mcncc.search import query_canvases
    from course_lib.train import fit

    refs = np.asarray(references, np.float32)
    fit_hw = (refs.shape[1] + 2 * pad, refs.shape[2] + 2 * pad)
    labels = np.asarray(labels)
    stride = model.stride
    samples = []
    for q, img in enumerate(queries):
        canv, cmask, _ = query_canvases(img, None if masks is None else masks[q], angles, fit_hw)
        y = int(labels[q])
        wrong = [j for j in np.argsort(-np.asarray(start_scores[q])) if j != y][:negatives]
        js = np.array([y, *wrong])
        crops, qimgs = aligned_crops(refs[js], canv, cmask, where[q][js], stride, pad)
        fm = feature_mask(torch.as_tensor(cmask[where[q][js, 0]]), stride, erode)
        samples.append((torch.as_tensor(qimgs), torch.as_tensor(crops), fm))
    net = copy.deepcopy(model).train()
    head = ChannelWeights(model.channels)
    both = nn.ModuleDict({"cnn": net, "w": head})
    rng = np.random.default_rng(seed)

    def epoch_batches(epoch: int):
        order = rng.permutation(len(samples))
        return [order[i:i + 1] for i in range(len(order))]

    def loss_fn(m, batch):
        qimgs, crops, fm = samples[int(batch[0])]        # index 0 = the true reference
        dev = next(m.parameters()).device
        fq = m["cnn"](qimgs[:, None].to(dev))
        fr = m["cnn"](crops[:, None].to(dev))
        mk = fm.to(dev)[:, None]
        hh, ww = min(fq.shape[-2], mk.shape[-2]), min(fq.shape[-1], mk.shape[-1])
        fq, fr, mk = fq[..., :hh, :ww], fr[..., :hh, :ww], mk[..., :hh, :ww]
        n = mk.sum((-2, -1), keepdim=True).clamp_min(2)

        def unit(f):
            fc = (f - (f * mk).sum((-2, -1), keepdim=True) / n) * mk
            return fc / (fc.pow(2).sum((-2, -1), keepdim=True) + 1e-8).sqrt()

        r = (unit(fq) * unit(fr)).sum((-2, -1))              # (1 + negatives, C) per-channel NCC
        s = (r @ m["w"].w) * m["w"].v.numel() / temperature
        return nn.functional.cross_entropy(s[None], torch.zeros(1, dtype=torch.long, device=s.device))

    hist = fit(both, torch.optim.Adam(both.parameters(), lr), loss_fn, epoch_batches, epochs=epochs,
               progress=progress, device=device or "cpu", seed=seed, desc="fine-tune through MCNCC")
    w = head.w.detach().cpu().double().numpy()
    return net.cpu().eval(), w / max(np.abs(w).sum(), 1e-12), hist
