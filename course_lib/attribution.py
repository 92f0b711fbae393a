"""Attribution metrics, implemented once for every series: any ``model(x) -> logits`` and any attribution maps.

Conventions: ``images`` are ``(N, C, H, W)`` tensors (the model's input space), ``maps`` and ground-truth ``masks``
are ``(N, H, W)`` (one value per pixel; higher = more important), ``targets`` ``(N,)`` class indices. numpy arrays
are accepted wherever a tensor is. Everything is batched over images (and over perturbation steps, which are
stacked into large forward batches of ``batch_size`` images).

* :func:`mask_auroc` — AUROC of a map as a pixel classifier of the ground-truth mask (Mann–Whitney U, ties
  averaged; the localisation metric of the pointing-game family, e.g. Zhang et al. 2021 §4 use a box-based EHR).
* :func:`energy_in_mask` — Σ_mask a⁺ / Σ a⁺ ("proportion of energy", Wang et al., Score-CAM 2020, Eq. 8).
* :func:`insertion_deletion` — MoRF deletion / insertion curves and their AUC (Petsiuk et al., RISE, BMVC 2018)
  with a selectable baseline: ``"zero"``, ``"blur"`` or ``"background"``.
* :func:`sensitivity_n` — Pearson correlation between the attribution mass of n random pixels and the target
  logit's drop when they are removed (Ancona et al., ICLR 2018, §4 "Sensitivity-n").
* :func:`cascading_randomization` — the model-parameter randomisation test (Adebayo et al., NeurIPS 2018, §3.1):
  re-initialise layers from the top down, cumulatively, and measure how similar the maps stay.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from course_lib.checks import as_int, require_finite

BASELINES = ("zero", "blur", "background")


# ----------------------------------------------------------------------------------------------- input checks
def _tensor(name: str, x, dtype=torch.float32, device=None) -> torch.Tensor:
    if isinstance(x, np.ndarray) or isinstance(x, (list, tuple)):
        x = torch.as_tensor(np.asarray(x))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor or a numpy array, got {type(x).__name__}")
    x = x.detach().to(dtype=dtype, device=device)
    if x.is_floating_point():
        require_finite(name, x)
    return x


def check_maps(maps, masks=None, images=None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``maps`` (N, H, W) as float tensor (and ``masks`` as bool), checked against each other and ``images``
    (N, C, H, W). Raises ``ValueError`` naming the expected shape, or NaN/inf in the maps."""
    maps = _tensor("maps", maps)
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape (N, H, W) (one value per pixel), got {tuple(maps.shape)}; "
                         "reduce the channel axis first (e.g. course_lib.attribution.to_pixel_map)")
    if masks is not None:
        masks = _tensor("masks", masks, dtype=torch.float32, device=maps.device)
        if masks.shape != maps.shape:
            raise ValueError(f"masks must have the maps' shape {tuple(maps.shape)}, got {tuple(masks.shape)}")
        masks = masks > 0.5
    if images is not None:
        if images.ndim != 4 or images.shape[0] != maps.shape[0] or images.shape[2:] != maps.shape[1:]:
            raise ValueError(f"images must have shape (N, C, H, W) = ({maps.shape[0]}, C, {maps.shape[1]}, "
                             f"{maps.shape[2]}) to match the maps, got {tuple(images.shape)}")
    return maps, masks


def to_pixel_map(attributions, reduce: str = "sum") -> torch.Tensor:
    """(N, C, H, W) attributions → (N, H, W) pixel maps: ``"sum"`` over channels (signed), ``"abs"`` = Σ_c |a_c|,
    ``"max_abs"`` = max_c |a_c|. (N, H, W) input is returned unchanged."""
    a = _tensor("attributions", attributions)
    if a.ndim == 3:
        return a
    if a.ndim != 4:
        raise ValueError(f"attributions must be (N, C, H, W) or (N, H, W), got {tuple(a.shape)}")
    if reduce == "sum":
        return a.sum(1)
    if reduce == "abs":
        return a.abs().sum(1)
    if reduce == "max_abs":
        return a.abs().amax(1)
    raise ValueError(f"reduce must be 'sum', 'abs' or 'max_abs', got {reduce!r}")


def random_maps(n: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """The "random" method: i.i.d. U(0, 1) maps, seeded (the chance level of every metric)."""
    g = torch.Generator().manual_seed(as_int("seed", seed))
    return torch.rand(as_int("n", n, minimum=1), height, width, generator=g)


# ------------------------------------------------------------------------------------- ground-truth metrics
def mask_auroc(maps, masks) -> np.ndarray:
    """Per image, the AUROC of the map's values as scores for "pixel is in the mask":
    AUROC = (R₊ − n₊(n₊ + 1)/2) / (n₊ n₋), R₊ the sum of the positives' ranks (ties get their average rank;
    Mann–Whitney U). 0.5 = chance, 1 = every mask pixel above every other. Returns (N,) float64."""
    from scipy.stats import rankdata

    maps, masks = check_maps(maps, masks)
    flat = maps.flatten(1).double().cpu().numpy()
    pos = masks.flatten(1).cpu().numpy()
    n_pos = pos.sum(1).astype(np.float64)
    n_neg = pos.shape[1] - n_pos
    if (n_pos == 0).any() or (n_neg == 0).any():
        bad = np.flatnonzero((n_pos == 0) | (n_neg == 0)).tolist()
        raise ValueError(f"mask AUROC needs masks with both mask and non-mask pixels; images {bad} have only one "
                         "kind")
    #: ranks along each row, ties averaged (one vectorised call for the batch)
    ranks = rankdata(flat, axis=1, method="average")
    #: $U = R_+ - n_+(n_+ + 1)/2$, AUROC $= U / (n_+ n_-)$
    return ((ranks * pos).sum(1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def energy_in_mask(maps, masks) -> np.ndarray:
    """Per image, the share of the positive attribution inside the mask: Σ_{mask} a⁺ / Σ a⁺ with a⁺ = max(a, 0)
    (Score-CAM's "energy-based pointing game", Wang et al. 2020 Eq. 8; the unweighted cousin of the EHR of
    Zhang et al. 2021). A map with no positive value counts as uniform (= the mask's area fraction, the chance
    level). Returns (N,) float64."""
    maps, masks = check_maps(maps, masks)
    pos = maps.clamp_min(0).flatten(1).double()
    m = masks.flatten(1).double()
    total = pos.sum(1)
    inside = (pos * m).sum(1)
    chance = m.mean(1)
    return torch.where(total > 0, inside / total.clamp_min(1e-300), chance).cpu().numpy()


# ---------------------------------------------------------------------------------- perturbation metrics
def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Depthwise Gaussian blur, kernel 2·⌈2σ⌉ + 1, reflection padding (the insertion baseline of RISE uses a
    blurred copy; InputIBA's tutorial σ = 15 on 224 px)."""
    if sigma <= 0:
        return images.clone()
    radius = int(np.ceil(2 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    k = torch.exp(-x ** 2 / (2 * sigma ** 2))
    k = k / k.sum()
    c = images.shape[1]
    pad = min(radius, images.shape[-1] - 1, images.shape[-2] - 1)
    out = images
    if pad < radius:  # reflection padding needs pad < size; fall back to replicate beyond that
        out = F.pad(out, (radius,) * 4, mode="replicate")
    else:
        out = F.pad(out, (radius,) * 4, mode="reflect")
    out = F.conv2d(out, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(out, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def make_baseline(images: torch.Tensor, baseline="zero", *, blur_sigma: float | None = None,
                  background=None) -> torch.Tensor:
    """The image every removed pixel is replaced with: ``"zero"`` (0 in the model's input space, the deletion
    baseline of InputIBA's code), ``"blur"`` (Gaussian blur, σ default = width/15), ``"background"``
    (``background``: a float or a tensor broadcastable to the images, e.g. the normalised background level), or
    a tensor of the images' shape."""
    if isinstance(baseline, torch.Tensor):
        if baseline.shape != images.shape:
            raise ValueError(f"a baseline tensor must have the images' shape {tuple(images.shape)}, got "
                             f"{tuple(baseline.shape)}")
        return baseline.to(images)
    if baseline == "zero":
        return torch.zeros_like(images)
    if baseline == "blur":
        return gaussian_blur(images, images.shape[-1] / 15 if blur_sigma is None else float(blur_sigma))
    if baseline == "background":
        if background is None:
            raise ValueError("baseline='background' needs background= (a float or a tensor broadcastable to the "
                             "images)")
        return torch.as_tensor(background, dtype=images.dtype, device=images.device).expand_as(images).clone()
    raise ValueError(f"baseline must be one of {BASELINES} or a tensor, got {baseline!r}")


def pixel_order(maps: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """(N, H·W) pixel indices, most important first (MoRF). Ties are broken by one fixed random permutation
    (seeded), not by raster order, so a map with many equal values is not favoured by where the object is."""
    hw = maps.shape[1] * maps.shape[2]
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(hw, generator=g).to(maps.device)
    flat = maps.flatten(1)[:, perm]
    return perm[torch.argsort(flat, dim=1, descending=True, stable=True)]


@torch.no_grad()
def _target_scores(model, batch: torch.Tensor, targets: torch.Tensor, batch_size: int, kind: str) -> torch.Tensor:
    outs = []
    for i in range(0, len(batch), batch_size):
        logits = model(batch[i:i + batch_size])
        t = targets[i:i + batch_size, None]
        val = logits.float().softmax(1) if kind == "prob" else logits.float()
        outs.append(val.gather(1, t)[:, 0])
    return torch.cat(outs)


def _perturbation_inputs(model, images, maps, targets):
    """Checked (device, images, maps, targets) of a perturbation metric, all on the model's device."""
    dev = _model_device(model, torch.device("cpu"))
    images = _tensor("images", images, device=dev)
    maps, _ = check_maps(maps, images=images)
    targets = _tensor("targets", targets, dtype=torch.long, device=dev)
    if targets.shape != (len(images),):
        raise ValueError(f"targets must have shape ({len(images)},), got {tuple(targets.shape)}")
    return dev, images, maps.to(dev), targets


def _model_device(model, default: torch.device) -> torch.device:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return default


def insertion_deletion(model: Callable, images, maps, targets, mode: str = "deletion", *, baseline="zero",
                       steps: int = 32, blur_sigma: float | None = None, background=None, batch_size: int = 512,
                       seed: int = 0) -> dict[str, np.ndarray]:
    """Deletion / insertion curves and AUC (Petsiuk et al. 2018, RISE §4; the protocol of InputIBA's
    ``insertion_deletion.py``).

    Pixels are ranked by the map (MoRF, :func:`pixel_order`). **Deletion**: after k of ``steps`` steps the top
    k/steps of the pixels are replaced by the baseline; **insertion**: start from the baseline and restore the top
    pixels. The curve is the target's softmax probability at the ``steps + 1`` points; AUC = trapezoid over the
    normalised x-axis [0, 1]. Lower deletion / higher insertion is better. Returns ``{"curves": (N, steps + 1),
    "auc": (N,)}``. All ``N (steps + 1)`` perturbed images go through the model in batches of ``batch_size``."""
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be 'deletion' or 'insertion', got {mode!r}")
    steps = as_int("steps", steps, minimum=1)
    dev, images, maps, targets = _perturbation_inputs(model, images, maps, targets)
    n, c, h, w = images.shape
    base = make_baseline(images, baseline, blur_sigma=blur_sigma, background=background)
    #: rank of every pixel in the MoRF order: rank[i, p] = position of pixel p
    order = pixel_order(maps, seed)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(h * w, device=dev).expand(n, -1))
    #: $k$-th point: the top $\lceil k\,HW/\text{steps} \rceil$ pixels are perturbed (a (steps+1, N, HW) mask)
    counts = torch.ceil(torch.arange(steps + 1, device=dev) * (h * w) / steps).long()
    top = (rank[None] < counts[:, None, None]).view(steps + 1, n, 1, h, w)
    src, dst = (images, base) if mode == "deletion" else (base, images)
    batch = torch.where(top, dst[None], src[None]).reshape(-1, c, h, w)
    scores = _target_scores(model, batch, targets.repeat(steps + 1), batch_size, "prob").view(steps + 1, n).T
    curves = scores.double().cpu().numpy()
    #: AUC by the trapezoid rule over $x \in [0, 1]$
    auc = np.trapezoid(curves, dx=1.0 / steps, axis=1)
    return {"curves": curves, "auc": auc}


def sensitivity_n(model: Callable, images, maps, targets, ns: Sequence[int], *, n_masks: int = 100,
                  baseline="zero", background=None, batch_size: int = 512, seed: int = 0) -> np.ndarray:
    """Sensitivity-n (Ancona et al., ICLR 2018, Def. "Sensitivity-n"; InputIBA's ``sensitivity_n.py``): for each n,
    ``n_masks`` random sets S of n pixels are replaced by the baseline; the score is the Pearson correlation over
    the sets between Σ_{p∈S} a_p and the target **logit** drop f(x) − f(x_{S→baseline}). Returns
    (N, len(ns)) correlations (NaN where either side is constant)."""
    n_masks = as_int("n_masks", n_masks, minimum=2)
    dev, images, maps, targets = _perturbation_inputs(model, images, maps, targets)
    n, c, h, w = images.shape
    ns = [as_int("n", k, minimum=1) for k in ns]
    if max(ns) > h * w:
        raise ValueError(f"every n must be at most the number of pixels {h * w}, got {max(ns)}")
    base = make_baseline(images, baseline, background=background)
    full = _target_scores(model, images, targets, batch_size, "logit")
    g = torch.Generator().manual_seed(seed)
    out = np.full((n, len(ns)), np.nan)
    for j, k in enumerate(ns):
        #: n_masks random subsets of k pixels per image: the k smallest of i.i.d. uniform keys
        keys = torch.rand(n, n_masks, h * w, generator=g).to(dev)
        sel = torch.zeros_like(keys, dtype=torch.bool).scatter_(2, keys.topk(k, dim=2, largest=False).indices, True)
        sel = sel.view(n, n_masks, 1, h, w)
        batch = torch.where(sel, base[:, None], images[:, None]).reshape(-1, c, h, w)
        drop = full[:, None] - _target_scores(model, batch, targets.repeat_interleave(n_masks), batch_size,
                                              "logit").view(n, n_masks)
        mass = (maps[:, None] * sel[:, :, 0]).flatten(2).sum(2)
        #: Pearson correlation per image over its n_masks subsets
        a = mass.double() - mass.double().mean(1, keepdim=True)
        b = drop.double() - drop.double().mean(1, keepdim=True)
        den = (a.square().sum(1) * b.square().sum(1)).sqrt()
        out[:, j] = torch.where(den > 0, (a * b).sum(1) / den.clamp_min(1e-300), torch.nan).cpu().numpy()
    return out


# -------------------------------------------------------------------------------------------- sanity check
def spearman_rows(a, b) -> np.ndarray:
    """Spearman rank correlation of each row pair of (N, ...) arrays (ties averaged)."""
    from scipy.stats import rankdata

    a = np.asarray(a, float).reshape(len(a), -1)
    b = np.asarray(b, float).reshape(len(b), -1)
    if a.shape != b.shape:
        raise ValueError(f"spearman_rows needs equal shapes, got {a.shape} and {b.shape}")
    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    den = np.sqrt((ra ** 2).sum(1) * (rb ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (ra * rb).sum(1) / den, np.nan)


def _reinitialise(module: torch.nn.Module, generator: torch.Generator) -> None:
    for p in module.parameters(recurse=False):
        with torch.no_grad():
            if p.ndim > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=generator) / np.sqrt(fan_in))
            else:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.1)


def cascading_randomization(model: torch.nn.Module, explain: Callable, images, targets,
                            layers: Sequence[str], *, seed: int = 0) -> pd.DataFrame:
    """Cascading model-parameter randomisation (Adebayo et al., *Sanity Checks for Saliency Maps*, NeurIPS 2018,
    §3.1; InputIBA's ``sanity_check.py``): starting from the trained model, re-initialise the parameters of
    ``layers`` one after the other (give them top-down: logits first), **cumulatively**, and after each step
    recompute ``explain(model, images, targets) -> (N, H, W)`` maps. Reports, per step, the Spearman rank
    correlation of |map| with the trained model's |map| (mean and s.e. over images). A method that passes the
    sanity check loses similarity as layers are randomised; a map that stays the same does not depend on the
    learned weights. The model is deep-copied (the caller's model is untouched)."""
    names = dict(model.named_modules())
    missing = [name for name in layers if name not in names]
    if missing:
        valid = [n for n, m in model.named_modules() if n and any(True for _ in m.parameters(recurse=False))]
        raise ValueError(f"unknown layer(s) {missing}; layers with parameters: {valid}")
    work = copy.deepcopy(model).eval()
    g = torch.Generator().manual_seed(seed)
    ref = check_maps(explain(work, images, targets))[0].abs().cpu().numpy()
    rows = [{"randomised up to": "none (trained)", "layers": 0, "spearman": 1.0, "s.e.": 0.0}]
    modules = dict(work.named_modules())
    for i, name in enumerate(layers, 1):
        _reinitialise(modules[name], g)
        cur = check_maps(explain(work, images, targets))[0].abs().cpu().numpy()
        rho = spearman_rows(ref, cur)
        rho = np.nan_to_num(rho, nan=0.0)  # a constant map carries no ranking: similarity 0
        rows.append({"randomised up to": name, "layers": i, "spearman": float(rho.mean()),
                     "s.e.": float(rho.std(ddof=1) / np.sqrt(len(rho))) if len(rho) > 1 else 0.0})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------ summaries
def mean_se(values) -> tuple[float, float]:
    """Mean and standard error (sample s.d. / √n) of a 1-D array of per-image values (NaNs dropped)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0


def evaluate_maps(model: Callable, images, maps, targets, masks, *, baseline="zero", insertion_baseline=None,
                  steps: int = 32, background=None, blur_sigma: float | None = None, seed: int = 0) -> pd.DataFrame:
    """Every ground-truth and perturbation metric of one method's maps, one row per image: mask AUROC,
    energy in mask, deletion AUC (to ``baseline``) and insertion AUC (from ``insertion_baseline``, default the
    same baseline)."""
    kw = dict(steps=steps, background=background, blur_sigma=blur_sigma, seed=seed)
    dele = insertion_deletion(model, images, maps, targets, "deletion", baseline=baseline, **kw)
    ins = insertion_deletion(model, images, maps, targets, "insertion",
                             baseline=baseline if insertion_baseline is None else insertion_baseline, **kw)
    return pd.DataFrame({"mask AUROC": mask_auroc(maps, masks), "energy in mask": energy_in_mask(maps, masks),
                         "deletion AUC": dele["auc"], "insertion AUC": ins["auc"]})
