"""Plotting functions of the LCT series (each returns a matplotlib Figure; the notebooks wrap some of them in
``course_lib.viz.interactive``)."""
from __future__ import annotations

import functools
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from course_lib.lct import metrics
from course_lib.lct.sequences import Sequence
from course_lib.lct.tracker import LADDER, TrackResult, run_tracker

COLOURS = {"KCF": "tab:blue", "KCF+scale": "tab:cyan", "KCF+scale+LT": "tab:purple", "LCT": "tab:red",
           "CV-KCF": "tab:olive", "CV-CSRT": "tab:green", "CV-MIL": "tab:brown", "CV-TLD": "tab:orange",
           "CV-MOSSE": "tab:pink", "CV-MedianFlow": "tab:gray", "CV-Boosting": "k"}


def colour(name: str) -> str:
    """Fixed colour of a tracker name (ours: blues to red; OpenCV peers: the rest)."""
    return COLOURS.get(name, f"C{abs(hash(name)) % 10}")


def _shade(ax, seq: Sequence) -> None:
    if seq.occlusion is not None:
        ax.axvspan(seq.occlusion[0], seq.occlusion[1] - 1, color="0.85", zorder=0, label="full occlusion")


def draw_boxes(ax, boxes: Mapping[str, np.ndarray], gt: np.ndarray | None = None, lw: float = 1.5) -> None:
    """Draw (x, y, w, h) boxes on an image axis; ground truth dashed white."""
    if gt is not None:
        ax.add_patch(plt.Rectangle(gt[:2], gt[2], gt[3], fill=False, ec="w", ls="--", lw=lw,
                                   label="ground truth"))
    for name, b in boxes.items():
        ours = not name.startswith("CV-")
        ax.add_patch(plt.Rectangle(b[:2], b[2], b[3], fill=False, ec=colour(name),
                                   lw=lw * (1.3 if ours else 0.8), label=name))


def plot_tracking_frame(frame: np.ndarray, boxes: Mapping[str, np.ndarray], gt: np.ndarray | None = None,
                        title: str = "") -> Figure:
    """One frame with every tracker's box (and the ground truth)."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.imshow(frame, cmap="gray", vmin=0, vmax=255)
    draw_boxes(ax, boxes, gt)
    ax.set_title(title)
    ax.axis("off")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.6)
    fig.tight_layout()
    return fig


def plot_confidence(result: TrackResult, seq: Sequence, t_r: float = 0.15, t_a: float = 0.38,
                    ax=None) -> Figure:
    """Long-term confidence C over time with T_r (re-detect below) and T_a (update above), the occlusion
    frames shaded and accepted re-detections marked."""
    fig = ax.figure if ax is not None else plt.figure(figsize=(8, 3))
    ax = ax or fig.add_subplot(111)
    _shade(ax, seq)
    t = np.arange(len(result.confidence))
    ax.plot(t, result.confidence, color=colour(result.name), lw=1.2, label=f"C ({result.name})")
    ax.axhline(t_r, color="tab:red", ls="--", lw=1, label=f"T_r = {t_r:g}")
    ax.axhline(t_a, color="tab:green", ls="--", lw=1, label=f"T_a = {t_a:g}")
    acc = np.flatnonzero(result.redetect_accepted)
    if len(acc):
        ax.plot(acc, result.confidence[acc], "k^", ms=7, label="re-detection accepted")
    ax.set_xlabel("frame")
    ax.set_ylabel("confidence C")
    ax.set_title(f"{seq.name}: long-term filter confidence")
    ax.legend(fontsize=7, loc="upper right", ncol=2)
    fig.tight_layout()
    return fig


def plot_center_errors(results: Mapping[str, TrackResult], seq: Sequence) -> Figure:
    """Centre error over time for several trackers on one sequence (the 20-px line is the P@20 cut)."""
    fig, ax = plt.subplots(figsize=(8, 3))
    _shade(ax, seq)
    for name, res in results.items():
        ax.plot(metrics.center_errors(res.boxes, seq.boxes), color=colour(name), lw=1.2, label=name)
    ax.axhline(20, color="k", lw=0.8, ls=":")
    ax.set_yscale("symlog", linthresh=20)
    ax.set_xlabel("frame")
    ax.set_ylabel("centre error [px]")
    ax.set_title(seq.name)
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    return fig


def plot_ope_curves(results: Mapping[tuple[str, str], TrackResult], sequences) -> Figure:
    """OTB precision and success plots, pooled over the given sequences (frames concatenated, as the OTB
    toolkit's "overall" plot averages per sequence: here we average the per-sequence curves)."""
    seqs = {s.name: s for s in sequences}
    trackers = list(dict.fromkeys(t for t, _ in results))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name in trackers:
        prec, succ = [], []
        for (t, s), res in results.items():
            if t == name and s in seqs:
                prec.append(metrics.precision_curve(metrics.center_errors(res.boxes, seqs[s].boxes)))
                succ.append(metrics.success_curve(metrics.overlaps(res.boxes, seqs[s].boxes)))
        if not prec:
            continue
        p, sc = np.mean(prec, axis=0), np.mean(succ, axis=0)
        ls = "-" if not name.startswith("CV-") else "--"
        a1.plot(metrics.PRECISION_THRESHOLDS, p, ls, color=colour(name), label=f"{name} [{p[20]:.3f}]")
        a2.plot(metrics.SUCCESS_THRESHOLDS, sc, ls, color=colour(name),
                label=f"{name} [{metrics.auc(sc):.3f}]")
    a1.axvline(20, color="k", lw=0.6, ls=":")
    a1.set(xlabel="location error threshold [px]", ylabel="precision", title="precision plot (OPE)")
    a2.set(xlabel="overlap threshold", ylabel="success rate", title="success plot (OPE), [AUC]")
    for a in (a1, a2):
        a.legend(fontsize=7)
        a.set_ylim(0, 1.02)
    fig.tight_layout()
    return fig


def plot_summary_bars(table, metric: str = "P@20") -> Figure:
    """Grouped bars of one metric: trackers × sequences (from ``experiments.summary_table``)."""
    seqs = list(dict.fromkeys(table["sequence"]))
    trackers = list(dict.fromkeys(table["tracker"]))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(trackers) * len(seqs) / 2), 3.5))
    width = 0.8 / len(trackers)
    for i, name in enumerate(trackers):
        vals = [table[(table.tracker == name) & (table.sequence == s)][metric].mean() for s in seqs]
        ax.bar(np.arange(len(seqs)) + i * width, vals, width, color=colour(name), label=name,
               hatch="//" if name.startswith("CV-") else None, edgecolor="w")
    ax.set_xticks(np.arange(len(seqs)) + 0.4 - width / 2, seqs)
    ax.set_ylabel(metric)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    fig.tight_layout()
    return fig


def plot_cyclic_shifts(x: np.ndarray, y: np.ndarray) -> Figure:
    """A 1-D base sample, the circulant data matrix of all its cyclic shifts, and the Gaussian labels."""
    n = len(x)
    rows = np.stack([np.roll(x, k) for k in range(n)])
    fig, ax = plt.subplots(1, 3, figsize=(10, 3), gridspec_kw={"width_ratios": [1.4, 1.2, 1.4]})
    ax[0].plot(x, "k.-")
    ax[0].set_title("base sample x")
    ax[1].imshow(rows, cmap="coolwarm", aspect="auto")
    ax[1].set(title="X = C(x): row k = P^k x", xlabel="pixel", ylabel="shift k")
    ax[2].stem(np.arange(n), y)
    ax[2].set(title="labels y(k) (peak at shift 0)", xlabel="shift k")
    fig.tight_layout()
    return fig


def plot_response_maps(response: np.ndarray, app_response: np.ndarray | None = None,
                       scale_response: np.ndarray | None = None) -> Figure:
    """Translation response (fftshift-ed, centre = no motion), long-term response, and scale response."""
    n = 1 + (app_response is not None) + (scale_response is not None)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6))
    axes = np.atleast_1d(axes)
    im = axes[0].imshow(response, cmap="viridis")
    axes[0].set_title(f"translation response\npeak {response.max():.2f}", fontsize=10)
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    k = 1
    if app_response is not None:
        im = axes[k].imshow(app_response, cmap="magma")
        axes[k].set_title(f"long-term response\nC = {app_response.max():.2f}", fontsize=10)
        fig.colorbar(im, ax=axes[k], fraction=0.046)
        k += 1
    if scale_response is not None:
        axes[k].plot(scale_response, "k.-")
        axes[k].axvline(len(scale_response) // 2, color="r", lw=0.8)
        axes[k].set(title="scale response", xlabel="scale index (centre = unchanged)")
    fig.tight_layout()
    return fig


class ClipExplorer:
    """Interactive-notebook model: runs our ladder on a clip (cached per parameter set) and draws one frame.

    ``peer_boxes``: name -> (T, 4) boxes of OpenCV peers on the same clip (e.g. from ``data/lct``).
    """

    def __init__(self, seq: Sequence, peer_boxes: Mapping[str, np.ndarray] | None = None,
                 ladder: tuple[str, ...] = ("KCF", "LCT")):
        self.seq, self.ladder = seq, ladder
        self.peer_boxes = {k: np.asarray(v)[:len(seq)] for k, v in (peer_boxes or {}).items()}
        self._run = functools.lru_cache(maxsize=16)(self._run_uncached)

    def _run_uncached(self, eta: float, t_r: float, t_a: float) -> dict[str, TrackResult]:
        out = {}
        for name in self.ladder:
            cfg = LADDER[name].replace(interp_factor=eta, t_r=t_r, t_a=t_a)
            out[name] = run_tracker(cfg, self.seq.frames, self.seq.init_box, keep_maps=(name == "LCT"))
        return out

    def results(self, eta: float = 0.01, t_r: float = 0.15, t_a: float = 0.38) -> dict[str, TrackResult]:
        """Our trackers' runs on the clip for these parameters (memoised)."""
        return self._run(round(float(eta), 4), round(float(t_r), 3), round(float(t_a), 3))

    def figure(self, frame: int = 0, eta: float = 0.01, t_r: float = 0.15, t_a: float = 0.38) -> Figure:
        """Frame with every tracker's box | LCT's translation response | confidence C over the clip."""
        frame = int(np.clip(frame, 0, len(self.seq) - 1))
        runs = self.results(eta, t_r, t_a)
        fig = plt.figure(figsize=(12, 6.2))
        gs = fig.add_gridspec(2, 3, height_ratios=[2.2, 1])
        ax_img = fig.add_subplot(gs[0, :2])
        ax_img.imshow(self.seq.frames[frame], cmap="gray", vmin=0, vmax=255)
        boxes = {n: r.boxes[frame] for n, r in runs.items()}
        boxes.update({n: b[frame] for n, b in self.peer_boxes.items()})
        draw_boxes(ax_img, boxes, self.seq.boxes[frame])
        ax_img.legend(loc="upper left", fontsize=7, framealpha=0.6, ncol=2)
        occ = self.seq.occlusion
        hidden = occ is not None and occ[0] <= frame < occ[1]
        ax_img.set_title(f"{self.seq.name} frame {frame}" + ("  (target fully occluded)" if hidden else ""))
        ax_img.axis("off")
        ax_map = fig.add_subplot(gs[0, 2])
        lct = runs.get("LCT")
        if lct is not None and lct.responses and lct.responses[frame] is not None:
            ax_map.imshow(lct.responses[frame], cmap="viridis")
            ax_map.set_title(f"LCT translation response\npeak {lct.peak[frame]:.2f}")
        else:
            ax_map.text(0.5, 0.5, "first frame:\ntraining only", ha="center", va="center")
        ax_map.axis("off")
        ax_c = fig.add_subplot(gs[1, :])
        if lct is not None:
            plot_confidence(lct, self.seq, t_r, t_a, ax=ax_c)
        ax_c.axvline(frame, color="k", lw=1.5)
        ax_c.set_title(f"η = {eta:g}, T_r = {t_r:g}, T_a = {t_a:g}: "
                       + ", ".join(f"{n} P@20 {metrics.ope_summary(r.boxes, self.seq.boxes)['P@20']:.2f}"
                                   for n, r in runs.items()), fontsize=9)
        fig.tight_layout()
        return fig

    def maps(self, frame: int = 1, eta: float = 0.01, t_r: float = 0.15, t_a: float = 0.38) -> Figure:
        """LCT's translation and long-term response maps at one frame of the clip (frame ≥ 1)."""
        lct = self.results(eta, t_r, t_a)["LCT"]
        frame = int(np.clip(frame, 1, len(self.seq) - 1))
        fig = plot_response_maps(lct.responses[frame], lct.app_responses[frame])
        fig.suptitle(f"{self.seq.name} frame {frame}: C = {lct.confidence[frame]:.2f}"
                     + (" (re-detected)" if lct.redetect_accepted[frame] else ""), fontsize=10)
        fig.tight_layout()
        return fig
