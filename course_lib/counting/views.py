"""Plots for the counting series. Every function returns a matplotlib Figure (the notebooks wrap some of them
with ``course_lib.viz.interactive``)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from course_lib.counting.boxes import pairwise_iou
from course_lib.counting.component import F_ROLES, Counter, CounterTrace, hand_set_counter
from course_lib.counting.models import CountingModel, NMSCounter
from course_lib.counting.toy import duplicate_scene, toy_scene

_MATRICES = {
    "A": ("A = a aᵀ", "attention_graph"),
    "D": ("D = 1 − IoU", "distance_matrix"),
    "A_tilde": ("Ã = f₁(A)⊙f₂(D)", "intra_object_dedup"),
    "sim": ("Sim", "inter_object_similarity"),
    "C": ("C (diag: self-loops)", "inter_object_dedup"),
}


def draw_boxes(ax, boxes, attention, n_true: int | None = None, title: str = "", extent=(0.0, 1.0)) -> None:
    """Draw boxes (n, 4) with line opacity ∝ attention; the first ``n_true`` (toy objects) in green."""
    boxes, attention = torch.as_tensor(boxes).cpu(), torch.as_tensor(attention).cpu()
    for i, (b, a) in enumerate(zip(boxes.tolist(), attention.tolist())):
        true = n_true is not None and i < n_true
        ax.add_patch(
            Rectangle(
                (b[0], b[1]),
                b[2] - b[0],
                b[3] - b[1],
                fill=true,
                lw=2,
                ec="tab:green" if true else "tab:blue",
                fc=(0.2, 0.7, 0.2, 0.08),
                alpha=0.15 + 0.85 * float(a),
                ls="-" if a > 0.05 else ":",
            )
        )
        ax.text(b[0], b[1], f"{a:.2f}", fontsize=7, color="k", alpha=0.3 + 0.7 * float(a), va="top")
    ax.set_xlim(*extent)
    ax.set_ylim(extent[1], extent[0])
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)


def _heatmap(ax, mat, title, vmax=None) -> None:
    im = ax.imshow(np.asarray(mat), cmap="viridis", vmin=0, vmax=vmax)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)


def plot_trace(
    trace: CounterTrace, index: int = 0, matrices=("A", "D", "A_tilde", "C"), n_true=None, title: str = ""
) -> Figure:
    """Boxes of example ``index`` and its matrices (default A, D, Ã, C) as heatmaps, with the count in the
    title."""
    bad = [m for m in matrices if m not in _MATRICES]
    if bad:
        raise ValueError(f"unknown matrices {bad}; choose from {tuple(_MATRICES)}")
    fig, axes = plt.subplots(1, 1 + len(matrices), figsize=(3.2 * (1 + len(matrices)), 3.4))
    draw_boxes(axes[0], trace.boxes[index].detach(), trace.a[index].detach(), n_true, "proposals (text: a_i)")
    for ax, name in zip(axes[1:], matrices):
        label, fn = _MATRICES[name]
        _heatmap(
            ax,
            getattr(trace, name)[index].detach().cpu(),
            f"{label}\n[{fn}]",
            vmax=1.0 if name != "C" else None,
        )
    fig.suptitle(title or f"count c = √ΣC = {trace.count[index].item():.3f}", fontsize=11)
    fig.tight_layout()
    return fig


def plot_counter_scene(
    count: int = 4,
    l: float = 0.3,
    q: float = 0.0,
    seed: int = 0,
    weights: str = "identity",
    model: CountingModel | None = None,
) -> Figure:
    """Toy scene with ``count`` objects, box side ``l``, noise ``q``: boxes, A, D, Ã, C and the counts.

    ``weights``: "identity" (untrained f's) or "trained" (``model``, e.g. the cached toy counter).
    """
    if weights not in ("identity", "trained"):
        raise ValueError(f"weights must be 'identity' or 'trained', got {weights!r}")
    if weights == "trained" and model is None:
        raise ValueError("weights='trained' needs model= (e.g. load_pretrained('toy')[0])")
    scene = toy_scene(count, l, q, seed=seed)
    counter = Counter(10) if weights == "identity" else model.counter
    with torch.no_grad():
        trace = counter.trace(scene.boxes, scene.attention)
        pred = (
            ""
            if model is None or weights == "identity"
            else f" | classifier → {model(scene.boxes, scene.attention).argmax(1).item()}"
        )
    title = (
        f"true count {count}   Σa = {scene.attention.sum().item():.2f}   counter c = "
        f"{trace.count.item():.2f}{pred}   ({weights} f's, l = {l:.2f}, q = {q:.2f})"
    )
    return plot_trace(trace, n_true=count, title=title)


def plot_duplicates(k: int = 3, jitter: float = 0.05, m: int = 2) -> Figure:
    """k proposals of one object (+ m separate objects): counts of Σa, NMS, identity and hand-set counters."""
    k = int(k)
    scene = duplicate_scene(k, m, jitter=jitter, seed=k)
    with torch.no_grad():
        counts = {
            "Σa": scene.attention.sum().item(),
            "NMS (0.5)": NMSCounter(10, 0.5, 0.5).count(scene.boxes, scene.attention).item(),
            "counter, identity f": Counter(10).count(scene.boxes, scene.attention).item(),
            "counter, step f₂ f₅": hand_set_counter(10).count(scene.boxes, scene.attention).item(),
        }
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.8), gridspec_kw={"width_ratios": [1, 1.3]})
    draw_boxes(ax0, scene.boxes[0], scene.attention[0], None, f"{k} duplicate(s) + {m} other object(s)")
    ax1.barh(list(counts), list(counts.values()), color=["tab:gray", "tab:orange", "tab:blue", "tab:green"])
    ax1.axvline(int(scene.count), color="k", ls="--", label=f"true count {int(scene.count)}")
    for i, v in enumerate(counts.values()):
        ax1.text(v, i, f" {v:.2f}", va="center")
    ax1.set_xlim(0, 11)
    ax1.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_soft_attention_example(max_copies: int = 4) -> Figure:
    """Worked example: k identical objects (feature v, attention logit 5) among 3 background proposals.

    Softmax-normalised attention returns the same attended vector for every k ≥ 1, while the sum of sigmoid
    attention grows with k: normalised attention averages, it cannot count.
    """
    v_obj, v_bg = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    rows = []
    for k in range(1, max_copies + 1):
        feats = torch.stack([v_obj] * k + [v_bg] * 3)
        logits = torch.tensor([5.0] * k + [-5.0] * 3)
        attended = (torch.softmax(logits, 0)[:, None] * feats).sum(0)
        rows.append((k, attended[0].item(), attended[1].item(), torch.sigmoid(logits).sum().item()))
    df = pd.DataFrame(rows, columns=["k", "attended[object]", "attended[background]", "Σ sigmoid"])
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax0.plot(df["k"], df["attended[object]"], "o-", label="attended feature, object dim")
    ax0.plot(df["k"], df["attended[background]"], "s-", label="attended feature, background dim")
    ax0.set_ylim(-0.05, 1.05)
    ax0.set_xlabel("number of identical objects k")
    ax0.set_title("softmax attention: identical for all k")
    ax0.legend(fontsize=8)
    ax1.plot(df["k"], df["Σ sigmoid"], "o-", color="tab:green")
    ax1.set_xlabel("number of identical objects k")
    ax1.set_title("Σ sigmoid(logits): grows with k")
    fig.tight_layout()
    return fig


def _weights_of(obj) -> torch.Tensor:
    if isinstance(obj, CountingModel):
        obj = obj.counter
    if isinstance(obj, Counter):
        return torch.stack([f.weight.detach().cpu() for f in obj.f])
    return torch.as_tensor(obj)


def _curve(w: torch.Tensor, num: int = 101) -> tuple[np.ndarray, np.ndarray]:
    w = w.abs() / w.abs().sum().clamp_min(1e-12)
    x = np.linspace(0, 1, num)
    knots = np.concatenate([[0.0], np.cumsum(w.numpy())])
    return x, np.interp(x, np.linspace(0, 1, len(knots)), knots)


def plot_f_curves(models: Mapping[str, object]) -> Figure:
    """The eight learned functions f₁…f₈ of each counter (CountingModel, Counter or an (8, d) weight tensor).
    """
    fig, axes = plt.subplots(2, 4, figsize=(12, 5.5), sharex=True, sharey=True)
    for name, obj in models.items():
        W = _weights_of(obj)
        for k, ax in enumerate(axes.flat):
            ax.plot(*_curve(W[k]), label=name)
    for k, ax in enumerate(axes.flat):
        ax.plot([0, 1], [0, 1], "k:", lw=0.8)
        ax.set_title(F_ROLES[k], fontsize=9)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_sweep_f(f_weights: Mapping[float, torch.Tensor], which=(0, 1), param: str = "l") -> Figure:
    """Learned f_k (default f₁, f₂) for every sweep value, coloured by the value (cf. the paper's figure)."""
    fig, axes = plt.subplots(1, len(which), figsize=(4.5 * len(which), 3.8))
    axes = np.atleast_1d(axes)
    values = sorted(f_weights)
    cmap = plt.get_cmap("viridis")
    for ax, k in zip(axes, which):
        for v in values:
            ax.plot(*_curve(f_weights[v][k]), color=cmap((v - values[0]) / max(1e-9, values[-1] - values[0])))
        ax.set_title(f"learned {F_ROLES[k]} across the {param} sweep", fontsize=9)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(values[0], values[-1]))
    fig.colorbar(sm, ax=list(axes), label=param)
    return fig


def plot_sweep(metrics: pd.DataFrame, param: str, metric: str = "accuracy", title: str = "") -> Figure:
    """``metric`` vs the swept parameter for every model (one line each)."""
    if param not in metrics.columns or metric not in metrics.columns:
        raise ValueError(f"metrics needs columns {param!r} and {metric!r}; has {list(metrics.columns)}")
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, grp in metrics.groupby("model", sort=False):
        ax.plot(
            grp[param],
            grp[metric],
            "o-" if name == "counter" else ".--",
            lw=2.5 if name == "counter" else 1,
            label=name,
        )
    ax.set_xlabel(param)
    ax.set_ylabel(metric)
    ax.set_title(title or f"{metric} vs {param}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_history(history: pd.DataFrame, title: str = "training loss") -> Figure:
    """Training loss per model from :func:`~course_lib.counting.training.train_models`."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for name, grp in history.groupby("model", sort=False):
        ax.plot(grp["iteration"], grp["loss"], label=name)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cross-entropy")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_tiny_box_iou() -> Figure:
    """Self-IoU of a box vs its side length: official +1e-12 denominator vs the exact (relative) IoU."""
    sides = np.logspace(-8, 0, 60)
    boxes = torch.tensor([[0.25, 0.25, 0.25 + s, 0.25 + s] for s in sides], dtype=torch.float64)[:, None]
    ours = pairwise_iou(boxes)[:, 0, 0].numpy()
    official = pairwise_iou(boxes, abs_eps=1e-12)[:, 0, 0].numpy()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.semilogx(sides, official, label="official: inter / (union + 1e-12)")
    ax.semilogx(sides, ours, "--", label="pairwise_iou (exact ratio)")
    ax.axvline(1e-6, color="gray", ls=":", label="toy minimum side 1e-6")
    ax.set_xlabel("box side")
    ax.set_ylabel("IoU(b, b)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_coins_crop(
    seed: int = 0, model: CountingModel | None = None, nms: NMSCounter | None = None, region: str = "right"
) -> Figure:
    """One random crop of ``coins``: the image, the crop, its top-10 proposals and the counts of each method.
    """
    from course_lib.counting.coins import CoinsCountingDataset, coin_boxes, coins_image

    ds = CoinsCountingDataset(region=region, seed=int(seed))
    batch, crop = ds.batch(1, return_crops=True)
    x0, y0, x1, y1 = crop[0].tolist()
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.4), gridspec_kw={"width_ratios": [1.3, 1]})
    ax0.imshow(coins_image(), cmap="gray")
    for b in coin_boxes().tolist():
        ax0.add_patch(Rectangle((b[0], b[1]), b[2] - b[0], b[3] - b[1], fill=False, ec="tab:green", lw=1))
    ax0.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="tab:red", lw=2.5))
    ax0.set_title("coins: ground-truth boxes (green), crop (red)", fontsize=10)
    ax0.axis("off")
    ax1.imshow(
        coins_image()[int(y0) : int(np.ceil(y1)), int(x0) : int(np.ceil(x1))],
        cmap="gray",
        extent=(0, 1, 1, 0),
    )
    draw_boxes(ax1, batch.boxes[0], batch.attention[0], None, "")
    ax1.grid(False)
    ax1.set_xlabel("crop, rescaled to the unit square", fontsize=8)
    counts = [f"true {int(batch.count)}", f"Σscore {batch.attention.sum().item():.2f}"]
    with torch.no_grad():
        if model is not None:
            counts.append(
                f"counter c {model.counter.count(batch.boxes, batch.attention).item():.2f} → "
                f"{model(batch.boxes, batch.attention).argmax(1).item()}"
            )
        if nms is not None:
            counts.append(f"NMS {nms.count(batch.boxes, batch.attention).item()}")
    ax1.set_title(" | ".join(counts), fontsize=9)
    fig.tight_layout()
    return fig


def plot_metric_bars(metrics: pd.DataFrame, metric: str = "accuracy", title: str = "") -> Figure:
    """Bar chart of one metric per model (rows of :func:`~course_lib.counting.training.evaluate_models`)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    ax.bar(
        metrics["model"],
        metrics[metric],
        color=["tab:green" if m == "counter" else "tab:gray" for m in metrics["model"]],
    )
    for i, v in enumerate(metrics[metric]):
        ax.text(i, v, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel(metric)
    ax.set_title(title or metric)
    ax.tick_params(axis="x", rotation=25)
    fig.tight_layout()
    return fig


def plot_toy_examples(l: float = 0.5, q: float = 0.0, k: int = 4, seed: int = 0) -> Figure:
    """``k`` examples of the toy task (l, q): true objects in green, distractors in blue, text = attention."""
    from course_lib.counting.toy import ToyCountingDataset

    batch = ToyCountingDataset(l, q, seed=seed).batch(k)
    fig, axes = plt.subplots(1, k, figsize=(3.1 * k, 3.3))
    for i, ax in enumerate(np.atleast_1d(axes)):
        c = int(batch.count[i])
        draw_boxes(ax, batch.boxes[i], batch.attention[i], c, f"c = {c}, Σa = {batch.attention[i].sum():.2f}")
    fig.suptitle(f"toy task: l = {l}, q = {q}", fontsize=11)
    fig.tight_layout()
    return fig
