"""Learning objectives, prerequisites and expected run times of each series (shown atop notebooks and in the book).

Objectives and prerequisites are written here once per series; the expected times are **not typed**: they come
from each series' presets (``PRESETS[scale].expected_seconds``, the measured runtime of its heaviest notebook at
that scale) so they change when the presets are re-measured. A new series adds one :class:`SeriesInfo` entry.
"""
from __future__ import annotations

import dataclasses
import importlib

from course_lib.scale import SCALES


@dataclasses.dataclass(frozen=True)
class SeriesInfo:
    key: str  # course_lib subpackage, e.g. "lct"
    objectives: tuple[str, ...]
    prerequisites: tuple[str, ...]


SERIES = {s.key: s for s in (
    SeriesInfo("lim_net",
               ("encode clicks as guidance maps and train a 2D interactive segmentation net",
                "propagate a mask through a 3D volume with a memory read out by top-k attention",
                "fuse propagated masks with an MRF and measure interaction cost (NoC, Dice per click)"),
               ("convolutional networks (U-Net)", "dot-product attention", "Dice / IoU")),
    SeriesInfo("gnn_lf_hf",
               ("derive PPNP, APPNP, SGC, GNN-LF and GNN-HF as minimisers of one objective",
                "read a propagation as a spectral filter g(λ) and compare closed and iterative forms",
                "measure over-smoothing with depth and the effect of low-/high-pass fitting on Cora"),
               ("linear algebra: symmetric matrices, eigenvalues", "gradient of a quadratic form",
                "basic graph notation (adjacency, degree)")),
    SeriesInfo("faan",
               ("encode an entity from its neighbours with relation-aware adaptive attention",
                "match a query pair against a few reference pairs (pair Transformer, query-aware aggregation)",
                "evaluate few-shot link prediction with filtered MRR / Hits@k"),
               ("knowledge-graph triples and embeddings", "dot-product attention and the Transformer encoder")),
    SeriesInfo("ote",
               ("score knowledge-graph triples with orthogonal relation transforms",
                "train a link predictor and evaluate it with filtered MRR / Hits@k"),
               ("embeddings and margin losses", "orthogonal matrices, Gram–Schmidt")),
    SeriesInfo("mcncc",
               ("match images across domains with normalised cross-correlation of CNN feature maps",
                "compute NCC efficiently and evaluate retrieval"),
               ("convolutional feature maps", "correlation and normalisation")),
    SeriesInfo("lct",
               ("derive the kernelised correlation filter as ridge regression on cyclic shifts, solved by FFT",
                "add a scale filter, a long-term confidence filter and re-detection, one piece at a time",
                "evaluate trackers with OTB success and precision curves"),
               ("the discrete Fourier transform", "ridge regression and kernels", "image patches and HOG")),
    SeriesInfo("relative_position",
               ("write relation-aware self-attention with clipped relative positions (Eq. 3–4)",
                "implement the memory-efficient split of §3.3 and check it against the naive form",
                "test length generalisation of absolute vs relative positions"),
               ("scaled dot-product attention", "einsum and tensor shapes", "the Transformer encoder")),
    SeriesInfo("counting",
               ("build the differentiable counting component step by step from attention weights and boxes",
                "see why soft attention cannot count and how de-duplication fixes overlapping proposals",
                "compare the counter with attention-sum, NMS and set-model baselines"),
               ("soft attention", "intersection over union of boxes", "piecewise-linear functions")),
    SeriesInfo("input_iba",
               ("derive IBA's closed-form KL capacity and see why a latent bottleneck gives coarse maps",
                "build InputIBA's generative prior (WGAN on the network's features) and the input bottleneck "
                "whose KL follows from it (Remark 2, shared noise)",
                "evaluate attribution maps against ground-truth masks, with insertion/deletion, and a sanity "
                "check, side by side with Captum's methods"),
               ("convolutional networks and backpropagation", "KL divergence between Gaussians",
                "GANs (Wasserstein critic)")),
    SeriesInfo("low_power",
               ("measure a model the way a low-power device sees it: accuracy, parameters, non-zeros, analytic and "
                "serialized bytes, MACs, latency and an energy proxy",
                "derive uniform quantization (error Δ²/12, observers, straight-through estimator), run a real int8 "
                "model, and prune by magnitude, gradually and by whole channels",
                "factorize layers (SVD, depthwise-separable), search architectures under a MAC budget, distil a "
                "small student, and compare every technique on one Pareto plot beside the library peers"),
               ("convolutional networks and training with Adam", "floating-point and integer number formats",
                "singular value decomposition (for the factorization notebook)")),
    SeriesInfo("lm_compression",
               ("count why the word-embedding table dominates a small BERT and shrink it with a student vocabulary",
                "build mixed-vocabulary sequences and derive dual training and the shared weight projections",
                "compare a tiny student distilled across vocabularies with scratch, logit KD, FVT and int8 "
                "quantization on size, speed and accuracy"),
               ("the Transformer encoder and masked language modelling", "softmax cross-entropy and knowledge "
                "distillation", "WordPiece tokenization")),
)}


def expected_seconds(key: str) -> dict[str, float | None]:
    """``{scale: seconds}`` from the series' presets (None where the series has no presets module)."""
    try:
        presets = importlib.import_module(f"course_lib.{key}.presets").PRESETS
    except ModuleNotFoundError:
        return {s: None for s in SCALES}
    return {s: float(presets[s].expected_seconds) if s in presets else None for s in SCALES}


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def header_markdown(key: str) -> str:
    """Markdown block: objectives, prerequisites and the expected run time per scale (from the presets)."""
    info = SERIES.get(key)
    if info is None:
        raise KeyError(f"no syllabus entry for series {key!r}; add a SeriesInfo to course_lib/syllabus.py "
                       f"(known: {', '.join(sorted(SERIES))})")
    times = expected_seconds(key)
    lines = ["**You will learn to**", *[f"- {o}" for o in info.objectives], "",
             "**Prerequisites:** " + "; ".join(info.prerequisites), "",
             "**Expected run time** of the series' heaviest notebook (from its presets): "
             + " · ".join(f"{s} {format_seconds(times[s])}" for s in SCALES)]
    return "\n".join(lines)


def show_header(key: str) -> None:
    """Display :func:`header_markdown` in a notebook (plain text elsewhere)."""
    text = header_markdown(key)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(text))
            return
    except ImportError:  # pragma: no cover
        pass
    print(text)
