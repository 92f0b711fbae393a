"""Rotation + translation alignment search (§2.4): a query is rotated through a few angles, turned into feature
maps with a validity mask, and slid over every reference at every offset; the score of a reference is the **max**
over all placements and rotations. All references are batched along N and all rotations along R in one call of
:func:`course_lib.mcncc.ncc.sliding_scores` (FFT or grouped conv), so MCNCC, 3D-NCC and cosine come out of the
same three correlations."""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from course_lib.mcncc.features import feature_mask
from course_lib.mcncc.ncc import SCORES, sliding_scores
from course_lib.mcncc.treads import rotate_with_mask


def angles_for(n: int, max_angle: float) -> tuple[float, ...]:
    """``n`` rotation angles evenly spaced in [−max_angle, max_angle] (n = 1 gives 0°)."""
    if n < 1:
        raise ValueError(f"need at least one rotation, got {n}")
    return (0.0,) if n == 1 else tuple(float(a) for a in np.linspace(-max_angle, max_angle, n))


@torch.no_grad()
def extract(extractor: Callable, images: np.ndarray | torch.Tensor, dtype=torch.float64, device=None,
            batch: int = 64) -> torch.Tensor:
    """Features of gray images (B, H, W) with ``extractor`` (a module mapping (B, 1, H, W) to (B, C, h, w)), in
    batches, as ``dtype`` on ``device``."""
    x = torch.as_tensor(np.asarray(images, np.float32)) if not isinstance(images, torch.Tensor) else images.float()
    if x.dim() == 2:
        x = x[None]
    dev = device or _device_of(extractor)
    out = [extractor(x[i:i + batch, None].to(dev)) for i in range(0, len(x), batch)]
    return torch.cat(out).to(dtype)


def _device_of(extractor) -> torch.device:
    try:
        return next(iter(extractor.parameters())).device
    except (StopIteration, AttributeError):
        bufs = list(getattr(extractor, "buffers", lambda: [])())
        return bufs[0].device if bufs else torch.device("cpu")


def prepare_references(images: np.ndarray, extractor: Callable, pad: int = 0, fill: float = 1.0,
                       dtype=torch.float64) -> torch.Tensor:
    """Reference feature maps (N, C, H', W') of gray images (N, H, W), padded first by ``pad`` pixels of paper
    (``fill``) on every side so that a query may overhang the print."""
    imgs = np.asarray(images, np.float32)
    if imgs.ndim != 3:
        raise ValueError(f"references must be (N, H, W) gray images, got shape {imgs.shape}")
    if pad:
        imgs = np.pad(imgs, ((0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    return extract(extractor, imgs, dtype)


def query_canvases(image: np.ndarray, mask: np.ndarray | None, angles: Sequence[float], fit_hw: tuple[int, int]
                   ) -> tuple[np.ndarray, np.ndarray, float]:
    """The query rotated to every angle on one common canvas: images (R, h, w), validity masks (R, h, w) and the
    shrink factor applied first so that every rotation fits ``fit_hw`` (the padded reference size in pixels)."""
    img = np.asarray(image, np.float32)
    if img.ndim != 2:
        raise ValueError(f"a query must be a gray (H, W) image, got shape {img.shape}")
    m = np.ones(img.shape, bool) if mask is None else np.asarray(mask, bool)
    if m.shape != img.shape:
        raise ValueError(f"mask shape {m.shape} differs from the query's {img.shape}")
    h, w = img.shape
    a = np.deg2rad(max(abs(x) for x in angles))
    bh, bw = h * np.cos(a) + w * np.sin(a), h * np.sin(a) + w * np.cos(a)
    factor = min(1.0, (fit_hw[0] - 1) / bh, (fit_hw[1] - 1) / bw)
    if factor < 1.0:
        import cv2

        size = (max(2, int(w * factor)), max(2, int(h * factor)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        m = cv2.resize(m.astype(np.float32), size, interpolation=cv2.INTER_NEAREST) > 0.5
    fill = float(img[m].mean()) if m.any() else float(img.mean())
    rots = [rotate_with_mask(img, float(ang), m, fill) for ang in angles]
    hh, ww = max(r[0].shape[0] for r in rots), max(r[0].shape[1] for r in rots)
    canvas = np.full((len(rots), hh, ww), fill, np.float32)
    masks = np.zeros((len(rots), hh, ww), bool)
    for k, (ri, rm) in enumerate(rots):
        y0, x0 = (hh - ri.shape[0]) // 2, (ww - ri.shape[1]) // 2
        canvas[k, y0:y0 + ri.shape[0], x0:x0 + ri.shape[1]] = ri
        masks[k, y0:y0 + ri.shape[0], x0:x0 + ri.shape[1]] = rm
    return canvas, masks, factor


def query_templates(image: np.ndarray, mask: np.ndarray | None, angles: Sequence[float], extractor: Callable,
                    fit_hw: tuple[int, int], erode: int = 1, dtype=torch.float64
                    ) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Feature templates (R, C, h, w) and feature-space masks (R, h, w) of the query at every angle
    (:func:`query_canvases`, then the extractor and :func:`course_lib.mcncc.features.feature_mask`).
    Returns (templates, masks, shrink factor)."""
    canvas, masks, factor = query_canvases(image, mask, angles, fit_hw)
    feats = extract(extractor, canvas, dtype)
    stride = max(1, round(canvas.shape[1] / feats.shape[-2]))
    fmask = feature_mask(torch.as_tensor(masks), stride, erode)[..., :feats.shape[-2], :feats.shape[-1]]
    if bool((fmask.sum((-2, -1)) < 2).any()):
        raise ValueError(f"the query ({canvas.shape[1]}×{canvas.shape[2]} px) leaves fewer than 2 valid feature "
                         f"cells after erosion by {erode}; use a larger query or a smaller erosion")
    return feats, fmask.to(dtype), factor


@dataclasses.dataclass
class SearchResult:
    """Best score of one query against every reference (name -> (N,)), where it was found (name -> (N, 3):
    rotation index, row, column), and the per-channel NCC vector at MCNCC's best placement (N, C)."""

    scores: dict[str, np.ndarray]
    where: dict[str, np.ndarray]
    channels: np.ndarray


def search(templates: torch.Tensor, masks: torch.Tensor, references: torch.Tensor, scores=SCORES,
           weights: Mapping[str, np.ndarray] | None = None, method: str = "auto", chunk: int = 16
           ) -> SearchResult:
    """Score = max over rotations and offsets of each score (MCNCC, 3D-NCC, cosine; plus one weighted MCNCC
    Σ_c w_c r_c per entry of ``weights``) of the templates over every reference, references in chunks."""
    n = references.shape[0]
    weights = dict(weights or {})
    names = list(scores) + list(weights)
    best = {k: np.zeros(n) for k in names}
    where = {k: np.zeros((n, 3), int) for k in names}
    chans = np.zeros((n, references.shape[1]))
    want_channels = "mcncc" in scores or bool(weights)
    for s in range(0, n, chunk):
        refs = references[s:s + chunk]
        res = sliding_scores(refs, templates, masks, scores=tuple(x for x in scores), channels=want_channels,
                             method=method)
        maps = {k: res[k] for k in scores}
        for k, w in weights.items():
            w_t = torch.as_tensor(np.asarray(w), dtype=res.channels.dtype, device=res.channels.device)
            maps[k] = torch.einsum("nrchw,c->nrhw", res.channels, w_t)
        for k, mp in maps.items():
            flat = mp.reshape(mp.shape[0], -1)
            val, idx = flat.max(1)
            best[k][s:s + chunk] = val.cpu().numpy()
            where[k][s:s + chunk] = np.stack(np.unravel_index(idx.cpu().numpy(), mp.shape[1:]), 1)
        if "mcncc" in scores:
            dev = res.channels.device
            r, u, v = (torch.as_tensor(where["mcncc"][s:s + chunk, i], device=dev) for i in range(3))
            chans[s:s + chunk] = res.channels[torch.arange(len(refs), device=dev), r, :, u, v].cpu().numpy()
    return SearchResult(best, where, chans)


@dataclasses.dataclass
class GalleryScores:
    """Score matrices (name -> (Q, N)), per-channel NCC vectors at MCNCC's best placement (Q, N, C), best
    placements (name -> (Q, N, 3)), the angles searched and the time per query."""

    scores: dict[str, np.ndarray]
    channels: np.ndarray
    where: dict[str, np.ndarray]
    angles: tuple[float, ...]
    ms_per_query: float


def score_gallery(queries: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None, references: np.ndarray,
                  extractor: Callable, angles: Sequence[float], pad: int = 0, erode: int = 1, scores=SCORES,
                  weights: Mapping[str, np.ndarray] | None = None, method: str = "auto", progress: bool = False,
                  ref_feats: torch.Tensor | None = None, desc: str = "alignment search") -> GalleryScores:
    """Every query against every reference with the rotation + translation search (§2.4)."""
    from tqdm.auto import tqdm

    refs = np.asarray(references, np.float32)
    if ref_feats is None:
        ref_feats = prepare_references(refs, extractor, pad)
    fit = (refs.shape[1] + 2 * pad, refs.shape[2] + 2 * pad)
    masks = [None] * len(queries) if masks is None else masks
    if len(masks) != len(queries):
        raise ValueError(f"{len(queries)} queries but {len(masks)} masks")
    names = list(scores) + list(weights or {})
    out = {k: np.zeros((len(queries), len(refs))) for k in names}
    where = {k: np.zeros((len(queries), len(refs), 3), int) for k in names}
    chans = np.zeros((len(queries), len(refs), ref_feats.shape[1]))
    t0 = time.perf_counter()
    for q, (img, m) in enumerate(tqdm(list(zip(queries, masks)), desc=desc, disable=not progress)):
        tmpl, tm, _ = query_templates(img, m, angles, extractor, fit, erode)
        res = search(tmpl, tm, ref_feats, scores, weights, method)
        for k in names:
            out[k][q], where[k][q] = res.scores[k], res.where[k]
        chans[q] = res.channels
    ms = 1e3 * (time.perf_counter() - t0) / max(1, len(queries))
    return GalleryScores(out, chans, where, tuple(angles), ms)
