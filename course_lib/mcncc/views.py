"""Plots of the MCNCC series. Every function returns a matplotlib ``Figure``; the notebooks wrap them with
``course_lib.viz.interactive`` (:class:`MatchExplorer` holds the state of the interactive notebook)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from course_lib.mcncc import metrics, search
from course_lib.mcncc.experiments import SCORE_LABELS, ChannelCorruption
from course_lib.mcncc.ncc import sliding_scores


def plot_pairs(references: np.ndarray, queries: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None,
               labels: Sequence[int], n: int = 6, title: str = "") -> Figure:
    """Top row: lab references; bottom row: the crime-scene query of each (invalid pixels grey)."""
    n = min(n, len(queries))
    fig, ax = plt.subplots(2, n, figsize=(1.6 * n, 5.2), squeeze=False)
    for i in range(n):
        ax[0, i].imshow(references[labels[i]], cmap="gray", vmin=0, vmax=1)
        ax[0, i].set_title(f"reference {labels[i]}", fontsize=8)
        q = np.asarray(queries[i], float).copy()
        if masks is not None:
            q[~np.asarray(masks[i], bool)] = 0.5
        ax[1, i].imshow(q, cmap="gray", vmin=0, vmax=1)
        ax[1, i].set_title(f"query {i}", fontsize=8)
    for a in ax.flat:
        a.axis("off")
    fig.suptitle(title or "lab references (top) and crime-scene queries (bottom)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_feature_maps(image: np.ndarray, feats: torch.Tensor, channels: Sequence[int] = (0, 2, 4, 6, 8, 12),
                      title: str = "") -> Figure:
    """The image and a few of its feature channels."""
    f = feats.detach().cpu().numpy()
    f = f[0] if f.ndim == 4 else f
    fig, ax = plt.subplots(1, len(channels) + 1, figsize=(1.7 * (len(channels) + 1), 3.4))
    ax[0].imshow(image, cmap="gray")
    ax[0].set_title("image", fontsize=8)
    for a, c in zip(ax[1:], channels):
        a.imshow(f[c], cmap="magma")
        a.set_title(f"channel {c}", fontsize=8)
    for a in ax:
        a.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_cmc(score_sets: Mapping[str, np.ndarray], labels, title: str = "CMC", percent: bool = True) -> Figure:
    """CMC curves (fraction of queries whose true match is within the top k) of several score matrices."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, s in score_sets.items():
        s = np.asarray(s)
        curve = metrics.cmc_curve(metrics.ranks(s, labels), s.shape[1])
        x = 100.0 * np.arange(1, s.shape[1] + 1) / s.shape[1] if percent else np.arange(1, s.shape[1] + 1)
        ax.plot(x, curve, marker=".", label=SCORE_LABELS.get(name, name))
    n = np.asarray(next(iter(score_sets.values()))).shape[1]
    x = 100.0 * np.arange(1, n + 1) / n if percent else np.arange(1, n + 1)
    ax.plot(x, np.arange(1, n + 1) / n, color="gray", ls=":", label="chance")
    ax.set_xlabel("top k (% of the gallery)" if percent else "top k")
    ax.set_ylabel("fraction of queries matched")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_channel_maps(maps: torch.Tensor, best: tuple[int, int] | None = None, ncols: int = 8,
                      title: str = "per-channel NCC maps") -> Figure:
    """Per-channel NCC maps (C, H', W') over all offsets (colour −1 … 1) and their mean (the MCNCC map)."""
    m = maps.detach().cpu().numpy()
    c = m.shape[0]
    rows = int(np.ceil((c + 1) / ncols))
    fig, ax = plt.subplots(rows, ncols, figsize=(1.4 * ncols, 1.9 * rows), squeeze=False)
    panels = [*(m[k] for k in range(c)), m.mean(0)]
    names = [*(f"r_{k}" for k in range(c)), "MCNCC"]
    for a, p, nm in zip(ax.flat, panels, names):
        a.imshow(p, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        a.set_title(nm, fontsize=7)
        if best is not None:
            a.plot(best[1], best[0], "k+", ms=8)
    for a in ax.flat:
        a.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


class MatchExplorer:
    """One query against the gallery with the full search, under a user-chosen per-channel corruption of the
    query's features: ranked references per score, per-channel NCC maps and the best alignment."""

    def __init__(self, queries, masks, references, labels, extractor, angles, pad: int = 4, names=None):
        self.queries, self.masks = list(queries), masks
        self.references = np.asarray(references, np.float32)
        self.labels = np.asarray(labels)
        self.extractor, self.angles, self.pad = extractor, tuple(angles), pad
        self.ref_feats = search.prepare_references(self.references, extractor, pad)
        self.names = names
        self._cache: dict = {}

    def corrupted(self, gain_low: float, gain_high: float, offset: float):
        """The extractor with gains ``gain_low`` on the first half of the channels, ``gain_high`` on the second
        half, and ``offset`` added to every channel."""
        c = self.ref_feats.shape[1]
        gains = np.r_[np.full(c // 2, gain_low), np.full(c - c // 2, gain_high)]
        return ChannelCorruption(self.extractor, gains, np.full(c, offset))

    def run(self, query: int, gain_low: float = 1.0, gain_high: float = 1.0, offset: float = 0.0):
        key = (query, round(gain_low, 4), round(gain_high, 4), round(offset, 4))
        if key not in self._cache:
            ext = self.corrupted(gain_low, gain_high, offset)
            fit = (self.references.shape[1] + 2 * self.pad, self.references.shape[2] + 2 * self.pad)
            m = None if self.masks is None else self.masks[query]
            tpl, tm, _ = search.query_templates(self.queries[query], m, self.angles, ext, fit)
            res = search.search(tpl, tm, self.ref_feats)
            self._cache = {key: (tpl, tm, res)}
        return self._cache[key]

    def figure(self, query: int = 0, gain_low: float = 1.0, gain_high: float = 1.0, offset: float = 0.0,
               score: str = "mcncc") -> Figure:
        """Query, top-5 references by ``score``, the true reference's rank under every score, the per-channel
        NCC maps of the true reference at MCNCC's best rotation, and the best alignment."""
        tpl, tm, res = self.run(query, gain_low, gain_high, offset)
        true = int(self.labels[query])
        s = res.scores[score]
        order = np.argsort(-s)
        fig = plt.figure(figsize=(11, 6.2))
        grid = fig.add_gridspec(2, 7)
        ax = fig.add_subplot(grid[0, 0])
        q = np.asarray(self.queries[query], float)
        ax.imshow(q, cmap="gray")
        ax.set_title(f"query {query}", fontsize=9)
        ax.axis("off")
        for i, j in enumerate(order[:5]):
            a = fig.add_subplot(grid[0, i + 1])
            a.imshow(self.references[j], cmap="gray", vmin=0, vmax=1)
            ok = j == true
            a.set_title(f"#{i + 1} {'✔' if ok else ''} {s[j]:.3f}", fontsize=8, color="green" if ok else "black")
            a.axis("off")
        a = fig.add_subplot(grid[0, 6])
        ranks = {SCORE_LABELS[k].split(" [")[0]: metrics.ranks(res.scores[k][None], [true])[0] for k in res.scores}
        a.barh(list(ranks), list(ranks.values()), color=["tab:red" if v > 1 else "tab:green" for v in ranks.values()])
        a.set_xlabel("rank of the true reference", fontsize=8)
        a.tick_params(labelsize=7)
        a.set_xlim(0, len(self.references))
        # per-channel maps of the true reference at MCNCC's best rotation
        r_best = int(res.where["mcncc"][true, 0])
        maps = sliding_scores(self.ref_feats[true:true + 1], tpl[r_best:r_best + 1], tm[r_best:r_best + 1],
                              scores=("mcncc",), channels=True).channels[0, 0]
        nc = self.ref_feats.shape[1]
        for k, c in enumerate((0, nc // 4, nc // 2, (3 * nc) // 4)):
            a = fig.add_subplot(grid[1, k])
            a.imshow(maps[c].numpy(), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
            a.set_title(f"r_{c} (true ref)", fontsize=8)
            a.axis("off")
        a = fig.add_subplot(grid[1, 4])
        a.imshow(maps.mean(0).numpy(), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        a.plot(res.where["mcncc"][true, 2], res.where["mcncc"][true, 1], "k+", ms=10)
        a.set_title("MCNCC map", fontsize=8)
        a.axis("off")
        a = fig.add_subplot(grid[1, 5:])
        self._draw_alignment(a, query, true, res)
        fig.suptitle(f"query {query} · score {SCORE_LABELS.get(score, score)} · gains {gain_low:g} / {gain_high:g}"
                     f", offset {offset:g}", fontsize=10)
        fig.tight_layout()
        return fig

    def _draw_alignment(self, ax, query: int, ref: int, res) -> None:
        r, u, v = (int(x) for x in res.where["mcncc"][ref])
        stride = self.extractor.stride if hasattr(self.extractor, "stride") else 2
        fit = (self.references.shape[1] + 2 * self.pad, self.references.shape[2] + 2 * self.pad)
        m = None if self.masks is None else self.masks[query]
        canv, cm, _ = search.query_canvases(self.queries[query], m, self.angles, fit)
        padded = np.pad(self.references[ref], self.pad, constant_values=1.0)
        rgb = np.stack([padded] * 3, -1)
        y0, x0 = u * stride, v * stride
        h, w = min(canv.shape[1], padded.shape[0] - y0), min(canv.shape[2], padded.shape[1] - x0)
        patch = canv[r, :h, :w]
        ok = cm[r, :h, :w]
        norm = (patch - patch[ok].min()) / max(np.ptp(patch[ok]), 1e-6)
        rgb[y0:y0 + h, x0:x0 + w, 0] = np.where(ok, norm, rgb[y0:y0 + h, x0:x0 + w, 0])
        ax.imshow(rgb)
        ax.set_title(f"best MCNCC alignment, true ref ({self.angles[r]:+.0f}°)", fontsize=8)
        ax.axis("off")


def pipeline_diagram():
    """The series' data-flow diagram (``course_lib.diagrams.draw_diagram``): query and references → features →
    masked per-channel NCC at every offset and rotation → mean over channels → max over placements → ranking."""
    from course_lib.diagrams import draw_diagram

    nodes = [("q", "crime-scene query\n+ validity mask", "data"), ("rot", "rotate ×R\n(mask too)", "op"),
             ("ref", "lab references\n(padded, batched ×N)", "data"), ("fq", "features\n(Gabor / CNN)", "model"),
             ("fr", "features\n(Gabor / CNN)", "model"),
             ("ncc", "masked NCC per channel\nat every offset (FFT)", "op"),
             ("avg", "mean over channels\n$\\frac{1}{C}\\sum_c r_c$ (or $\\sum_c w_c r_c$)", "op"),
             ("max", "max over offsets\nand rotations", "op"), ("rank", "rank the N references\n→ CMC", "loss")]
    edges = [("q", "rot"), ("rot", "fq"), ("ref", "fr"), ("fq", "ncc", "templates (R, C, h, w)"),
             ("fr", "ncc", "images (N, C, H, W)"), ("ncc", "avg", "(N, R, C, H', W')"), ("avg", "max"),
             ("max", "rank", "(N,)")]
    return draw_diagram(nodes, edges, direction="LR", title="MCNCC retrieval: one query against the gallery")
