"""Peers (§7): the same features, the same rotations, the same placements, scored by other libraries.

* :func:`skimage_ncc` — ``skimage.feature.match_template`` on (H, W, C) maps: one joint mean / std over channels and
  pixels (= 3D-NCC), no mask support (the template's whole bounding box counts).
* :func:`opencv_ncc` — ``cv2.matchTemplate(TM_CCOEFF_NORMED)`` with the mask: per-channel centring, **joint**
  normalisation. OpenCV's normed modes accept at most 4 channels, so C > 4 is scored in groups of 4 channels and
  the group scores are averaged (documented deviation; with C ≤ 4 it is OpenCV's own multi-channel score).
* :func:`orb_ransac_scores` — the classical local-feature baseline on the images themselves: ORB keypoints,
  Hamming matching with Lowe's ratio test, a RANSAC similarity transform; score = number of inliers.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import cv2
import numpy as np
import torch


def _hwc(x) -> np.ndarray:
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return np.ascontiguousarray(np.moveaxis(a, -3, -1)).astype(np.float32)


def skimage_ncc(image, template) -> np.ndarray:
    """``skimage.feature.match_template`` of a (C, h, w) template over a (C, H, W) image at every valid offset
    (H−h+1, W−w+1)."""
    from skimage.feature import match_template

    img, tpl = _hwc(image), _hwc(template)
    if img.shape[-1] != tpl.shape[-1]:
        raise ValueError(f"channel counts differ: {img.shape[-1]} vs {tpl.shape[-1]}")
    out = match_template(img, tpl)
    return out[..., 0] if out.ndim == 3 else out


def opencv_ncc(image, template, mask=None, group: int = 4) -> np.ndarray:
    """``cv2.matchTemplate(..., TM_CCOEFF_NORMED, mask)`` of a (C, h, w) template over a (C, H, W) image; more than
    4 channels are scored in groups of ``group`` channels and averaged (OpenCV's normed modes take ≤ 4)."""
    img, tpl = _hwc(image), _hwc(template)
    c = img.shape[-1]
    if c != tpl.shape[-1]:
        raise ValueError(f"channel counts differ: {c} vs {tpl.shape[-1]}")
    if not 1 <= group <= 4:
        raise ValueError(f"group must be 1..4 (OpenCV limit), got {group}")
    m = None if mask is None else np.asarray(mask, np.float32)
    if m is not None and m.shape != tpl.shape[:2]:
        raise ValueError(f"mask must be {tpl.shape[:2]}, got {m.shape}")
    maps = []
    for s in range(0, c, group):
        a, b = np.ascontiguousarray(img[..., s:s + group]), np.ascontiguousarray(tpl[..., s:s + group])
        r = cv2.matchTemplate(a, b, cv2.TM_CCOEFF_NORMED, mask=None if m is None else np.repeat(
            m[..., None], b.shape[-1], -1) if b.shape[-1] > 1 else m)
        maps.append(np.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0))
    return np.mean(maps, 0)


def peer_search(templates, masks, references, which: str) -> np.ndarray:
    """Best peer score of R templates (R, C, h, w) over N references (N, C, H, W): max over rotations and offsets,
    (N,). ``which`` = ``skimage`` or ``opencv``."""
    if which not in ("skimage", "opencv"):
        raise ValueError(f"which must be 'skimage' or 'opencv', got {which!r}")
    refs = _hwc(references)
    tpls = _hwc(templates)
    ms = np.asarray(masks.cpu() if isinstance(masks, torch.Tensor) else masks, np.float32)
    out = np.full(len(refs), -np.inf)
    for j in range(len(refs)):
        for r in range(len(tpls)):
            if which == "skimage":
                from skimage.feature import match_template

                s = match_template(refs[j], tpls[r])
            else:
                s = opencv_ncc(np.moveaxis(refs[j], -1, 0), np.moveaxis(tpls[r], -1, 0), ms[r])
            out[j] = max(out[j], float(np.nanmax(s)))
    return out


def peer_gallery(queries, masks, references, extractor, angles, which: str, pad: int = 0, erode: int = 1,
                 ref_feats=None, progress: bool = False) -> tuple[np.ndarray, float]:
    """Score matrix (Q, N) of a peer with the same features / rotations / masks as
    :func:`course_lib.mcncc.search.score_gallery`, and the milliseconds per query."""
    from tqdm.auto import tqdm

    from course_lib.mcncc.search import prepare_references, query_templates

    refs = np.asarray(references, np.float32)
    feats = prepare_references(refs, extractor, pad, dtype=torch.float32) if ref_feats is None else ref_feats
    fit = (refs.shape[1] + 2 * pad, refs.shape[2] + 2 * pad)
    masks = [None] * len(queries) if masks is None else masks
    out = np.zeros((len(queries), len(refs)))
    t0 = time.perf_counter()
    for q, (img, m) in enumerate(tqdm(list(zip(queries, masks)), desc=which, disable=not progress)):
        tpl, tm, _ = query_templates(img, m, angles, extractor, fit, erode, dtype=torch.float32)
        out[q] = peer_search(tpl, tm, feats, which)
    return out, 1e3 * (time.perf_counter() - t0) / max(1, len(queries))


def orb_ransac_scores(queries: Sequence[np.ndarray], references: np.ndarray, n_features: int = 500,
                      ratio: float = 0.8, seed: int = 0) -> tuple[np.ndarray, float]:
    """ORB + RANSAC baseline: inliers of a RANSAC partial-affine (similarity) fit between ratio-test matches of
    every query and every reference, (Q, N), and the milliseconds per query."""
    cv2.setRNGSeed(seed)
    orb = cv2.ORB_create(nfeatures=n_features, edgeThreshold=7, patchSize=15, fastThreshold=5)
    to8 = lambda im: np.clip(np.asarray(im) * 255, 0, 255).astype(np.uint8)  # noqa: E731
    ref_kd = [orb.detectAndCompute(to8(r), None) for r in references]
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    out = np.zeros((len(queries), len(references)))
    t0 = time.perf_counter()
    for q, img in enumerate(queries):
        kq, dq = orb.detectAndCompute(to8(img), None)
        if dq is None or len(kq) < 3:
            continue
        for j, (kr, dr) in enumerate(ref_kd):
            if dr is None or len(kr) < 3:
                continue
            good = [p[0] for p in matcher.knnMatch(dq, dr, k=2) if len(p) == 2 and p[0].distance < ratio *
                    p[1].distance]
            if len(good) < 3:
                out[q, j] = len(good) * 1e-3
                continue
            src = np.float32([kq[g.queryIdx].pt for g in good])
            dst = np.float32([kr[g.trainIdx].pt for g in good])
            _, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0)
            out[q, j] = (0 if inl is None else int(inl.sum())) + len(good) * 1e-3  # ties broken by match count
    return out, 1e3 * (time.perf_counter() - t0) / max(1, len(queries))
