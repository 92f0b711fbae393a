"""Plain plotting functions of the series (each returns a matplotlib Figure; the notebooks wrap some of them
with :func:`course_lib.viz.interactive`)."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from course_lib.relative_position.positions import relative_position_index


def _as_np(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def plot_relative_index(k: int = 2, n: int = 8, query: int | None = None) -> Figure:
    """Heatmap of rel[i, j] = clip(j − i, k) + k (Eq. 3–4) with its values; optionally one query row's buckets."""
    if n < 1 or k < 0:
        raise ValueError(f"need n >= 1 and k >= 0, got n={n}, k={k}")
    rel = relative_position_index(n, n, k).numpy()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [1.25, 1]})
    ax = axes[0]
    im = ax.imshow(rel, cmap="coolwarm", vmin=0, vmax=max(2 * k, 1))
    if n <= 16:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(rel[i, j]), ha="center", va="center", fontsize=8)
    ax.set(xlabel="key position j", ylabel="query position i",
           title=f"rel[i, j] = clip(j − i, {k}) + {k}   ({2 * k + 1} table rows)")
    ax.grid(False)
    fig.colorbar(im, ax=ax, fraction=0.046, label="row of w^K / w^V")
    i = n // 2 if query is None else min(max(query, 0), n - 1)
    axes[1].bar(np.arange(n), rel[i] - k, color=["tab:red" if abs(j - i) >= k else "tab:blue" for j in range(n)])
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set(xlabel="key position j", ylabel="clipped distance clip(j − i, k)",
                title=f"query i = {i}: red keys share a clipped vector", ylim=(-max(k, 1) - 0.5, max(k, 1) + 0.5))
    fig.tight_layout()
    return fig


def plot_attention(weights, q_labels=None, k_labels=None, *, title: str = "attention", ax=None) -> Figure:
    """Heatmap of one (n_q, n_k) attention matrix with optional token labels."""
    w = _as_np(weights)
    if w.ndim != 2:
        raise ValueError(f"weights must be a 2-D (n_q, n_k) matrix, got shape {w.shape}")
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(4, 0.35 * w.shape[1] + 2), max(3, 0.35 * w.shape[0] + 1.5)))
    ax.imshow(w, cmap="viridis", vmin=0, vmax=max(float(w.max()), 1e-6), aspect="auto")
    ax.grid(False)
    if k_labels is not None and len(k_labels) <= 40:
        ax.set_xticks(range(len(k_labels)), k_labels, rotation=90, fontsize=8)
    if q_labels is not None and len(q_labels) <= 40:
        ax.set_yticks(range(len(q_labels)), q_labels, fontsize=8)
    ax.set_title(title)
    return fig if fig is not None else ax.figure


def plot_tables(table_k, table_v=None, *, title: str = "") -> Figure:
    """The learned tables w^K (and w^V) as (2k + 1) × d heatmaps, rows labelled by clipped distance."""
    tabs = [("w^K", _as_np(table_k))] + ([("w^V", _as_np(table_v))] if table_v is not None else [])
    fig, axes = plt.subplots(1, len(tabs), figsize=(5.5 * len(tabs), 4), squeeze=False)
    for ax, (name, t) in zip(axes[0], tabs):
        if t.ndim == 3:  # per-head tables: show head 0
            t = t[0]
        k = (t.shape[0] - 1) // 2
        lim = float(np.abs(t).max()) or 1.0
        im = ax.imshow(t, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_yticks(range(t.shape[0]), [str(d) for d in range(-k, k + 1)], fontsize=7)
        ax.set(xlabel="depth", ylabel="clipped distance j − i", title=f"{name} ({t.shape[0]} × {t.shape[1]})")
        ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_position_accuracy(per_position: dict[str, list[float]], *, train_max: int = 20,
                           title: str = "token accuracy by position (test length)") -> Figure:
    """Accuracy vs position for several models; the shaded region is beyond the training lengths."""
    fig, ax = plt.subplots(figsize=(8, 4))
    n = max(len(v) for v in per_position.values())
    ax.axvspan(train_max - 0.5, n - 0.5, color="0.9", label="positions never seen in training")
    for name, acc in per_position.items():
        ax.plot(np.arange(len(acc)), acc, marker=".", label=name)
    ax.axhline(1 / 10, ls=":", color="0.4", label="chance (1/10)")
    ax.set(xlabel="position i", ylabel="accuracy", ylim=(-0.02, 1.02), title=title)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def plot_loss_curves(curves: dict[str, list[float]], *, smooth: int = 20, title: str = "training loss") -> Figure:
    """Moving-average training losses of several runs."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for name, losses in curves.items():
        x = np.asarray(losses, dtype=float)
        if len(x) >= smooth > 1:
            x = np.convolve(x, np.ones(smooth) / smooth, mode="valid")
        ax.plot(x, label=name)
    ax.set(xlabel="step", ylabel="cross-entropy", yscale="log", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


#: the paper's Table 2 (clipping distance k -> BLEU, newstest2013 En–De base) as recalled, not re-read — verify
PAPER_K_ABLATION = {0: 12.5, 1: 25.5, 2: 25.8, 4: 25.9, 16: 25.8, 64: 25.9, 256: 25.8}


def plot_k_ablation(k_acc: dict[int, float], paper: dict[int, float] | None = None) -> Figure:
    """Our unseen-position accuracy vs clipping distance k, next to the paper's BLEU (recalled — verify)."""
    paper = PAPER_K_ABLATION if paper is None else paper
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ks = sorted(k_acc)
    pos = {k: i for i, k in enumerate(sorted(set(ks) | set(paper)))}
    ax.plot([pos[k] for k in ks], [k_acc[k] for k in ks], "o-", color="tab:blue", label="ours: offset task, unseen")
    ax.set(ylabel="accuracy (ours)", ylim=(0, 1.05), xlabel="clipping distance k")
    ax2 = ax.twinx()
    pk = sorted(paper)
    ax2.plot([pos[k] for k in pk], [paper[k] for k in pk], "s--", color="tab:orange",
             label="paper Table 2 BLEU (recalled — verify)")
    ax2.set_ylabel("BLEU (paper)")
    ax2.grid(False)
    ax.set_xticks(list(pos.values()), [str(k) for k in pos])
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="lower right")
    ax.set_title("clipping ablation")
    fig.tight_layout()
    return fig


def plot_timing(table: pd.DataFrame, *, title: str = "forward + backward time relative to the baseline",
                goal: float | None = 1.3) -> Figure:
    """Ratio (ours / baseline) vs n per candidate from ``efficiency.timing_table`` (log axes)."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for name, grp in table.groupby("candidate", sort=False):
        ax.plot(grp["n"], grp["ratio"], "o-", label=name)
    if goal is not None:
        ax.axhline(goal, ls=":", color="k", label=f"goal {goal}×")
    ax.set(xscale="log", yscale="log", xlabel="sequence length n", ylabel="time ratio", title=title)
    ax.minorticks_off()
    ax.set_xticks(sorted(table["n"].unique()), [str(n) for n in sorted(table["n"].unique())])
    lo, hi = float(table["ratio"].min()), float(table["ratio"].max())
    ticks = [t for t in (0.5, 0.75, 1, 1.3, 1.5, 2, 3, 5, 10, 20, 50, 100) if lo * 0.8 <= t <= hi * 1.25]
    ax.set_yticks(ticks, [f"{t:g}×" for t in ticks])
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def plot_memory(table: pd.DataFrame, *, batch: int = 8, heads: int = 4, d_head: int = 32) -> Figure:
    """Measured saved-for-backward memory per formulation vs n, with the b·h·n²·d and n²·d growth lines."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for impl, grp in table.groupby("impl", sort=False):
        ax.plot(grp["n"], grp["saved MB"], "o-", label=f"{impl} (measured)")
    ns = np.array(sorted(table["n"].unique()), dtype=float)
    ax.plot(ns, 2 * batch * heads * ns ** 2 * d_head * 4 / 2 ** 20, "k:", label="2·b·h·n²·d floats")
    ax.plot(ns, 2 * ns ** 2 * d_head * 4 / 2 ** 20, "k--", label="2·n²·d floats")
    ax.plot(ns, batch * heads * ns ** 2 * 4 / 2 ** 20, "k-.", label="b·h·n² floats (probabilities)")
    ax.set(xscale="log", yscale="log", xlabel="sequence length n", ylabel="MB kept for backward",
           title=f"memory of one attention layer (b={batch}, h={heads}, d={d_head})")
    ax.set_xticks(ns, [str(int(n)) for n in ns])
    ax.minorticks_off()
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_bleu_by_length(frames: dict[str, pd.DataFrame], *, column: str = "BLEU",
                        title: str = "BLEU by source length (words)") -> Figure:
    """Grouped bars of a per-bucket metric (``translation.bleu_by_length`` or ``loss_by_length``) per scheme."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    names = list(frames)
    buckets = list(next(iter(frames.values())).index)
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        vals = [frames[name][column].get(b, math.nan) for b in buckets]
        ax.bar(np.arange(len(buckets)) + i * width, vals, width, label=name)
    counts = next(iter(frames.values()))["sentences"]
    ax.set_xticks(np.arange(len(buckets)) + width * (len(names) - 1) / 2,
                  [f"{b}\n(n={counts[b]})" for b in buckets])
    ax.set(ylabel=column, title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_translation_attention(source_tokens, target_tokens, cross, self_attn=None, *, head: int = 0) -> Figure:
    """Cross-attention (target × source) and decoder self-attention (target × target) of one head."""
    panels = [("encoder–decoder attention", cross, source_tokens)]
    if self_attn is not None:
        panels.append(("decoder self-attention (relative)", self_attn, target_tokens))
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), max(3.5, 0.3 * len(target_tokens) + 2)),
                             squeeze=False)
    for ax, (name, w, keys) in zip(axes[0], panels):
        plot_attention(w, target_tokens, keys, title=f"{name}, head {head}", ax=ax)
    fig.tight_layout()
    return fig


@torch.no_grad()
def plot_tagger_attention(model, length: int = 40, head: int = 0, *, task: str = "offset", train_max: int = 20,
                          seed: int = 0, name: str = "") -> Figure:
    """First-layer attention of a trained tagger on one random sequence, with per-position correctness.

    For the offset task a model that found the rule puts its weight on the diagonal j = i − 2 at every
    position, including those beyond the training lengths (right of the dashed line).
    """
    from course_lib.relative_position.tasks import make_batch

    n_heads = model.cfg.num_heads
    if not 0 <= head < n_heads:
        raise ValueError(f"head must be in [0, {n_heads}), got {head}")
    x, y = make_batch(task, 1, length, generator=torch.Generator().manual_seed(seed),
                      device=next(model.parameters()).device)
    logits, weights = model(x, need_weights=True)
    correct = (logits.argmax(-1) == y)[0].float().cpu().numpy()
    fig, axes = plt.subplots(2, 1, figsize=(7, 8), gridspec_kw={"height_ratios": [5, 1]}, sharex=True)
    plot_attention(weights[0][0, head], title=f"{name} head {head}: attention of query i (rows) over keys j",
                   ax=axes[0])
    for ax in axes:
        ax.axvline(train_max - 0.5, color="w" if ax is axes[0] else "k", ls="--", lw=1)
    axes[0].axhline(train_max - 0.5, color="w", ls="--", lw=1)
    axes[0].set_ylabel("query position i")
    axes[1].bar(np.arange(length), correct, color=["tab:green" if c else "tab:red" for c in correct])
    unseen = correct[train_max:].mean() if length > train_max else float("nan")
    axes[1].set(xlabel="position", ylabel="correct", yticks=[0, 1],
                title=f"accuracy {correct.mean():.2f} (positions ≥ {train_max}: {unseen:.2f})")
    fig.tight_layout()
    return fig
