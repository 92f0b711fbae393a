"""Training of the four networks on the training pool (synthetic volumes + CT bones/muscles; never test organs).

Losses, samplers and schedules are **workbook design choices** (the paper's are [not retrieved]):

* loss of the click U-Net and the memory net: BCE + soft Dice,
  ``L = BCE(p, y) + 1 - (2 sum p y + 1) / (sum p + sum y + 1)`` (:func:`seg_loss`);
* click U-Net: RITM-style click simulation -- a first positive click, plus, for part of the batch, a "previous
  mask" (a perturbed ground truth or the net's own prediction) and a corrective click at its largest error;
* memory net: STCN-style short sequences -- two memory slices with masks (one inside the structure, one
  possibly empty) -> a slice 1..``max_gap`` away -> the next one, which also reads the first's predicted mask;
* quality regressor: L1 regression of per-slice Dice on candidates produced by the trained pipeline on training
  structures (and perturbed ground truths);
* 3D U-Net peer: DeepEdit-style, a first click plus 0-2 corrective clicks simulated on its own prediction.

Every net trains through the core loop (``course_lib.train.Loop``, steps mode: a ``step -> batch`` sampler,
because every batch is sampled on the fly and the click simulation calls the model being trained).
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from course_lib.lim_net.clicks import encode_volume_clicks, point_maps
from course_lib.lim_net.data import Target
from course_lib.lim_net.memory import readout
from course_lib.lim_net.mrf import quality_input, slice_dice
from course_lib.lim_net.pipeline import LIMNet, LIMNetSession, run_session
from course_lib.lim_net.user import error_regions, first_click, interior_point, next_click
from course_lib.train import Callback, Loop


@dataclasses.dataclass
class Structure:
    """One training structure: ``image`` float32 ``(Z, H, W)`` and ``mask`` bool ``(Z, H, W)``."""

    name: str
    image: np.ndarray
    mask: np.ndarray

    def __post_init__(self):
        self.slices = np.flatnonzero(self.mask.any(axis=(1, 2)))
        if self.slices.size == 0:
            raise ValueError(f"structure {self.name!r} has an empty mask")


def seg_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE + (1 - soft Dice), Dice per sample with +1 smoothing, averaged over the batch."""
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits).flatten(1)
    t = target.flatten(1)
    dice = (2 * (p * t).sum(1) + 1) / (p.sum(1) + t.sum(1) + 1)
    return bce + (1 - dice).mean()


# ----------------------------------------------------------------------------------------------- augmentation
def augment_intensity(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random gamma, contrast/brightness, inversion (p = 0.2) and noise, applied to a whole sample."""
    img = np.clip(img, 0, 1) ** rng.uniform(0.6, 1.6)
    if rng.random() < 0.2:
        img = 1 - img
    img = img * rng.uniform(0.8, 1.2) + rng.uniform(-0.1, 0.1)
    img = img + rng.normal(0, rng.uniform(0, 0.04), img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


def _flip(arrs, rng):
    if rng.random() < 0.5:
        arrs = [a[..., ::-1] for a in arrs]
    if rng.random() < 0.5:
        arrs = [a[..., ::-1, :] for a in arrs]
    return [np.ascontiguousarray(a) for a in arrs]


def _crop_box(mask2d: np.ndarray, size: int, rng: np.random.Generator) -> tuple[int, int]:
    H, W = mask2d.shape
    if size >= H and size >= W:
        return 0, 0
    ys, xs = np.nonzero(mask2d)
    cy, cx = (ys.mean(), xs.mean()) if ys.size else (H / 2, W / 2)
    y0 = int(np.clip(cy - size / 2 + rng.integers(-size // 4, size // 4 + 1), 0, H - size))
    x0 = int(np.clip(cx - size / 2 + rng.integers(-size // 4, size // 4 + 1), 0, W - size))
    return y0, x0


def perturb_mask(gt: np.ndarray, rng: np.random.Generator, neighbours: list[np.ndarray] | None = None) -> np.ndarray:
    """A plausible wrong mask: neighbour-slice mask, dilation/erosion, shift, extra blob, cut, or empty."""
    m = gt.copy()
    kind = rng.integers(7)
    if kind == 0 and neighbours:
        m = neighbours[rng.integers(len(neighbours))].copy()
    elif kind == 1:
        big = rng.random() < 0.3  # sometimes a strong leak, like a propagated mask spilling into a neighbour
        m = ndimage.binary_dilation(m, iterations=int(rng.integers(4, 11) if big else rng.integers(1, 4)))
    elif kind == 2:
        m = ndimage.binary_erosion(m, iterations=int(rng.integers(1, 4)))
    elif kind == 3:
        m = np.roll(m, (int(rng.integers(-4, 5)), int(rng.integers(-4, 5))), axis=(0, 1))
    elif kind == 4:
        H, W = m.shape
        cy, cx = rng.integers(0, H), rng.integers(0, W)
        yy, xx = np.mgrid[0:H, 0:W]
        m |= ((yy - cy) / rng.uniform(2, 10)) ** 2 + ((xx - cx) / rng.uniform(2, 10)) ** 2 <= 1
    elif kind == 5:
        H, W = m.shape
        yy, xx = np.mgrid[0:H, 0:W]
        th = rng.uniform(0, 2 * np.pi)
        ys, xs = np.nonzero(m) if m.any() else (np.array([H / 2]), np.array([W / 2]))
        m &= (yy - ys.mean()) * np.cos(th) + (xx - xs.mean()) * np.sin(th) < rng.uniform(-3, 6)
    elif kind == 6 and rng.random() < 0.5:
        m[:] = False
    return m


# ----------------------------------------------------------------------------------------------- click U-Net
def _click_sample(s: Structure, rng: np.random.Generator, crop: int, outside: bool = False):
    z = int(rng.choice(s.slices))
    if outside:  # a slice just beyond one end of the structure (empty ground truth)
        end, d = (s.slices[-1], 1) if rng.random() < 0.5 else (s.slices[0], -1)
        z = int(np.clip(end + d * rng.integers(1, 4), 0, len(s.mask) - 1))
    gt = s.mask[z]
    y0, x0 = _crop_box(s.mask[int(np.clip(z, s.slices[0], s.slices[-1]))], crop, rng)
    sl = (slice(y0, y0 + crop), slice(x0, x0 + crop))
    nb = [s.mask[k][sl] for k in (z - 3, z - 2, z - 1, z + 1, z + 2, z + 3) if 0 <= k < len(s.mask)]
    img, gt = s.image[z][sl], gt[sl]
    img, gt, *nb = _flip([img, gt, *nb], rng)
    return augment_intensity(img, rng), gt, nb


def click_batch(pool: list[Structure], batch: int, rng: np.random.Generator, *, crop: int = 64,
                net: nn.Module | None = None, radius: float = 3.0, device=None):
    """One training batch ``(x (B, 4, H, W), y (B, 1, H, W))`` for the click U-Net (see module docstring)."""
    xs, ys = [], []
    pending = []  # samples whose previous mask comes from the net itself
    for b in range(batch):
        s = pool[rng.integers(len(pool))]
        outside = rng.random() < 0.1
        img, gt, nb = _click_sample(s, rng, crop, outside)
        clicks = []
        if outside:  # a leaked previous mask on an empty slice + a negative click: the answer is "nothing"
            nonempty = [m for m in nb if m.any()]
            prev = nonempty[rng.integers(len(nonempty))] if nonempty else np.zeros_like(gt)
            prev = ndimage.binary_dilation(prev, iterations=int(rng.integers(0, 8))) if prev.any() else prev
            if prev.any():
                clicks.append((*interior_point(prev, rng, rng.uniform(0.5, 1.0)), False))
            xs.append((img, clicks, prev))
            ys.append(gt)
            continue
        if gt.any():
            clicks.append((*interior_point(gt, rng, rng.uniform(0.3, 1.0)), True))
        prev = np.zeros_like(gt)
        mode = rng.random()
        if mode < 0.45 and gt.any():
            prev = perturb_mask(gt, rng, nb)
            if rng.random() < 0.3:
                clicks = []
            for _ in range(rng.integers(1, 3)):
                regions = error_regions(prev, gt)
                if not regions:
                    break
                region, is_fn = regions[0]
                clicks.append((*interior_point(region, rng, rng.uniform(0.5, 1.0)), is_fn))
                if rng.random() < 0.5:
                    break
        elif mode > 0.8 and net is not None and gt.any():
            pending.append(b)
        xs.append((img, clicks, prev))
        ys.append(gt)
    H, W = ys[0].shape

    def build(items):
        out = []
        for img, clicks, prev in items:
            pts = torch.tensor([[c[0], c[1]] for c in clicks], dtype=torch.float32).reshape(-1, 2)
            pos = torch.tensor([c[2] for c in clicks], dtype=torch.bool)
            maps = point_maps(pts, pos, H, W, radius=radius)
            out.append(torch.cat([torch.from_numpy(img)[None], maps, torch.from_numpy(prev.astype(np.float32))[None]]))
        return torch.stack(out).to(device)

    x = build(xs)
    if pending:
        with torch.no_grad():
            net.eval()
            pred = (torch.sigmoid(net(x[pending])) > 0.5)[:, 0].cpu().numpy()
            net.train()
        for j, b in enumerate(pending):
            img, clicks, _ = xs[b]
            regions = error_regions(pred[j], ys[b])
            if regions:
                region, is_fn = regions[0]
                clicks = clicks + [(*interior_point(region, rng, rng.uniform(0.5, 1.0)), is_fn)]
            xs[b] = (img, clicks, pred[j])
        x = build(xs)
    y = torch.from_numpy(np.stack(ys).astype(np.float32))[:, None].to(device)
    return x, y


class _PerStepSchedule(Callback):
    """Callback of :class:`course_lib.train.Loop`: step a per-step LR schedule after every optimisation step."""

    def __init__(self, scheduler):
        self.scheduler = scheduler

    def on_step_end(self, loop, step, metrics):
        self.scheduler.step()

    def state_dict(self):
        return self.scheduler.state_dict()

    def load_state_dict(self, state):
        self.scheduler.load_state_dict(state)


def _loop(model, optimizer, make_batch, loss_fn, iters: int, desc: str, progress: bool, log_every: int = 25,
          checkpoint=None):
    """Train through the core loop (:class:`course_lib.train.Loop`: gradient clipping, checkpoint/resume, device)
    with a one-cycle LR schedule stepped per step; batches are sampled on the fly by ``make_batch``. Returns the
    history ``net, iter, loss, seconds`` (one row per ``log_every`` steps)."""
    sched = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=optimizer.param_groups[0]["lr"],
                                                total_steps=max(iters, 2), pct_start=0.15)
    schedule = _PerStepSchedule(sched)
    device = next(model.parameters()).device
    loop = Loop(model, optimizer, loss_fn, device=device, grad_clip=1.0, callbacks=[schedule])
    hist = loop.run(lambda step: make_batch(), steps=iters, eval_every=min(log_every, iters), checkpoint=checkpoint,
                    resume=checkpoint is not None, progress=progress, desc=desc)
    model.eval()
    seconds = hist["seconds"].cumsum()
    if os.environ.get("LIM_NET_LOG"):
        print(f"[{desc}] {iters} iterations, last loss {hist['train_loss'].iloc[-1]:.4f}, {seconds.iloc[-1]:.0f}s",
              flush=True)
    return pd.DataFrame({"net": desc, "iter": hist["step"], "loss": hist["train_loss"], "seconds": seconds})


def train_click_net(net: nn.Module, pool: list[Structure], *, iters: int, batch: int = 8, crop: int = 64,
                    lr: float = 2e-3, seed: int = 0, device=None, progress: bool = True) -> pd.DataFrame:
    """Train the 2D click U-Net with :func:`click_batch` and :func:`seg_loss`; returns the loss history."""
    rng = np.random.default_rng(seed)
    device = device or next(net.parameters()).device
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    return _loop(net, opt, lambda: click_batch(pool, batch, rng, crop=crop, net=net, device=device),
                 lambda m, b: seg_loss(m(b[0]), b[1]), iters, "click_net", progress)


# ----------------------------------------------------------------------------------------------- memory net
def _gap(rng: np.random.Generator, max_gap: int) -> int:
    """Slice gap for training: 1 with probability 1/2 (as in propagation), else uniform in 2..max_gap."""
    return 1 if rng.random() < 0.5 or max_gap < 2 else int(rng.integers(2, max_gap + 1))


def triplet_batch(pool: list[Structure], batch: int, rng: np.random.Generator, *, crop: int = 64,
                  max_gap: int = 4, n_targets: int = 3, exit_prob: float = 0.4, device=None):
    """``(images, masks)`` each ``(B, 2 + n_targets, 1, H, W)``: two memory slices with masks, then slices to predict.

    Slice 0 lies inside the structure (its mask is the "prompt"); slice 1 is a second permanent memory slice
    anywhere within 4 slices of the structure (so it may be empty, like a negative-click slice at test time) or
    slice 0 again (40%). Propagation starts at slice 1 and walks one direction, each target 1..``max_gap``
    slices after the previous one (gap 1 half of the time); targets may leave the structure (empty masks teach
    the net where an organ ends). In ``exit_prob`` of the samples the walk starts within 3 slices of one end of
    the structure and walks out of it, so stopping is learned. The prompt masks are perturbed in 30% of samples.
    """
    imgs, masks = [], []
    for _ in range(batch):
        s = pool[rng.integers(len(pool))]
        Z = len(s.mask)
        p0 = int(rng.choice(s.slices))
        d = 1 if rng.random() < 0.5 else -1
        if rng.random() < exit_prob:
            p1 = int(np.clip((s.slices[-1] if d == 1 else s.slices[0]) - d * rng.integers(0, 4), 0, Z - 1))
        elif rng.random() < 0.4:
            p1 = p0
        else:
            p1 = int(rng.integers(max(0, s.slices[0] - 4), min(Z, s.slices[-1] + 5)))
            if rng.random() < 0.5:
                p0, p1 = p1, p0
                if not s.mask[p0].any():
                    p0 = p1
        order = [p0, p1]
        for _ in range(n_targets):
            order.append(int(np.clip(order[-1] + d * _gap(rng, max_gap), 0, Z - 1)))
        y0, x0 = _crop_box(s.mask[p0], crop, rng)
        sl = (slice(None), slice(y0, y0 + crop), slice(x0, x0 + crop))
        im, mk = s.image[order][sl], s.mask[order][sl].copy()
        im, mk = _flip([im, mk], rng)
        im = augment_intensity(im, rng)
        for j in (0, 1):
            if rng.random() < 0.3 and mk[j].any():
                mk[j] = perturb_mask(mk[j], rng, None) if rng.random() < 0.5 else ndimage.binary_dilation(mk[j])
        imgs.append(im)
        masks.append(mk)
    images = torch.from_numpy(np.stack(imgs))[:, :, None].to(device)
    masks = torch.from_numpy(np.stack(masks).astype(np.float32))[:, :, None].to(device)
    return images, masks


def memory_forward(net, images: torch.Tensor, masks: torch.Tensor, top_k: int | None = 20,
                   fifo_size: int = 4) -> torch.Tensor:
    """Training forward: logits ``(B, T-2, 1, H, W)`` for slices 2.. (Eqs. 1-3 in batch, as in :func:`propagate`).

    Memory = slices 0 and 1 with their masks (permanent) + a FIFO of the predicted slices (soft masks); each
    slice uses the previous slice's mask (slice 1's for the first) as its previous-slice input.
    """
    B, T = images.shape[:2]
    keys, feats = net.encode_key(images.flatten(0, 1))  # (TB, C_k, h, w)
    keys = keys.view(B, T, *keys.shape[1:])
    f = [t.view(B, T, *t.shape[1:]) for t in feats]
    perm_k = [keys[:, j].flatten(2) for j in (0, 1)]
    perm_v = [net.encode_value(images[:, j], masks[:, j], [x[:, j] for x in f]).flatten(2) for j in (0, 1)]
    fifo_k, fifo_v = [], []
    prev = masks[:, 1]
    outs = []
    for t in range(2, T):
        mem_k, mem_v = torch.cat(perm_k + fifo_k, dim=2), torch.cat(perm_v + fifo_v, dim=2)
        q = keys[:, t].flatten(2)
        r = readout(mem_k, mem_v, q, top_k).view(B, mem_v.shape[1], *keys.shape[-2:])
        logit = net.decode(r, [x[:, t] for x in f], prev)
        outs.append(logit)
        prev = torch.sigmoid(logit)
        if t < T - 1:
            fifo_k = (fifo_k + [q])[-fifo_size:]
            fifo_v = (fifo_v + [net.encode_value(images[:, t], prev, [x[:, t] for x in f]).flatten(2)])[-fifo_size:]
    return torch.stack(outs, dim=1)


def train_memory_net(net: nn.Module, pool: list[Structure], *, iters: int, batch: int = 8, crop: int = 64,
                     max_gap: int = 4, n_targets: int = 3, exit_prob: float = 0.4, top_k: int | None = 20,
                     lr: float = 2e-3, seed: int = 0, device=None, progress: bool = True) -> pd.DataFrame:
    """Train the memory network on 4-slice samples (:func:`triplet_batch`, :func:`memory_forward`)."""
    rng = np.random.default_rng(seed + 1)
    device = device or next(net.parameters()).device
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)

    def loss_fn(m, b):
        images, masks = b
        logits = memory_forward(m, images, masks, top_k)
        return seg_loss(logits.flatten(0, 1), masks[:, 2:].flatten(0, 1))

    return _loop(net, opt, lambda: triplet_batch(pool, batch, rng, crop=crop, max_gap=max_gap, n_targets=n_targets,
                                                 exit_prob=exit_prob, device=device),
                 loss_fn, iters, "memory_net", progress)


# ----------------------------------------------------------------------------------------------- MRF scorer
def quality_dataset(model: LIMNet, targets: list[Target], *, rounds: int = 4, perturbed: int = 2, seed: int = 0,
                    max_slices: int = 16, device=None, progress: bool = True):
    """Scorer training data ``(x (N, 4, H, W) float16, dice (N,), pairs (P, 2))`` from training targets only.

    Candidates = every round of a no-MRF LIM-Net session driven by the simulated user, plus ``perturbed``
    slice-wise perturbations of the ground truth per target. Slices where candidate and truth are both empty are
    subsampled (they are easy and would dominate); at most ``max_slices`` slices per candidate are kept.
    ``pairs`` index two rows of ``x`` that are the *same slice* under rounds t and t+1 where the two masks
    differ -- exactly the decisions the MRF has to make -- for a ranking loss.
    """
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed + 2)
    xs, ys, pairs, n = [], [], [], 0

    def add(img, cand, gt, zs):
        nonlocal n
        d = slice_dice(cand, gt)[zs]
        xs.append(quality_input(img, torch.as_tensor(cand))[torch.as_tensor(zs)].half())
        ys.append(torch.as_tensor(d, dtype=torch.float32))
        n += len(zs)
        return np.arange(n - len(zs), n)

    for t in tqdm(targets, desc="MRF data", disable=not progress, mininterval=2.0):
        sess = LIMNetSession(model, t.image, mrf="none", device=device)
        run_session(sess, t.gt, rounds)
        img = torch.as_tensor(t.image)
        cands = list(sess.candidates)
        for _ in range(perturbed):
            nb = [t.gt[k] for k in range(len(t.gt))]
            cands.append(np.stack([perturb_mask(g, rng, nb[max(0, z - 2):z + 3]) if rng.random() < 0.6 else g
                                   for z, g in enumerate(t.gt)]))
        for c in cands:
            keep = np.flatnonzero(c.any(axis=(1, 2)) | t.gt.any(axis=(1, 2)) | (rng.random(len(c)) < 0.1))
            if len(keep) > max_slices:
                keep = np.sort(rng.choice(keep, max_slices, replace=False))
            add(img, c, t.gt, keep)
        for prev, new in zip(sess.masks[:-1], sess.candidates[1:]):
            differ = np.flatnonzero((prev != new).any(axis=(1, 2)))
            if len(differ) > max_slices:
                differ = np.sort(rng.choice(differ, max_slices, replace=False))
            if len(differ):
                pairs.append(np.stack([add(img, prev, t.gt, differ), add(img, new, t.gt, differ)], axis=1))
    pairs = torch.as_tensor(np.concatenate(pairs) if pairs else np.zeros((0, 2), int), dtype=torch.long)
    return torch.cat(xs), torch.cat(ys), pairs


def train_quality_net(net: nn.Module, x: torch.Tensor, y: torch.Tensor, pairs: torch.Tensor | None = None, *,
                      iters: int, batch: int = 32, lr: float = 2e-3, seed: int = 0, device=None,
                      progress: bool = True) -> pd.DataFrame:
    """L1 regression of per-slice Dice + a pairwise ranking loss on MRF decisions (random flips as augmentation).

    ``L = |Q(x) - dice| + BCE(sigmoid(20 (Q(x_a) - Q(x_b))), [dice_a > dice_b])`` over pairs whose Dice differ.
    """
    g = torch.Generator().manual_seed(seed + 3)
    device = device or next(net.parameters()).device
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    pairs = pairs if pairs is not None and len(pairs) else None
    if pairs is not None:
        pairs = pairs[(y[pairs[:, 0]] - y[pairs[:, 1]]).abs() > 0.01]

    def make_batch():
        idx = torch.randint(len(x), (batch,), generator=g)
        if pairs is not None and len(pairs):
            pj = pairs[torch.randint(len(pairs), (batch // 2,), generator=g)]
            idx = torch.cat([idx, pj[:, 0], pj[:, 1]])
        xb = x[idx].float()
        if torch.rand(1, generator=g).item() < 0.5:
            xb = xb.flip(-1)
        return xb.to(device), y[idx].to(device)

    def loss_fn(m, b):
        q = m(b[0])
        loss = (q - b[1]).abs()[:batch].mean()
        if len(q) > batch:
            k = (len(q) - batch) // 2
            qa, qb = q[batch:batch + k], q[batch + k:]
            da, db = b[1][batch:batch + k], b[1][batch + k:]
            loss = loss + (q[batch:] - b[1][batch:]).abs().mean() + F.binary_cross_entropy_with_logits(
                20 * (qa - qb), (da > db).float())
        return loss

    return _loop(net, opt, make_batch, loss_fn, iters, "quality_net", progress)


# ----------------------------------------------------------------------------------------------- 3D U-Net peer
def volume_batch(pool: list[Structure], batch: int, rng: np.random.Generator, *, size=(32, 64, 64),
                 net: nn.Module | None = None, sigma: float = 2.0, device=None):
    """DeepEdit-style 3D batch ``(x (B, 3, D, S, S), y (B, 1, D, S, S))`` with simulated clicks."""
    D, S, _ = size
    xs, ys = [], []
    for _ in range(batch):
        s = pool[rng.integers(len(pool))]
        Z = len(s.mask)
        zc = int(rng.choice(s.slices))
        z0 = int(np.clip(zc - D // 2 + rng.integers(-D // 4, D // 4 + 1), 0, max(0, Z - D)))
        y0, x0 = _crop_box(s.mask[zc], S, rng)
        img = s.image[z0:z0 + D, y0:y0 + S, x0:x0 + S]
        gt = s.mask[z0:z0 + D, y0:y0 + S, x0:x0 + S]
        pad = [(0, D - img.shape[0]), (0, S - img.shape[1]), (0, S - img.shape[2])]
        img, gt = np.pad(img, pad), np.pad(gt, pad)
        img, gt = _flip([img, gt], rng)
        img = augment_intensity(img, rng)
        clicks = [first_click(gt, rng, rng.uniform(0.3, 1.0))]
        n_extra = rng.integers(0, 3) if net is not None else 0
        for _ in range(n_extra):
            guide = encode_volume_clicks(clicks, gt.shape, sigma=sigma)
            with torch.no_grad():
                net.eval()
                xin = torch.cat([torch.from_numpy(img)[None], guide])[None].to(device)
                pred = (torch.sigmoid(net(xin)) > 0.5)[0, 0].cpu().numpy()
                net.train()
            c = next_click(pred, gt, rng, rng.uniform(0.5, 1.0))
            if c is None:
                break
            clicks.append(c)
        guide = encode_volume_clicks(clicks, gt.shape, sigma=sigma)
        xs.append(torch.cat([torch.from_numpy(img)[None], guide]))
        ys.append(torch.from_numpy(gt.astype(np.float32))[None])
    return torch.stack(xs).to(device), torch.stack(ys).to(device)


def train_unet3d(net: nn.Module, pool: list[Structure], *, iters: int, batch: int = 2, size=(32, 64, 64),
                 lr: float = 2e-3, seed: int = 0, device=None, progress: bool = True) -> pd.DataFrame:
    """Train the DeepEdit-style 3D U-Net peer on the same training pool as LIM-Net."""
    rng = np.random.default_rng(seed + 4)
    device = device or next(net.parameters()).device
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    return _loop(net, opt, lambda: volume_batch(pool, batch, rng, size=size, net=net, device=device),
                 lambda m, b: seg_loss(m(b[0]), b[1]), iters, "unet3d", progress)


def training_pool_structures(pairs, names=None) -> list[Structure]:
    """Wrap ``(image (Z, H, W), mask (Z, H, W))`` pairs as :class:`Structure` objects (empty masks skipped)."""
    out = []
    for i, (img, mask) in enumerate(pairs):
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            out.append(Structure(names[i] if names else f"structure_{i}", np.asarray(img, np.float32), mask))
    return out
