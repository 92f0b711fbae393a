"""Diagnostics of the propagation: Dice vs slice gap, and how the click net and normalisation see unseen data.

Propagation diagnostic (:func:`propagation_vs_gap`): put the ground-truth mask of slice ``z`` into memory, then
score slice ``z + g`` (and ``z - g``) for gaps ``g`` in 1, 2, 4, 8, 16 with

    (a) memory propagation: :func:`~course_lib.lim_net.memory.propagate` slice by slice from ``z`` (Eqs. 1-3),
    (b) copy: the mask of slice ``z`` itself (what "copy the nearest interacted mask" gives at distance g),
    (c) 2D net + click: the click net on slice ``z + g`` with one positive click at its interior (an oracle click
        on the scored slice: the best a user-on-that-slice could get with one click).

(a) below (b) on *training* structures = the memory module never learned to propagate; (a) above (b) on training
structures but not on test organs = it does not generalise; (a) fine at small gaps but the simulated user's
clicks far apart = the user simulation leaves gaps that propagation cannot bridge.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from course_lib.lim_net.clicks import Click
from course_lib.lim_net.data import Target
from course_lib.lim_net.memory import propagate
from course_lib.lim_net.pipeline import InferenceConfig, LIMNet
from course_lib.lim_net.user import interior_point

GAPS = (1, 2, 4, 8, 16)


def _slice_dice(a: np.ndarray, b: np.ndarray) -> float:
    """2D Dice with the convention 1.0 when both are empty."""
    s = a.sum() + b.sum()
    return 1.0 if s == 0 else float(2 * (a & b).sum() / s)


@torch.no_grad()
def propagation_vs_gap(model: LIMNet, targets: Sequence[Target], gaps: Sequence[int] = GAPS, *,
                       cfg: InferenceConfig | None = None, group: str = "", device=None) -> pd.DataFrame:
    """Per target, start slice and signed gap: slice Dice of (a) propagation, (b) copy, (c) 2D net + one click.

    The start slice is the target's largest slice (where the simulated user clicks first). Only scored slices
    where the ground truth is non-empty are kept (the question is how far a mask can be carried *inside* the
    structure). Returns one row per (target, gap, direction) with columns ``group, target, gap, direction,
    propagation, copy, click_2d``.
    """
    cfg = cfg or InferenceConfig()
    device = torch.device(device or next(model.parameters()).device)
    rows = []
    for t in targets:
        image = torch.as_tensor(t.image, device=device)
        z0 = int(np.argmax(t.gt.sum(axis=(1, 2))))
        prompt = torch.as_tensor(t.gt[z0], dtype=torch.float32, device=device)
        res = propagate(model.memory_net, image, {z0: prompt}, z0, top_k=cfg.top_k, fifo_size=cfg.fifo_size,
                        mem_every=cfg.mem_every)
        pred = (res.probs > cfg.threshold).cpu().numpy()
        for g in gaps:
            for d in (1, -1):
                z = z0 + d * g
                if not (0 <= z < len(t.gt)) or not t.gt[z].any():
                    continue
                y, x = interior_point(t.gt[z])
                p2d = model.prompt_mask(image[z], [Click(z, y, x, True)], z, None, cfg).cpu().numpy() > 0.5
                rows.append({"group": group, "target": t.name, "gap": g, "direction": d,
                             "propagation": _slice_dice(pred[z], t.gt[z]),
                             "copy": _slice_dice(t.gt[z0], t.gt[z]), "click_2d": _slice_dice(p2d, t.gt[z])})
    return pd.DataFrame(rows, columns=["group", "target", "gap", "direction", "propagation", "copy", "click_2d"])


def gap_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Mean slice Dice per (group, gap) for the three methods, with the number of scored slices."""
    if df.empty:
        return pd.DataFrame(columns=["group", "gap", "propagation", "copy", "click_2d", "n"])
    out = df.groupby(["group", "gap"])[["propagation", "copy", "click_2d"]].mean()
    out["n"] = df.groupby(["group", "gap"]).size()
    return out.reset_index()


@torch.no_grad()
def click_net_vs_size(model: LIMNet, targets: Sequence[Target], cfg: InferenceConfig | None = None,
                      device=None) -> pd.DataFrame:
    """One positive click on each target's largest slice: 2D Dice of the click net vs the structure's area.

    Shows whether the click net stops at the size of its training structures (a large organ under-segmented).
    """
    cfg = cfg or InferenceConfig()
    device = torch.device(device or next(model.parameters()).device)
    rows = []
    for t in targets:
        z = int(np.argmax(t.gt.sum(axis=(1, 2))))
        y, x = interior_point(t.gt[z])
        p = model.prompt_mask(torch.as_tensor(t.image[z], device=device), [Click(z, y, x, True)], z, None,
                              cfg).cpu().numpy() > 0.5
        area = int(t.gt[z].sum())
        rows.append({"target": t.name, "source": t.source, "area_px": area,
                     "area_fraction": area / t.gt[z].size, "pred_px": int(p.sum()),
                     "dice_2d": _slice_dice(p, t.gt[z])})
    return pd.DataFrame(rows)


def intensity_profile(targets: Sequence[Target]) -> pd.DataFrame:
    """Per target: mean and sd of the normalised intensity inside the structure and in a 3-px ring around it.

    The contrast ``|inside - ring| / sd`` tells how visible the boundary is after normalisation (CT window vs
    MR percentile scaling).
    """
    from scipy import ndimage

    rows = []
    for t in targets:
        ring = ndimage.binary_dilation(t.gt, iterations=3, structure=np.ones((1, 3, 3), bool)) & ~t.gt
        a, b = t.image[t.gt], t.image[ring]
        rows.append({"target": t.name, "source": t.source, "inside_mean": float(a.mean()),
                     "inside_sd": float(a.std()), "ring_mean": float(b.mean()), "ring_sd": float(b.std()),
                     "contrast": float(abs(a.mean() - b.mean()) / (0.5 * (a.std() + b.std()) + 1e-6))})
    return pd.DataFrame(rows)
