"""Views of the low-power series: the series diagram, the Pareto plot with a highlighted point, and what bits,
sparsity and rank do to one weight tensor. Each view is a plain function returning a matplotlib Figure (tested on
what it draws); notebook 7 wraps them with :func:`course_lib.viz.interactive` (sliders), and :func:`live_point`
re-quantizes / re-prunes / re-factorizes a trained model and moves its point on the Pareto plot.

Quantizers, pruning masks, factorizations and every count (MACs, bytes) come from the series' modules and
:mod:`course_lib.cost`; nothing is re-implemented here.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from course_lib import cost
from course_lib.checks import as_int
from course_lib.low_power import factorization

#: Axis labels of the metric-suite columns (:func:`course_lib.cost.measure`), conventions included.
LABELS = {"analytic_bytes": "analytic model bytes", "serialized_bytes": "serialized bytes (torch.save)",
          "MACs": "MACs per sample (1 MAC = 1 multiply-add)", "p50_ms": "p50 latency [ms], 1 thread, batch 1",
          "accuracy": "test accuracy [%]", "params": "parameters", "nnz": "non-zero parameters",
          "energy_proxy_uJ": "energy proxy [µJ] (analytic, not measured)"}


def series_diagram():
    """The series in one picture: one trained model, the survey's four categories (quantization & pruning,
    compact filters & factorization, NAS, distillation; Goel et al. 2020 §2) and the one metric suite every
    variant is measured with (:mod:`course_lib.cost`), ending on the Pareto front (notebook 6)."""
    from course_lib.diagrams import draw_diagram

    nodes = [("base", "trained fp32\nbase model", "model"),
             ("quant", "quantization\nPTQ int8/int4, QAT", "op"), ("prune", "pruning\nmagnitude, structured", "op"),
             ("compact", "compact filters &\nfactorization\n(depthwise, SVD)", "op"),
             ("nas", "NAS under a\nMAC budget", "op"), ("kd", "knowledge\ndistillation", "op"),
             ("metrics", "one metric suite: accuracy,\nbytes, MACs, p50 latency,\nenergy proxy", "data"),
             ("pareto", "Pareto front", "decision")]
    edges = [("base", "quant"), ("base", "prune"), ("base", "compact"), ("base", "nas", "MAC budget"),
             ("base", "kd", "teacher"), ("quant", "metrics"), ("prune", "metrics"), ("compact", "metrics"),
             ("nas", "metrics"), ("kd", "metrics"), ("metrics", "pareto")]
    return draw_diagram(nodes, edges, direction="LR", fontsize=8,
                        title="Low-power deep learning: four categories, one set of measurements")


def _check_columns(frame: pd.DataFrame, *columns: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame of measurements, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"columns {missing} not in the table; it has {list(frame.columns)}")


def plot_pareto(frame: pd.DataFrame, x: str = "analytic_bytes", y: str = "accuracy", *, highlight=None,
                point: dict | None = None, logx: bool = True, ax=None, title: str = "") -> Figure:
    """Every technique's ``y`` against ``x`` with the Pareto front (:func:`course_lib.cost.plot_pareto`: lowest
    ``x``, highest ``y``); ``highlight`` (a row name or a list of them) is ringed in black, and ``point``
    (``{"name", x, y}``) is an extra star — the live model of notebook 7, whose slider moves it."""
    _check_columns(frame, x, y)
    names = [] if highlight is None else [highlight] if isinstance(highlight, str) else list(highlight)
    unknown = [n for n in names if n not in frame.index]
    if unknown:
        raise KeyError(f"highlight {unknown} not in the table; rows: {list(frame.index)}")
    fig = cost.plot_pareto(frame, x, y, logx=logx, ax=ax, title=title)
    ax = fig.axes[0] if ax is None else ax
    if names:
        ax.scatter(frame.loc[names, x], frame.loc[names, y], s=180, facecolors="none", edgecolors="k", lw=1.8,
                   zorder=4, label="highlighted")
    if point is not None:
        if x not in point or y not in point:
            raise KeyError(f"point must have the keys {x!r} and {y!r}, got {sorted(point)}")
        ax.scatter([point[x]], [point[y]], marker="*", s=260, color="C2", edgecolors="k", zorder=5,
                   label=point.get("name", "live model"))
    ax.set_xlabel(LABELS.get(x, x))
    ax.set_ylabel(LABELS.get(y, y))
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_pareto_grid(frame: pd.DataFrame, y: str = "accuracy", xs=("analytic_bytes", "MACs", "p50_ms"), *,
                     highlight=None) -> Figure:
    """One Pareto panel per cost column in ``xs`` (accuracy against bytes, MACs and latency), same techniques."""
    xs = [c for c in xs if c in frame.columns]
    if not xs:
        raise KeyError(f"none of the cost columns is in the table; it has {list(frame.columns)}")
    fig, axes = plt.subplots(1, len(xs), figsize=(5.2 * len(xs), 4.2), squeeze=False)
    for ax, x in zip(axes[0], xs):
        plot_pareto(frame, x, y, highlight=highlight, ax=ax, title=f"{y} vs {x}")
    fig.tight_layout()
    return fig


def _weight_2d(weight) -> torch.Tensor:
    if not isinstance(weight, torch.Tensor) or weight.dim() < 2:
        raise ValueError(f"expected a weight tensor with at least 2 dimensions, got "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    return weight.detach().float().reshape(weight.shape[0], -1)


def plot_rank_effect(weight: torch.Tensor, rank: int) -> Figure:
    """Eckart–Young on one weight: left, its singular values (log) with the kept ``rank`` shaded and the captured
    spectral energy ``Σ_{i≤r} σ_i² / Σ σ_i²``; right, the relative error ``‖W − W_r‖_F / ‖W‖_F`` against the
    parameter count ``r(m + n) + m`` of the factorised layer for every rank, the chosen one starred
    (:func:`course_lib.low_power.factorization.low_rank_approximation`, :func:`~.factorization.factorized_params`)."""
    w = _weight_2d(weight)
    m, n = w.shape
    rank = as_int("rank", rank, minimum=1)
    if rank > min(m, n):
        raise ValueError(f"rank must be at most min(m, n) = {min(m, n)} for a {m}×{n} weight, got {rank}")
    s = torch.linalg.svdvals(w.double())
    energy = (s.square().cumsum(0) / s.square().sum()).numpy()
    ranks = np.arange(1, len(s) + 1)
    norm = float(torch.linalg.matrix_norm(w))
    errors = [float(torch.linalg.matrix_norm(w - factorization.low_rank_approximation(w, int(r)))) / norm
              for r in ranks]
    params = [factorization.factorized_params(m, n, int(r)) for r in ranks]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.5, 3.8))
    ax1.semilogy(ranks, s.numpy(), "o-", ms=3, color="C0")
    ax1.axvspan(0.5, rank + 0.5, color="C2", alpha=0.2, label=f"kept: rank {rank}")
    ax1.set(xlabel="index i", ylabel="singular value σ_i",
            title=f"{m}×{n} weight: rank {rank} keeps {energy[rank - 1]:.1%} of Σσ²")
    ax1.legend(fontsize=8)
    ax2.plot(params, errors, "o-", ms=3, color="C0")
    ax2.plot([params[rank - 1]], [errors[rank - 1]], marker="*", ms=16, color="C2", mec="k")
    ax2.axvline(m * n + m, color="0.5", ls="--", lw=1, label=f"dense: {m * n + m} params")
    ax2.set(xlabel="parameters r(m+n)+m", ylabel="‖W − W_r‖_F / ‖W‖_F",
            title=f"rank {rank}: {params[rank - 1]} params, error {errors[rank - 1]:.3f}")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_bits_effect(weight: torch.Tensor, bits: int, *, per_channel: bool = True, observer: str = "minmax"
                     ) -> Figure:
    """A uniform quantizer on one weight tensor (:func:`course_lib.low_power.quantization.quantize_tensor`,
    symmetric): left, the histogram of the weights with the ``2^bits − 1`` grid levels of the tensor's widest
    channel (few bits: few levels, a coarse grid); right, the signal-to-quantization-noise ratio
    (:func:`~course_lib.low_power.quantization.sqnr_db`) for every bit width 2–8 with ``bits`` starred — about
    6 dB per bit, as the rounding error's mean square ``Δ²/12`` shrinks fourfold per extra bit."""
    from course_lib.low_power import quantization

    bits = quantization.check_bits(bits)
    w = _weight_2d(weight)
    w_hat = quantization.quantize_tensor(w, bits, observer=observer, per_channel=per_channel)
    widest = int(w.abs().amax(1).argmax()) if per_channel else None
    ref = w_hat[widest] if per_channel else w_hat
    levels = torch.unique(ref).numpy()
    widths = list(range(2, 9))
    sqnr = [quantization.sqnr_db(w, quantization.quantize_tensor(w, b, observer=observer, per_channel=per_channel))
            for b in widths]
    here = quantization.sqnr_db(w, w_hat)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.5, 3.8))
    ax1.hist(w.flatten().numpy(), bins=80, color="0.6", label="weights")
    for k, lv in enumerate(levels):
        ax1.axvline(lv, color="C3", lw=0.6, alpha=0.7, label="grid levels" if k == 0 else None)
    err = (w - w_hat).abs()
    ax1.set(xlabel="weight value", ylabel="count",
            title=f"int{bits} {'per-channel' if per_channel else 'per-tensor'}: {len(levels)} levels drawn, "
                  f"max |w − ŵ| = {float(err.max()):.3g}")
    ax1.legend(fontsize=8)
    ax2.plot(widths, sqnr, "o-", color="C0", label="SQNR")
    ax2.plot([bits], [here], marker="*", ms=16, color="C2", mec="k", label=f"int{bits}: {here:.1f} dB")
    ax2.set(xlabel="bits", ylabel="SQNR [dB]", title="≈ 6 dB per bit")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


#: The live knobs of notebook 7: what each slider does to the trained model, and the bytes it is drawn against.
KNOBS = {"bits": "weights fake-quantised per channel at `bits` (quantization.quantize_weights); analytic bytes",
         "sparsity": "global magnitude pruning to `sparsity`, no fine-tuning (pruning); CSR bytes",
         "rank": "every Linear/Conv factorised at `rank` by truncated SVD (factorization.factorize_model); "
                 "analytic bytes"}


_KNOB_BYTES = {"bits": "analytic_bytes", "sparsity": "csr_bytes", "rank": "analytic_bytes"}


def knob_model(base: torch.nn.Module, knob: str, value):
    """``(model, weight_bits, bytes column)``: ``base`` re-quantized / re-pruned / re-factorized by one knob of
    :data:`KNOBS` (a copy; ``base`` is untouched). No fine-tuning: the slider shows the raw effect."""
    from course_lib.low_power import pruning, quantization

    if knob == "bits":
        return quantization.quantize_weights(base, quantization.check_bits(value)), int(value), _KNOB_BYTES[knob]
    if knob == "sparsity":
        return pruning.prune_magnitude(base, pruning.check_sparsity(value))[0], 32, _KNOB_BYTES[knob]
    if knob == "rank":
        return factorization.factorize_model(base, rank=as_int("rank", value, minimum=1)), 32, _KNOB_BYTES[knob]
    raise ValueError(f"knob must be one of {sorted(KNOBS)}, got {knob!r}")


def knob_row(base: torch.nn.Module, split, knob: str, value) -> dict:
    """The metric-suite row (:func:`course_lib.cost.measure`, no timing) of :func:`knob_model` on ``split``'s test
    set, with its CSR bytes."""
    model, bits, _ = knob_model(base, knob, value)
    row = cost.measure(model, (split.x_test, split.y_test), name=f"{knob} = {value}", weight_bits=bits,
                       example=split.example(), timing=False)
    row["csr_bytes"] = cost.model_csr_bytes(model)
    return row


def live_point(base: torch.nn.Module, split, frame: pd.DataFrame, knob: str = "bits", value=8) -> Figure:
    """Notebook 7's slider view: ``base`` changed by one knob (:func:`knob_row`) drawn as a star on the Pareto
    plots of the technique table ``frame`` — accuracy against bytes (the knob's bytes column) and against MACs."""
    row = knob_row(base, split, knob, value)
    xb = _KNOB_BYTES[knob]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, x in zip(axes, (xb, "MACs")):
        sub = frame.dropna(subset=[x, "accuracy"]) if x in frame.columns else frame.iloc[:0]
        if len(sub):
            plot_pareto(sub, x, "accuracy", point={"name": row["model"], x: row[x], "accuracy": row["accuracy"]},
                        ax=ax, title=f"accuracy vs {x}")
        else:
            ax.scatter([row[x]], [row["accuracy"]], marker="*", s=260, color="C2", edgecolors="k")
    fig.suptitle(f"{row['model']}: accuracy {row['accuracy']:.1f} %, {row[xb]:,} bytes ({xb}), "
                 f"{row['MACs']:,} MACs", fontsize=10)
    fig.tight_layout()
    return fig


def plot_sparsity_effect(model: torch.nn.Module, sparsity: float, layer: str | None = None) -> Figure:
    """Global magnitude pruning of ``model`` at ``sparsity`` (:func:`course_lib.low_power.pruning.magnitude_masks`,
    one threshold for every layer): left, the ``|w|`` histogram of ``layer`` (default: the largest) split into
    kept and pruned weights; middle, its mask (rows = output channels); right, the model's bytes for every
    sparsity — dense storage (masks change nothing: flat) against CSR (:func:`course_lib.cost.model_csr_bytes`,
    values + int32 column indices + row pointers, smaller only past ~50 % sparsity) — the chosen one starred."""
    from course_lib.low_power import pruning

    sparsity = pruning.check_sparsity(sparsity)
    layers = dict(pruning.prunable(model))
    if not layers:
        raise ValueError("the model has no Linear/Conv weight to prune")
    layer = max(layers, key=lambda n: layers[n].weight.numel()) if layer is None else layer
    if layer not in layers:
        raise KeyError(f"no prunable layer {layer!r}; the model has {list(layers)}")
    masks = pruning.magnitude_masks(model, sparsity)
    w = layers[layer].weight.detach().reshape(layers[layer].weight.shape[0], -1).abs()
    mask = masks[layer].reshape(w.shape).bool()
    levels = np.round(np.arange(0.0, 0.96, 0.1), 2)
    csr = [cost.model_csr_bytes(pruning.prune_magnitude(model, float(s))[0]) for s in levels]
    dense = cost.analytic_bytes(model)
    here = cost.model_csr_bytes(pruning.prune_magnitude(model, sparsity)[0])
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.8), gridspec_kw={"width_ratios": [1.2, 1, 1.2]})
    bins = np.linspace(0, float(w.max()), 50)
    ax1.hist(w[mask].numpy(), bins=bins, color="C0", label=f"kept ({int(mask.sum())})")
    ax1.hist(w[~mask].numpy(), bins=bins, color="C3", label=f"pruned ({int((~mask).sum())})")
    ax1.set(xlabel="|w|", ylabel="count", title=f"layer {layer}: {float((~mask).float().mean()):.0%} pruned")
    ax1.legend(fontsize=8)
    ax2.imshow(mask.numpy(), aspect="auto", cmap="Greys", interpolation="nearest")
    ax2.set(xlabel="input × kernel", ylabel="output channel", title="mask (black = kept)")
    ax2.grid(False)
    ax3.plot(levels, [dense] * len(levels), "--", color="0.4", label="dense file (masks): unchanged")
    ax3.plot(levels, csr, "o-", ms=3, color="C0", label="CSR")
    ax3.plot([sparsity], [here], marker="*", ms=16, color="C2", mec="k", label=f"{sparsity:.0%}: {here:,} B")
    ax3.set(xlabel="global sparsity", ylabel="model bytes", title="what the mask does to the bytes")
    ax3.legend(fontsize=8)
    fig.tight_layout()
    return fig
