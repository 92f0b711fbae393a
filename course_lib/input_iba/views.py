"""Plotting functions of the InputIBA series (each returns a matplotlib Figure; notebook 3 wraps
:meth:`Explorer.figure` in ``course_lib.viz.interactive``)."""
from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from course_lib import attribution as A

SHORT = {"IntegratedGradients": "IG", "GuidedBackprop": "Guided BP", "DeepLiftShap": "DeepLiftShap",
         "GAN prior λ_G": "λ_G (GAN prior)", "feature capacity": "feature capacity"}


def _short(name: str) -> str:
    return SHORT.get(name, name)


def _img(x) -> np.ndarray:
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return x[0] if x.ndim == 3 else x


def plot_maps(images, maps: Mapping[str, object], masks=None, *, index: Sequence[int] = (0,),
              titles: Mapping[str, str] | None = None) -> Figure:
    """Images (rows) × methods (columns): the canvas with the ground-truth outline, then each method's map
    (per-map colour scale, [min, max]); ``maps[name]`` is (N, H, W). ``titles`` add a line under a method's name."""
    names = list(maps)
    rows = len(index)
    fig, axes = plt.subplots(rows, len(names) + 1, figsize=(1.6 * (len(names) + 1), 1.75 * rows + 0.3),
                             squeeze=False)
    for r, i in enumerate(index):
        ax = axes[r, 0]
        ax.imshow(_img(images[i]), cmap="gray")
        if masks is not None:
            ax.contour(np.asarray(masks[i], float), levels=[0.5], colors="tab:red", linewidths=0.8)
        ax.set_title("canvas" if r == 0 else "", fontsize=8)
        for c, name in enumerate(names, 1):
            m = np.asarray(maps[name][i].detach().cpu() if isinstance(maps[name], torch.Tensor) else maps[name][i])
            axes[r, c].imshow(m, cmap="inferno")
            if r == 0:
                extra = f"\n{titles[name]}" if titles and name in titles else ""
                axes[r, c].set_title(_short(name) + extra, fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_metric_bars(table: pd.DataFrame, metrics: Sequence[str] = ("mask AUROC", "energy in mask",
                                                                    "deletion AUC", "insertion AUC")) -> Figure:
    """One panel per metric: a bar per method (mean) with its standard error, from
    :func:`~course_lib.input_iba.experiments.summary_table`."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.3 * len(metrics), 3.6), squeeze=False)
    colours = ["0.6" if m == "random" else ("tab:red" if m in ("InputIBA", "IBA") else "tab:blue")
               for m in table.index]
    for ax, metric in zip(axes[0], metrics):
        ax.barh(range(len(table)), table[metric], xerr=table[f"{metric} s.e."], color=colours)
        ax.set_yticks(range(len(table)), [_short(m) for m in table.index], fontsize=8)
        ax.invert_yaxis()
        arrow = "↓" if "deletion" in metric else "↑"
        ax.set_title(f"{metric} {arrow}", fontsize=9)
    fig.tight_layout()
    return fig


def plot_curves(curves: Mapping[str, np.ndarray], kind: str = "deletion", ax=None) -> Figure:
    """Deletion or insertion curves (target probability vs fraction of pixels perturbed), AUC in the legend."""
    fig = ax.figure if ax is not None else plt.figure(figsize=(4.2, 3.2))
    ax = ax or fig.add_subplot(111)
    for name, c in curves.items():
        c = np.asarray(c, float)
        x = np.linspace(0, 1, len(c))
        ax.plot(x, c, lw=2 if name in ("InputIBA", "IBA") else 1,
                ls="--" if name == "random" else "-", label=f"{_short(name)} [{np.trapezoid(c, x):.3f}]")
    ax.set(xlabel="fraction of pixels " + ("removed (MoRF)" if kind == "deletion" else "restored (MoRF)"),
           ylabel="target probability", title=f"{kind} curve " + ("(lower AUC better)" if kind == "deletion"
                                                                  else "(higher AUC better)"), ylim=(-0.02, 1.02))
    ax.legend(fontsize=6.5)
    fig.tight_layout()
    return fig


def plot_sanity(sanity: pd.DataFrame) -> Figure:
    """Cascading randomisation: Spearman rank correlation of |map| with the trained model's, per method, as
    layers are re-initialised top-down (x-axis: the last layer re-initialised)."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for name, f in sanity.groupby("method", sort=False):
        ax.errorbar(f["layers"], f["spearman"], yerr=f["s.e."], marker="o", ms=3, capsize=2,
                    lw=2 if name in ("InputIBA", "IBA") else 1, label=_short(name))
    first = sanity[sanity.method == sanity.method.iloc[0]]
    ax.set_xticks(first["layers"], first["randomised up to"], fontsize=8, rotation=20)
    ax.axhline(0, color="k", lw=0.6)
    ax.set(ylabel="Spearman(|map|, trained |map|)", title="cascading randomisation (Adebayo et al. 2018)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_kl(lams: np.ndarray | None = None, r_norm: float = 1.0,
            lam_gs: Sequence[float] = (0.0, 0.5, 0.9, 0.99)) -> Figure:
    """Left: IBA's per-element KL against λ for several r̃. Right: InputIBA's KL against Λ for several λ_G at
    I − μ = ``r_norm`` σ (λ_G = 0 is IBA's curve; λ_G → 1 flattens it to 0)."""
    from course_lib.input_iba.attributor import input_iba_kl
    from course_lib.input_iba.bottleneck import iba_kl

    lams = np.linspace(0, 0.99, 200) if lams is None else np.asarray(lams)
    lam_t = torch.as_tensor(lams, dtype=torch.float64)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.3))
    for r in (0.0, 1.0, 2.0, 3.0):
        a.plot(lams, iba_kl(torch.full_like(lam_t, r), lam_t, 0.0, 1.0).numpy(), label=f"r̃ = {r:g}")
    a.set(xlabel="λ", ylabel="KL [nats]", title="IBA: KL(P(Z|R) ‖ N(μ_R, σ_R²))")
    a.legend(fontsize=8)
    for g in lam_gs:
        kl = input_iba_kl(torch.full_like(lam_t, r_norm), lam_t, torch.full_like(lam_t, g)).numpy()
        b.plot(lams, kl, label=f"λ_G = {g:g}")
    b.set(xlabel="Λ", ylabel="KL [nats]", title=f"InputIBA: KL with the GAN prior (I − μ = {r_norm:g}σ)")
    b.legend(fontsize=8)
    fig.tight_layout()
    return fig


class Explorer:
    """Notebook 3's model: one CNN, a few correctly classified canvases, their Captum maps (computed once per
    image) and IBA / InputIBA for a chosen β, bottleneck layer and number of steps (memoised)."""

    def __init__(self, model: torch.nn.Module, data, *, peers: Sequence[str] = ("Saliency", "IntegratedGradients",
                                                                               "GradCAM", "GuidedBackprop"),
                 gan_epochs: int = 2, stats_images: int = 500, deletion_steps: int = 16):
        self.model, self.data, self.peers = model, data, tuple(peers)
        self.gan_epochs, self.stats_images, self.deletion_steps = gan_epochs, stats_images, deletion_steps
        self._stats = functools.lru_cache(maxsize=8)(self._stats_uncached)
        self._ours = functools.lru_cache(maxsize=32)(self._ours_uncached)
        self._peer_maps = functools.lru_cache(maxsize=32)(self._peers_uncached)

    def _stats_uncached(self, layer: str):
        from course_lib.input_iba.experiments import layer_stats

        return layer_stats(self.model, layer, n=self.stats_images)

    def _peers_uncached(self, image: int) -> dict[str, torch.Tensor]:
        from course_lib.input_iba.peers import explain

        x, y = self.data.images[image:image + 1], self.data.labels[image:image + 1]
        return {name: explain(name, self.model, x, y)[0] for name in self.peers}

    def _ours_uncached(self, image: int, beta: float, layer: str, steps: int) -> dict[str, torch.Tensor]:
        from course_lib.input_iba.attributor import FAST, explain_batch, iba_attribution
        from course_lib.input_iba.prior import GANConfig

        x, y = self.data.images[image:image + 1], self.data.labels[image:image + 1]
        stats = self._stats(layer)
        iba_map = iba_attribution(self.model, x, y, stats, layer=layer, beta=beta, steps=steps, seed=0).capacity
        res = explain_batch(self.model, x, y, stats, config=FAST, seed=0, layer=layer, feat_beta=beta,
                            feat_steps=steps, gan=GANConfig(epochs=self.gan_epochs))
        return {"IBA": iba_map[0], "GAN prior λ_G": res.lambda_g[0], "InputIBA": res.input_mask[0]}

    def maps(self, image: int = 0, beta: float = 10.0, layer: str = "pool1", steps: int = 10) -> dict:
        """Every map of one canvas: IBA, λ_G, InputIBA (for these settings) and the Captum peers."""
        image = int(np.clip(image, 0, len(self.data) - 1))
        return {**self._ours(image, float(beta), layer, int(steps)), **self._peer_maps(image)}

    def figure(self, image: int = 0, beta: float = 10.0, layer: str = "pool1", steps: int = 10) -> Figure:
        """Top: the canvas and every map (mask AUROC / energy in the titles). Bottom: the chosen canvas's deletion
        and insertion curves (to / from the background level) for every method."""
        image = int(np.clip(image, 0, len(self.data) - 1))
        maps = self.maps(image, beta, layer, steps)
        names = list(maps)
        stack = torch.stack([maps[n].float().cpu() for n in names])
        masks = self.data.masks[image:image + 1].expand(len(names), -1, -1)
        auroc, energy = A.mask_auroc(stack, masks), A.energy_in_mask(stack, masks)
        x = self.data.images[image:image + 1].expand(len(names), -1, -1, -1)
        y = self.data.labels[image:image + 1].expand(len(names))
        kw = dict(baseline="background", background=self.data.background, steps=self.deletion_steps)
        dele = A.insertion_deletion(self.model, x, stack, y, "deletion", **kw)["curves"]
        ins = A.insertion_deletion(self.model, x, stack, y, "insertion", **kw)["curves"]
        fig = plt.figure(figsize=(1.55 * (len(names) + 1), 5.6))
        gs = fig.add_gridspec(2, len(names) + 1, height_ratios=[1, 1.5])
        ax = fig.add_subplot(gs[0, 0])
        ax.imshow(_img(self.data.images[image]), cmap="gray")
        ax.contour(self.data.masks[image].numpy().astype(float), levels=[0.5], colors="tab:red", linewidths=0.8)
        ax.set_title(f"canvas {image}: digit {int(self.data.labels[image])}", fontsize=8)
        ax.axis("off")
        for c, name in enumerate(names, 1):
            ax = fig.add_subplot(gs[0, c])
            ax.imshow(stack[c - 1].numpy(), cmap="inferno")
            ax.set_title(f"{_short(name)}\nAUROC {auroc[c - 1]:.2f} · E {energy[c - 1]:.2f}", fontsize=7)
            ax.axis("off")
        half = (len(names) + 1) // 2
        plot_curves(dict(zip(names, dele)), "deletion", ax=fig.add_subplot(gs[1, :half]))
        plot_curves(dict(zip(names, ins)), "insertion", ax=fig.add_subplot(gs[1, half:]))
        fig.suptitle(f"β = {beta:g}, bottleneck {layer}, {steps} IBA steps", fontsize=10)
        fig.tight_layout()
        return fig
