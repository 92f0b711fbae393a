"""Plotting functions of the LIM-Net notebooks (each returns a matplotlib Figure) and the click panel.

Interactive views in the notebooks are ``course_lib.viz.interactive(fn, **controls)`` around these functions.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from course_lib.lim_net.clicks import Click
from course_lib.lim_net.mrf import slice_errors

METHOD_STYLE = {
    "LIM-Net (MRF)": dict(color="C0", marker="o"), "LIM-Net (no MRF)": dict(color="C1", marker="s"),
    "LIM-Net (oracle MRF)": dict(color="C2", marker="^", ls="--"), "2D + copy nearest": dict(color="C7", marker="x"),
    "random walker": dict(color="C3", marker="d"), "3D U-Net": dict(color="C4", marker="v"),
}


def _clicks_on(ax, clicks: Sequence[Click], z: int | None = None, size: float = 60) -> None:
    for c in clicks:
        if z is None or c.z == z:
            ax.scatter([c.x], [c.y], s=size, c="lime" if c.positive else "red", marker="o" if c.positive else "X",
                       edgecolors="k", linewidths=0.8, zorder=5)


def plot_click_maps(image2d, maps, clicks: Sequence[Click] = (), title: str = "") -> Figure:
    """Slice with its clicks, and the positive / negative click maps (:func:`~course_lib.lim_net.clicks.point_maps`)."""
    maps = np.asarray(maps)
    if maps.ndim != 3 or maps.shape[0] != 2:
        raise ValueError(f"maps must be (2, H, W), got {maps.shape}")
    fig, ax = plt.subplots(1, 3, figsize=(9, 3.2))
    ax[0].imshow(image2d, cmap="gray", vmin=0, vmax=1)
    _clicks_on(ax[0], clicks)
    ax[0].set_title(title or "slice + clicks")
    for a, m, name in zip(ax[1:], maps, ("positive map", "negative map")):
        a.imshow(m, cmap="magma", vmin=0, vmax=1)
        a.set_title(name)
    for a in ax:
        a.axis("off")
    fig.tight_layout()
    return fig


def plot_affinity(similarity, weights, title: str = "") -> Figure:
    """Heatmaps of a small affinity matrix S (Eq. 1) and its top-k softmax weights W (Eq. 2), memory x query."""
    s, w = np.asarray(similarity), np.asarray(weights)
    fig, ax = plt.subplots(1, 2, figsize=(8, 3.4))
    for a, m, name, cmap in ((ax[0], s, "S = -|k_M - k_Q|^2 / sqrt(C_k)", "viridis"), (ax[1], w, "W (top-k softmax)",
                                                                                          "Blues")):
        im = a.imshow(m, cmap=cmap, aspect="auto")
        a.set_xlabel("query j")
        a.set_ylabel("memory i")
        a.set_title(name, fontsize=9)
        a.grid(False)
        fig.colorbar(im, ax=a, fraction=0.046)
        if m.size <= 64:
            for (i, j), v in np.ndenumerate(m):
                a.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="w" if cmap == "viridis" else "k")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_slices(image, gt=None, pred=None, zs: Sequence[int] | None = None, clicks: Sequence[Click] = (),
                title: str = "") -> Figure:
    """Montage of slices ``zs`` with the ground truth (green contour) and a prediction (orange overlay)."""
    image = np.asarray(image)
    Z = image.shape[0]
    zs = list(zs) if zs is not None else list(np.linspace(0, Z - 1, min(6, Z)).round().astype(int))
    fig, ax = plt.subplots(1, len(zs), figsize=(2.2 * len(zs), 2.5), squeeze=False)
    for a, z in zip(ax[0], zs):
        a.imshow(image[z], cmap="gray", vmin=0, vmax=1)
        if pred is not None and np.asarray(pred)[z].any():
            a.imshow(np.ma.masked_where(~np.asarray(pred, bool)[z], np.ones_like(image[z])), cmap="autumn",
                     alpha=0.45, vmin=0, vmax=1)
        if gt is not None and np.asarray(gt)[z].any():
            a.contour(np.asarray(gt)[z], levels=[0.5], colors="lime", linewidths=1)
        _clicks_on(a, clicks, z, 40)
        a.set_title(f"z={z}", fontsize=9)
        a.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_dice_curves(curve_table: pd.DataFrame, test_set: str, methods: Sequence[str] | None = None,
                     title: str = "", ax=None) -> Figure:
    """Mean Dice vs round for each method of one test set (``curve_table`` from ``experiments.curves``)."""
    cols = [c for c in curve_table.columns if c[0] == test_set and (methods is None or c[1] in methods)]
    if not cols:
        raise ValueError(f"no curves for test set {test_set!r}")
    fig = ax.figure if ax is not None else plt.figure(figsize=(6, 3.8))
    ax = ax or fig.gca()
    for col in cols:
        ax.plot(curve_table.index, curve_table[col], label=col[1], **METHOD_STYLE.get(col[1], {}))
    ax.set_xlabel("round (one click per round)")
    ax.set_ylabel("mean 3D Dice")
    ax.set_title(title or test_set)
    ax.set_xticks(list(curve_table.index))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_volume_view(image, mask, z: int, gt=None, clicks: Sequence[Click] = (), title: str = "") -> Figure:
    """One slice with prediction and clicks (left) and the per-slice error along z, ``z`` marked (right)."""
    image, mask = np.asarray(image), np.asarray(mask, bool)
    Z = image.shape[0]
    if not 0 <= z < Z:
        raise ValueError(f"z={z} outside 0..{Z - 1}")
    fig, ax = plt.subplots(1, 2, figsize=(9, 4), gridspec_kw={"width_ratios": [1, 1.2]})
    ax[0].imshow(image[z], cmap="gray", vmin=0, vmax=1)
    if mask[z].any():
        ax[0].imshow(np.ma.masked_where(~mask[z], np.ones_like(image[z])), cmap="autumn", alpha=0.45, vmin=0, vmax=1)
    if gt is not None and np.asarray(gt)[z].any():
        ax[0].contour(np.asarray(gt)[z], levels=[0.5], colors="lime", linewidths=1)
    _clicks_on(ax[0], clicks, z)
    ax[0].set_title(title or f"slice z={z} (orange: prediction, green: reference)", fontsize=9)
    ax[0].axis("off")
    ax[1].plot(mask.sum(axis=(1, 2)), label="predicted area", color="C1")
    if gt is not None:
        gt = np.asarray(gt, bool)
        ax[1].plot(gt.sum(axis=(1, 2)), label="reference area", color="C2")
        ax[1].plot(slice_errors(mask, gt), label="errors (FP+FN)", color="C3")
    for c in clicks:
        ax[1].axvline(c.z, color="lime" if c.positive else "red", lw=0.8, alpha=0.7)
    ax[1].axvline(z, color="k", lw=1.5, ls="--")
    ax[1].set_xlabel("slice z")
    ax[1].set_ylabel("pixels")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_attention(image, frames: Sequence[tuple[int, str]], weights, z: int, y: int, x: int,
                   max_frames: int = 6) -> Figure:
    """Query slice with pixel ``(y, x)`` marked, and the memory frames with that pixel's affinity weights."""
    image = np.asarray(image)
    w = np.asarray(weights)
    n = min(len(frames), max_frames)
    fig, ax = plt.subplots(1, n + 1, figsize=(2.3 * (n + 1), 2.7))
    ax[0].imshow(image[z], cmap="gray", vmin=0, vmax=1)
    ax[0].scatter([x], [y], c="cyan", s=60, marker="+")
    ax[0].set_title(f"query z={z}", fontsize=9)
    H, W = image.shape[-2:]
    vmax = max(float(w.max()), 1e-6)
    for a, (zf, kind), wf in zip(ax[1:], frames[:n], w[:n]):
        a.imshow(image[zf], cmap="gray", vmin=0, vmax=1)
        a.imshow(wf, cmap="hot", alpha=0.6, extent=(-0.5, W - 0.5, H - 0.5, -0.5), vmin=0, vmax=vmax)
        a.set_title(f"{kind} z={zf}\nsum w={wf.sum():.2f}", fontsize=8)
    for a in ax:
        a.axis("off")
    fig.tight_layout()
    return fig


def plot_mrf_choice(prev, new, fused, gt, took_new=None, title: str = "") -> Figure:
    """Per-slice errors of round t, round t+1 and the fused result; shading marks slices that kept round t."""
    e_p, e_n, e_f = (slice_errors(m, gt) for m in (prev, new, fused))
    fig, ax = plt.subplots(figsize=(7, 3.2))
    z = np.arange(len(e_p))
    ax.plot(z, e_p, label="round t", color="C1")
    ax.plot(z, e_n, label="round t+1", color="C0")
    ax.plot(z, e_f, label="fused", color="k", ls="--")
    if took_new is not None:
        for zz in np.flatnonzero(~np.asarray(took_new)):
            ax.axvspan(zz - 0.5, zz + 0.5, color="C1", alpha=0.12, lw=0)
    ax.set_xlabel("slice z")
    ax.set_ylabel("errors (FP+FN)")
    ax.set_title(title or "MRF: per-slice selection (shaded: kept round t)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_training_history(history: pd.DataFrame) -> Figure:
    """Loss vs iteration of each trained network (the history returned by ``checkpoint.train_all``)."""
    nets = [n for n in history["net"].unique() if history.loc[history["net"] == n, "loss"].notna().any()]
    fig, ax = plt.subplots(1, len(nets), figsize=(3.2 * len(nets), 2.8), squeeze=False)
    for a, n in zip(ax[0], nets):
        h = history[history["net"] == n]
        a.plot(h["iter"], h["loss"])
        a.set_title(n, fontsize=9)
        a.set_xlabel("iteration")
    fig.tight_layout()
    return fig


GAP_STYLE = {"propagation": dict(color="C0", marker="o", label="(a) memory propagation"),
             "copy": dict(color="C7", marker="x", label="(b) copy the mask"),
             "click_2d": dict(color="C3", marker="d", ls="--", label="(c) 2D net + 1 click on that slice")}


def plot_propagation_vs_gap(summary: pd.DataFrame, groups: Sequence[str] | None = None, title: str = "") -> Figure:
    """Slice Dice vs gap from the reference slice, one panel per group (``diagnostics.gap_summary`` output)."""
    groups = list(groups) if groups is not None else list(dict.fromkeys(summary["group"]))
    if not groups or not set(groups) <= set(summary["group"]):
        raise ValueError(f"groups {groups} not all in the summary ({sorted(set(summary['group']))})")
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.4), squeeze=False, sharey=True)
    for ax, g in zip(axes[0], groups):
        d = summary[summary["group"] == g].sort_values("gap")
        for col, style in GAP_STYLE.items():
            ax.plot(d["gap"], d[col], **style)
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(d["gap"]), [str(v) for v in d["gap"]])
        ax.set_ylim(0, 1)
        ax.set_xlabel("gap to the reference slice (slices)")
        ax.set_title(f"{g} ({int(d['n'].sum())} slices)", fontsize=10)
    axes[0][0].set_ylabel("mean slice Dice")
    axes[0][-1].legend(fontsize=8, loc="lower left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_architecture(model, cfg=None, title: str = "LIM-Net as built here") -> Figure:
    """Block diagram drawn from the model: click net -> memory -> bidirectional propagation -> MRF.

    Box labels read the parameter counts and configurations of ``model`` (a ``LIMNet``) and ``cfg`` (an
    ``InferenceConfig``), so the figure changes with them.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from course_lib.lim_net.pipeline import InferenceConfig

    cfg = cfg or InferenceConfig()
    n = model.param_counts()
    mc, cc = model.memory_net.config, model.click_net.config
    boxes = {
        "click": (0.02, 0.55, f"2D click U-Net\n[image, +clicks, -clicks, prev mask]\nbase {cc['base']}, "
                              f"{cc['levels']} levels\n{n['click_net']:,} params"),
        "memory": (0.27, 0.55, f"memory\npermanent: interacted slices\nFIFO {cfg.fifo_size}, every "
                               f"{cfg.mem_every}\nC_k={mc['key_dim']}, C_v={mc['value_dim']}, top-k={cfg.top_k}"),
        "prop": (0.52, 0.55, f"bidirectional propagation\nz-1, z-2, ... and z+1, z+2, ...\n"
                             f"{'bounded by clicked slices' if cfg.bounded else 'whole volume'}\n"
                             f"memory net {n['memory_net']:,} params"),
        "mrf": (0.77, 0.55, f"MRF (Eq. 4)\nper slice: Q(round t) vs Q(round t+1)\nkeep the better\n"
                            f"scorer {n['quality_net']:,} params"),
    }
    fig, ax = plt.subplots(figsize=(12, 3.6))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    w, h = 0.21, 0.38
    for x, y, text in boxes.values():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.01", fc="#e8f0fb", ec="C0"))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8.5)
    keys = list(boxes)
    for a, b in zip(keys[:-1], keys[1:]):
        xa, ya, _ = boxes[a]
        xb, _, _ = boxes[b]
        ax.add_patch(FancyArrowPatch((xa + w, ya + h / 2), (xb, ya + h / 2), arrowstyle="-|>", mutation_scale=14))
    xa, ya, _ = boxes["mrf"]
    xc, yc, _ = boxes["click"]
    ax.add_patch(FancyArrowPatch((xa + w / 2, ya), (xc + w / 2, yc), connectionstyle="arc3,rad=-0.25",
                                 arrowstyle="-|>", mutation_scale=14, ls="--", color="C1"))
    ax.text(0.5, 0.08, "next round: the user clicks the worst slice; the fused mask is the new previous mask",
            ha="center", fontsize=9, color="C1")
    ax.set_title(title)
    return fig


def click_panel(session, gt=None):
    """A small ipywidgets UI: choose z / y / x and the sign, add the click (runs one round), undo, suggest.

    Returns the widget box. Headless (CI) it only displays the current view as a static figure.
    """
    import ipywidgets as widgets
    from IPython.display import display

    from course_lib.notebook import is_headless

    Z, H, W = session.shape
    if is_headless():
        fig = plot_volume_view(session.image.cpu().numpy(), session.current, session.clicks[-1].z if session.clicks
                               else Z // 2, gt, session.clicks)
        display(fig)
        plt.close(fig)
        return None
    zs = widgets.IntSlider(value=Z // 2, min=0, max=Z - 1, description="z")
    ys = widgets.IntSlider(value=H // 2, min=0, max=H - 1, description="y")
    xs = widgets.IntSlider(value=W // 2, min=0, max=W - 1, description="x")
    sign = widgets.ToggleButtons(options=[("positive", True), ("negative", False)], value=True)
    add, undo, suggest = widgets.Button(description="add click + run round"), widgets.Button(
        description="undo round"), widgets.Button(description="simulated user's click")
    out, history = widgets.Output(), []

    def redraw(*_):
        fig = plot_volume_view(session.image.cpu().numpy(), session.current, zs.value, gt, session.clicks)
        fig.axes[0].scatter([xs.value], [ys.value], c="cyan", marker="+", s=80)
        with out:
            out.clear_output(wait=True)
            display(fig)
        plt.close(fig)

    def on_add(_):
        history.append(session.snapshot())
        session.step(Click(zs.value, ys.value, xs.value, bool(sign.value)))
        redraw()

    def on_undo(_):
        if history:
            session.restore(history.pop())
        redraw()

    def on_suggest(_):
        from course_lib.lim_net.user import first_click, next_click

        if gt is None:
            return
        c = first_click(gt) if not session.masks else next_click(session.current, gt)
        if c is not None:
            zs.value, ys.value, xs.value, sign.value = c.z, c.y, c.x, c.positive

    add.on_click(on_add)
    undo.on_click(on_undo)
    suggest.on_click(on_suggest)
    for w in (zs, ys, xs):
        w.observe(redraw, names="value")
    box = widgets.VBox([widgets.HBox([zs, ys, xs]), widgets.HBox([sign, add, undo, suggest]), out])
    display(box)
    redraw()
    return box
