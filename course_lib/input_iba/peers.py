"""Captum attribution methods as peers: same model, same images, same targets, one map format, timed.

Every peer returns an (N, H, W) float32 pixel map on the CPU (higher = more important) and its wall seconds per
image measured in this process. Gradient-type maps (Saliency, Integrated Gradients, DeepLiftShap, Guided Backprop,
SmoothGrad) are reduced to Σ_c |a_c| over input channels, the usual way to display and rank them; Grad-CAM
(ReLU-ed, bilinearly upsampled from its layer) and Occlusion (the target-probability drop) keep their sign.
The settings follow InputIBA's baseline script where it has one (IG with a zero baseline, DeepLiftShap with ten
zero baselines, Grad-CAM on the last convolutional block).
"""
from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from course_lib.attribution import to_pixel_map
from course_lib.device import synchronize

#: the peers of notebook 2's table, in display order
PEERS = ("Saliency", "IntegratedGradients", "GradCAM", "DeepLiftShap", "GuidedBackprop", "Occlusion",
         "SmoothGrad")


@dataclasses.dataclass(frozen=True)
class PeerSettings:
    """Budgets of the Captum peers (defaults for 32×32 single-channel canvases)."""

    ig_steps: int = 32                 # Integrated Gradients: Riemann steps from a zero baseline
    dls_baselines: int = 10            # DeepLiftShap: number of (zero) baselines, as InputIBA's baseline script
    occlusion_window: int = 4          # Occlusion: square window side (pixels) ...
    occlusion_stride: int = 2          # ... and stride
    smoothgrad_samples: int = 16       # NoiseTunnel(Saliency) SmoothGrad: noisy copies per image ...
    smoothgrad_std: float = 0.5        # ... with this noise s.d. (normalised input space: ≈ 15 % of its range)
    batch_size: int = 64               # images per Captum call


@dataclasses.dataclass
class PeerResult:
    """One method's maps (N, H, W) and its wall seconds per image."""

    name: str
    maps: torch.Tensor
    seconds_per_image: float


def find_layer(model: torch.nn.Module, name: str) -> torch.nn.Module:
    """The sub-module called ``name`` (``ValueError`` listing the valid names otherwise)."""
    modules = dict(model.named_modules())
    if name not in modules or not name:
        raise ValueError(f"model has no layer {name!r}; valid layer names: {[n for n in modules if n]}")
    return modules[name]


def _check(model, images, targets) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"images must be a (N, C, H, W) tensor, got "
                         f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}")
    targets = torch.as_tensor(targets, dtype=torch.long)
    if targets.shape != (len(images),):
        raise ValueError(f"targets must have shape ({len(images)},), got {tuple(targets.shape)}")
    if not torch.isfinite(images).all():
        raise ValueError("images must be finite (no NaN or inf)")
    dev = next(model.parameters()).device
    return images.to(dev), targets.to(dev)


def _attribute(name: str, model: torch.nn.Module, x: torch.Tensor, t: torch.Tensor, settings: PeerSettings,
               gradcam_layer: str) -> torch.Tensor:
    import captum.attr as ca

    zeros = torch.zeros_like(x)
    if name == "Saliency":
        return to_pixel_map(ca.Saliency(model).attribute(x, target=t, abs=True), "abs")
    if name == "IntegratedGradients":
        a = ca.IntegratedGradients(model).attribute(x, baselines=zeros, target=t, n_steps=settings.ig_steps,
                                                    internal_batch_size=len(x) * settings.ig_steps)
        return to_pixel_map(a, "abs")
    if name == "GradCAM":
        layer = find_layer(model, gradcam_layer)
        cam = ca.LayerGradCam(model, layer).attribute(x, target=t, relu_attributions=True)
        return F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    if name == "DeepLiftShap":
        base = torch.zeros((settings.dls_baselines, *x.shape[1:]), device=x.device)
        return to_pixel_map(ca.DeepLiftShap(model).attribute(x, baselines=base, target=t), "abs")
    if name == "GuidedBackprop":
        return to_pixel_map(ca.GuidedBackprop(model).attribute(x, target=t), "abs")
    if name == "Occlusion":
        c = x.shape[1]
        w, s = settings.occlusion_window, settings.occlusion_stride
        a = ca.Occlusion(model).attribute(x, sliding_window_shapes=(c, w, w), strides=(c, s, s), baselines=0.0,
                                          target=t, perturbations_per_eval=64)
        return a.sum(1)
    if name == "SmoothGrad":
        nt = ca.NoiseTunnel(ca.Saliency(model))
        a = nt.attribute(x, nt_type="smoothgrad", nt_samples=settings.smoothgrad_samples,
                         stdevs=settings.smoothgrad_std, nt_samples_batch_size=settings.smoothgrad_samples,
                         target=t, abs=True)
        return to_pixel_map(a, "abs")
    raise ValueError(f"unknown peer {name!r}; choose from {PEERS}")


def explain(name: str, model: torch.nn.Module, images: torch.Tensor, targets, *,
            settings: PeerSettings = PeerSettings(), gradcam_layer: str = "relu4") -> torch.Tensor:
    """(N, H, W) maps of Captum method ``name`` for ``targets`` (batched by ``settings.batch_size``)."""
    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; choose from {PEERS}")
    x, t = _check(model, images, targets)
    if name == "GradCAM":
        find_layer(model, gradcam_layer)
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Captum's notes on hooks and inputs without requires_grad
            out = [_attribute(name, model, x[i:i + settings.batch_size], t[i:i + settings.batch_size], settings,
                              gradcam_layer).detach().float().cpu()
                   for i in range(0, len(x), settings.batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out)


def run_peers(model: torch.nn.Module, images: torch.Tensor, targets, names: Sequence[str] = PEERS, *,
              settings: PeerSettings = PeerSettings(), gradcam_layer: str = "relu4") -> dict[str, PeerResult]:
    """Every peer in ``names`` on the same images: maps and wall seconds per image (one warm-up call on the first
    image first, so lazy initialisation is not billed to the first method)."""
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        raise ValueError(f"unknown peer(s) {unknown}; choose from {PEERS}")
    explain("Saliency", model, images[:1], torch.as_tensor(targets)[:1], settings=settings)
    out = {}
    dev = next(model.parameters()).device
    for name in names:
        synchronize(dev)
        t0 = time.perf_counter()
        maps = explain(name, model, images, targets, settings=settings, gradcam_layer=gradcam_layer)
        synchronize(dev)
        out[name] = PeerResult(name, maps, (time.perf_counter() - t0) / len(images))
    return out
