"""Multi-channel normalised cross-correlation (MCNCC) and the scores it is compared with.

Feature maps are ``(C, H, W)`` tensors (numpy arrays are accepted and converted); a batch puts more axes in front.
Every score is computed over a pixel set P given by a binary ``mask`` (None = all pixels).

* :func:`per_channel_ncc` — the Pearson correlation r_c of each channel over P (inner term of Eq. 2.1);
* :func:`mcncc` — their mean over channels (Eq. 2.1), or Σ_c w_c r_c with learned weights (Eq. 2.2);
* :func:`ncc3d` — one mean / std over all channels and pixels ("3D NCC", [μ, σ]);
* :func:`cosine` — cosine similarity of the masked, flattened maps;
* :func:`sliding_scores` — all of them at **every offset** of a template over an image, for a batch of images
  (references) and a batch of templates (rotations), by FFT or grouped convolution (§2.5);
* :func:`brute_force_sliding` — the same with explicit loops over offsets (the reference the tests compare to).

**Flat channels (σ = 0).** A channel that is constant over P carries no correlation information: its r_c is
defined as **0** (never NaN). A template channel counts as flat when its std over P is ≤ ``1e-9 × max|t_c|``; an
image window counts as flat when its std over P is ≤ ``1e-6 ×`` the std of that channel over the whole image
(both rules are unchanged by per-channel gains, so the invariance of MCNCC is exact).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

TEMPLATE_FLAT = 1e-9   # template channel flat if std_P ≤ TEMPLATE_FLAT · max_P |t_c|
WINDOW_FLAT = 1e-6     # image window flat if std_P ≤ WINDOW_FLAT · std of the channel over the whole image
SCORES = ("mcncc", "ncc3d", "cosine")


def as_tensor(x, name: str, dtype=torch.float64) -> torch.Tensor:
    """Numpy array or tensor -> floating tensor (``dtype`` unless ``x`` already is a float tensor)."""
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.to(dtype)
    arr = np.asarray(x)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array or tensor, got {arr.dtype}")
    return torch.as_tensor(arr, dtype=dtype)


def _check_pair(x: torch.Tensor, y: torch.Tensor, mask) -> torch.Tensor:
    if x.dim() < 3:
        raise ValueError(f"feature maps must be (..., C, H, W), got shape {tuple(x.shape)}")
    if x.shape[-3:] != y.shape[-3:]:
        if x.shape[-3] != y.shape[-3]:
            raise ValueError(f"channel counts differ: {x.shape[-3]} vs {y.shape[-3]} (shapes {tuple(x.shape)} and "
                             f"{tuple(y.shape)})")
        raise ValueError(f"feature maps must have the same (C, H, W), got {tuple(x.shape)} and {tuple(y.shape)}")
    if mask is None:
        return torch.ones(x.shape[-2:], dtype=x.dtype, device=x.device)
    m = as_tensor(mask, "mask", x.dtype).to(x.device, x.dtype)
    if m.shape != x.shape[-2:]:
        raise ValueError(f"mask must have the spatial shape (H, W) = {tuple(x.shape[-2:])}, got {tuple(m.shape)}")
    if not bool(((m == 0) | (m == 1)).all()):
        raise ValueError("mask must be binary (0/1 or bool)")
    if m.sum() < 2:
        raise ValueError("mask must select at least 2 pixels")
    return m


def per_channel_ncc(x, y, mask=None) -> torch.Tensor:
    """Per-channel Pearson correlation over the masked pixels P, shape (..., C) (inner term of Eq. 2.1):

    r_c = Σ_{i∈P} (x_c[i] − μ_{x_c})(y_c[i] − μ_{y_c}) / sqrt(Σ_P (x_c − μ_{x_c})² · Σ_P (y_c − μ_{y_c})²),

    0 for a flat channel (σ = 0 over P, see the module docstring)."""
    x, y = as_tensor(x, "x"), as_tensor(y, "y")
    y = y.to(x.device, x.dtype)
    m = _check_pair(x, y, mask)
    #: Centre each channel by its **own** mean over the masked pixels P (per-channel μ).
    n = m.sum()
    xc = (x - (x * m).sum((-2, -1), keepdim=True) / n) * m
    yc = (y - (y * m).sum((-2, -1), keepdim=True) / n) * m
    #: Divide by each channel's own norm (per-channel σ): the Pearson correlation $r_c$; a flat channel gives 0.
    sx, sy = (xc ** 2).sum((-2, -1)), (yc ** 2).sum((-2, -1))
    amax = lambda t: (t.abs() * m).amax((-2, -1))  # noqa: E731
    flat = (sx.sqrt() <= TEMPLATE_FLAT * amax(x) * n.sqrt()) | (sy.sqrt() <= TEMPLATE_FLAT * amax(y) * n.sqrt())
    den = torch.where(flat, torch.ones_like(sx), (sx * sy).sqrt())
    return torch.where(flat, torch.zeros_like(sx), (xc * yc).sum((-2, -1)) / den)


def mcncc(x, y, mask=None, weights=None) -> torch.Tensor:
    """MCNCC(x, y) = (1/C) Σ_c r_c (Eq. 2.1 of the paper); with ``weights`` w (C,): Σ_c w_c r_c (Eq. 2.2,
    uniform w_c = 1/C gives Eq. 2.1). Invariant to y_c -> a_c y_c + b_c with a_c > 0."""
    r = per_channel_ncc(x, y, mask)
    if weights is None:
        return r.mean(-1)
    w = as_tensor(weights, "weights", r.dtype).to(r.device, r.dtype)
    if w.shape != r.shape[-1:]:
        raise ValueError(f"weights must have shape ({r.shape[-1]},) (one per channel), got {tuple(w.shape)}")
    return (r * w).sum(-1)


def ncc3d(x, y, mask=None) -> torch.Tensor:
    """"3D NCC" [μ, σ]: one Pearson correlation over all channels and masked pixels (``NCC3D_features.m``)."""
    x, y = as_tensor(x, "x"), as_tensor(y, "y")
    y = y.to(x.device, x.dtype)
    m = _check_pair(x, y, mask)
    n = m.sum() * x.shape[-3]
    xc = (x - (x * m).sum((-3, -2, -1), keepdim=True) / n) * m
    yc = (y - (y * m).sum((-3, -2, -1), keepdim=True) / n) * m
    sx, sy = (xc ** 2).sum((-3, -2, -1)), (yc ** 2).sum((-3, -2, -1))
    den = (sx * sy).sqrt()
    return torch.where(den > 0, (xc * yc).sum((-3, -2, -1)) / den.clamp_min(1e-300), torch.zeros_like(den))


def cosine(x, y, mask=None) -> torch.Tensor:
    """Cosine similarity ⟨x, y⟩ / (‖x‖ ‖y‖) of the masked maps, flattened over channels and pixels."""
    x, y = as_tensor(x, "x"), as_tensor(y, "y")
    y = y.to(x.device, x.dtype)
    m = _check_pair(x, y, mask)
    xm, ym = x * m, y * m
    den = ((xm ** 2).sum((-3, -2, -1)) * (ym ** 2).sum((-3, -2, -1))).sqrt()
    return torch.where(den > 0, (xm * ym).sum((-3, -2, -1)) / den.clamp_min(1e-300), torch.zeros_like(den))


# ------------------------------------------------------------------------------------------------ sliding
@dataclasses.dataclass
class SlidingScores:
    """Score maps of R templates over N images at every valid offset: each (N, R, H−h+1, W−w+1); ``channels``
    holds the per-channel NCC maps (N, R, C, H', W') when requested."""

    mcncc: torch.Tensor | None = None
    ncc3d: torch.Tensor | None = None
    cosine: torch.Tensor | None = None
    channels: torch.Tensor | None = None

    def __getitem__(self, name: str) -> torch.Tensor:
        return getattr(self, name)


def _check_sliding(images, templates, masks):
    images, templates = as_tensor(images, "images"), as_tensor(templates, "templates")
    templates = templates.to(images.device, images.dtype)
    if images.dim() == 3:
        images = images[None]
    if templates.dim() == 3:
        templates = templates[None]
    if images.dim() != 4 or templates.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W) and templates (R, C, h, w); got {tuple(images.shape)} and "
                         f"{tuple(templates.shape)}")
    (_, c, hh, ww), (r, ct, h, w) = images.shape, templates.shape
    if c != ct:
        raise ValueError(f"channel counts differ: images have {c}, templates {ct}")
    if h > hh or w > ww:
        raise ValueError(f"template ({h}×{w}) is larger than the image ({hh}×{ww}); crop or shrink the template, "
                         "or pad the image")
    if masks is None:
        m = torch.ones((r, h, w), dtype=images.dtype, device=images.device)
    else:
        m = as_tensor(masks, "masks").to(images.device, images.dtype)
        if m.dim() == 2 and m.shape == (h, w):
            m = m.expand(r, h, w)
        if m.shape != (r, h, w):
            raise ValueError(f"masks must be (h, w) = {(h, w)} or (R, h, w) = {(r, h, w)}, got {tuple(m.shape)}")
        if not bool(((m == 0) | (m == 1)).all()):
            raise ValueError("masks must be binary (0/1 or bool)")
        if bool((m.sum((-2, -1)) < 2).any()):
            raise ValueError("every mask must select at least 2 pixels")
    return images, templates, m.contiguous()


def _fast_len(n: int) -> int:
    """Smallest 2-3-5-smooth integer ≥ n (fast FFT length)."""
    best = 1 << max(0, (n - 1).bit_length())
    p2 = 1
    while p2 < best:
        p3 = p2
        while p3 < best:
            p5 = p3
            while p5 < n:
                p5 *= 5
            best = min(best, p5)
            p3 *= 3
        p2 *= 2
    return best


def _valid_inverse(spec: torch.Tensor, size: tuple[int, int], out_hw: tuple[int, int]) -> torch.Tensor:
    """Real inverse 2-D DFT of an ``rfft2`` half spectrum (..., Hf, Wf//2+1), evaluated only at the first
    ``out_hw`` rows/columns (the valid offsets). A full ``irfft2`` when many outputs are needed; otherwise two
    small DFT matrix products, out = Re(E_H · P · diag(c) · E_W) / (Hf·Wf), with c_l = 2 except at l = 0 and
    l = Wf/2 (the Hermitian half counted once)."""
    (hf, wf), (un, vn) = size, out_hw
    wr = wf // 2 + 1
    full = 40.0 * hf * wf * math.log2(hf * wf)
    partial = 8.0 * (hf * wr * vn + un * hf * vn)
    if partial >= full:
        return torch.fft.irfft2(spec, s=size)[..., :un, :vn]
    rdt = spec.real.dtype
    c = torch.full((wr,), 2.0, dtype=rdt)
    c[0] = 1.0
    if wf % 2 == 0:
        c[-1] = 1.0
    lv = torch.outer(torch.arange(wr, dtype=rdt), torch.arange(vn, dtype=rdt))
    g_w = torch.polar(c[:, None] / (hf * wf), 2 * math.pi * lv / wf).to(spec.device)          # (Wr, Vn)
    ku = torch.outer(torch.arange(un, dtype=rdt), torch.arange(hf, dtype=rdt))
    e_h = torch.polar(torch.ones((), dtype=rdt), 2 * math.pi * ku / hf).to(spec.device)      # (Un, Hf)
    return torch.matmul(e_h, torch.matmul(spec, g_w)).real


def _sums_fft(images, t_centred, m):
    hh, ww = images.shape[-2:]
    h, w = m.shape[-2:]
    out_hw = (hh - h + 1, ww - w + 1)
    size = (_fast_len(hh), _fast_len(ww))
    fx = torch.fft.rfft2(images, s=size)[:, None]               # (N, 1, C, ...)
    fx2 = torch.fft.rfft2(images ** 2, s=size)[:, None]
    ft = torch.fft.rfft2(t_centred, s=size).conj()[None]        # (1, R, C, ...)
    fm = torch.fft.rfft2(m, s=size).conj()[None, :, None]       # (1, R, 1, ...)
    num = _valid_inverse(fx * ft, size, out_hw)                  # (N, R, C, H', W')
    s1 = _valid_inverse(fx * fm, size, out_hw)
    s2 = _valid_inverse(fx2 * fm, size, out_hw)
    return num, s1, s2


def _sums_conv(images, t_centred, m):
    """The same three sums with grouped convolutions (conv2d is a cross-correlation)."""
    (n, c, hh, ww), (r, _, h, w) = images.shape, t_centred.shape
    out_hw = (hh - h + 1, ww - w + 1)
    weight = t_centred.transpose(0, 1).reshape(c * r, 1, h, w)  # group c holds the R templates of channel c
    num = torch.nn.functional.conv2d(images, weight, groups=c).view(n, c, r, *out_hw).transpose(1, 2)
    flat = images.reshape(n * c, 1, hh, ww)
    ms = m[:, None]
    s1 = torch.nn.functional.conv2d(flat, ms).view(n, c, r, *out_hw).transpose(1, 2)
    s2 = torch.nn.functional.conv2d(flat ** 2, ms).view(n, c, r, *out_hw).transpose(1, 2)
    return num, s1, s2


def choose_method(image_hw: tuple[int, int], template_hw: tuple[int, int]) -> str:
    """``conv`` when the direct sum is much cheaper than the FFT (a handful of offsets or a tiny template), else
    ``fft`` (CPU timings: grouped conv2d is several times slower per multiply-add than the FFT path)."""
    (hh, ww), (h, w) = image_hw, template_hw
    direct = (hh - h + 1) * (ww - w + 1) * h * w
    fft = hh * ww * math.log2(max(hh * ww, 2))
    return "conv" if direct < fft else "fft"


def sliding_scores(images, templates, masks=None, *, scores=SCORES, channels: bool = False, weights=None,
                   method: str = "auto") -> SlidingScores:
    """MCNCC (Eq. 2.1, or Eq. 2.2 with ``weights``), 3D-NCC and cosine of every template at every valid offset of
    every image (§2.5 of the paper: ``normxcorr2`` per channel, batched).

    ``images`` (N, C, H, W) — e.g. the references; ``templates`` (R, C, h, w) — e.g. one query at R rotations;
    ``masks`` (h, w) or (R, h, w), binary (None = all ones). Three correlations per channel give everything:
    the numerator Σ_P t̃ x (t̃ = template centred over P, zero outside) and the masked window sums Σ_P x, Σ_P x²
    (local mean and variance). ``method``: ``fft`` (``torch.fft``), ``conv`` (grouped ``conv2d``) or ``auto``.
    The image is centred per channel first (fewer cancellation errors in the window variance; the
    ``cosine`` and ``ncc3d`` maps are corrected back to the uncentred values)."""
    images, templates, m = _check_sliding(images, templates, masks)
    bad = [s for s in scores if s not in SCORES]
    if bad:
        raise ValueError(f"unknown scores {bad}; choose from {SCORES}")
    if method == "auto":
        method = choose_method(tuple(images.shape[-2:]), tuple(templates.shape[-2:]))
    if method not in ("fft", "conv"):
        raise ValueError(f"method must be 'auto', 'fft' or 'conv', got {method!r}")
    c = images.shape[1]
    #: Template statistics over its mask P (one per rotation r and channel c): $\tilde t = (t - \mu_t)\,m$ and
    #: $n\sigma_t^2 = \sum_P \tilde t^2$.
    npix = m.sum((-2, -1))                                        # (R,)
    mu_t = (templates * m[:, None]).sum((-2, -1)) / npix[:, None]  # (R, C)
    t_cent = (templates - mu_t[..., None, None]) * m[:, None]
    var_t = (t_cent ** 2).sum((-2, -1))                           # (R, C) = n·σ_t²
    #: Three correlations per channel (§2.5): the numerator $\sum_P \tilde t\,x_{u+\cdot}$ and the masked
    #: window sums $S_1 = \sum_P x$, $S_2 = \sum_P x^2$ — by FFT (partial inverse DFT) or grouped ``conv2d``.
    g_mean = images.mean((-2, -1), keepdim=True)
    g_std = images.std((-2, -1), correction=0)                    # (N, C)
    x = images - g_mean
    num, s1, s2 = (_sums_fft if method == "fft" else _sums_conv)(x, t_cent, m)
    #: Local variance of every window, $n\sigma_w^2 = S_2 - S_1^2/n$; flat windows or template channels
    #: ($\sigma = 0$) get $r_c = 0$, never NaN.
    npx = npix[None, :, None, None, None]
    var_w = (s2 - s1 ** 2 / npx).clamp_min(0)                     # n·σ_w² per window
    amax_t = (templates.abs() * m[:, None]).amax((-2, -1))
    flat_t = var_t.sqrt() <= TEMPLATE_FLAT * amax_t * npix[:, None].sqrt()          # (R, C)
    flat_w = var_w.sqrt() <= WINDOW_FLAT * g_std[:, None, :, None, None] * npx.sqrt()
    flat = flat_w | flat_t[None, :, :, None, None]
    den = torch.where(flat, torch.ones_like(var_w), (var_w * var_t[None, :, :, None, None]).sqrt())
    #: Per-channel Pearson correlation at every offset, $r_c = \sum_P \tilde t_c x_c / \sqrt{n\sigma_{t,c}^2\,
    #: n\sigma_{w,c}^2}$; MCNCC is its mean over channels (Eq. 2.1) or $\sum_c w_c r_c$ (Eq. 2.2).
    r = torch.where(flat, torch.zeros_like(num), num / den)       # (N, R, C, H', W')
    out = SlidingScores(channels=r if channels else None)
    if "mcncc" in scores:
        if weights is None:
            out.mcncc = r.mean(2)
        else:
            w = as_tensor(weights, "weights", r.dtype).to(r.device, r.dtype)
            if w.shape != (c,):
                raise ValueError(f"weights must have shape ({c},), got {tuple(w.shape)}")
            out.mcncc = torch.einsum("nrchw,c->nrhw", r, w)
    if "ncc3d" in scores or "cosine" in scores:
        g = g_mean[:, None]                                       # (N, 1, C, 1, 1): undo the centring
        s1u = s1 + g * npx
        s2u = s2 + 2 * g * s1 + g ** 2 * npx
        mu_tc = mu_t[None, :, :, None, None]
        raw = num + mu_tc * s1u                                   # Σ_P t x (uncentred numerator)
        if "cosine" in scores:
            tt = ((templates * m[:, None]) ** 2).sum((-3, -2, -1))[None, :, None, None]
            den_c = (s2u.sum(2) * tt).sqrt()
            out.cosine = torch.where(den_c > 0, raw.sum(2) / den_c.clamp_min(1e-300), torch.zeros_like(den_c))
        if "ncc3d" in scores:
            ntot = npix[None, :, None, None] * c
            mu_all = (mu_t.sum(1) / c)[None, :, None, None]       # joint template mean (R,)
            num3 = raw.sum(2) - mu_all * s1u.sum(2)
            var_w3 = (s2u.sum(2) - s1u.sum(2) ** 2 / ntot).clamp_min(0)
            var_t3 = (((templates - mu_all[0, :, :, :, None]) * m[:, None]) ** 2).sum((-3, -2, -1))
            den3 = (var_w3 * var_t3[None, :, None, None]).sqrt()
            out.ncc3d = torch.where(den3 > 0, num3 / den3.clamp_min(1e-300), torch.zeros_like(den3))
    return out


def brute_force_sliding(images, templates, masks=None, score: str = "mcncc") -> torch.Tensor:
    """Explicit loop over offsets calling :func:`mcncc` / :func:`ncc3d` / :func:`cosine` on each window
    (reference implementation; the window-flatness rule uses the whole-image std as in :func:`sliding_scores`).
    Returns (N, R, H', W')."""
    images, templates, m = _check_sliding(images, templates, masks)
    (n, _, hh, ww), (r, _, h, w) = images.shape, templates.shape
    out = torch.zeros((n, r, hh - h + 1, ww - w + 1), dtype=images.dtype)
    g_std = images.std((-2, -1), correction=0)
    for a in range(n):
        for b in range(r):
            mb = m[b]
            npx = mb.sum()
            for u in range(hh - h + 1):
                for v in range(ww - w + 1):
                    win = images[a, :, u:u + h, v:v + w]
                    if score == "mcncc":
                        rc = per_channel_ncc(win, templates[b], mb)
                        wc = (win - (win * mb).sum((-2, -1), keepdim=True) / npx) * mb
                        flat_w = ((wc ** 2).sum((-2, -1)) / npx).sqrt() <= WINDOW_FLAT * g_std[a]
                        out[a, b, u, v] = torch.where(flat_w, torch.zeros_like(rc), rc).mean()
                    elif score == "ncc3d":
                        out[a, b, u, v] = ncc3d(win, templates[b], mb)
                    elif score == "cosine":
                        out[a, b, u, v] = cosine(win, templates[b], mb)
                    else:
                        raise ValueError(f"unknown score {score!r}; choose from {SCORES}")
    return out
