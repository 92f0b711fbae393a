"""InputIBA (Zhang et al., NeurIPS 2021, arXiv:2110.01471): the input bottleneck with the GAN prior, and the
three-stage orchestrator.

* :func:`input_iba_kl` — per-element KL of the input bottleneck against the learned prior (Zhang et al. Eq. 9,
  Remark 2). With the **same** noise ε in Z_I = Λ ⊙ I + (1 − Λ) ⊙ ε and in the prior Λ ⊙ Z_G + (1 − Λ) ⊙ ε,
  Z_G = λ_G ⊙ I + (1 − λ_G) ⊙ ε:
  Q(Z_I) = N(λ_G Λ I + (1 − λ_G Λ) μ, (1 − λ_G Λ)² σ²) and P(Z_I | I) = N(Λ I + (1 − Λ) μ, (1 − Λ)² σ²), so with
  r̃ = (1 − λ_G)(I − μ) / ((1 − λ_G Λ) σ), m = Λ r̃, v = (1 − Λ)² / (1 − λ_G Λ)²:  KL = −½ [1 + log v − m² − v].
  λ_G = 0 gives IBA's KL on the input (:func:`~course_lib.input_iba.bottleneck.iba_kl`); λ_G → 1 gives KL → 0.
* :func:`input_bottleneck` — min L_CE(f(Z_I)) + β·mean(KL) over the input mask logits (Zhang et al. Eq. 8).
* :class:`InputIBA` / :func:`explain_batch` / :func:`explain` — stage 1 IBA at a latent layer → stage 2 WGAN prior
  λ_G → stage 3 input bottleneck Λ; returns the feature capacity, λ_G and Λ separately (:class:`InputIBAResult`).

Two presets of :class:`InputIBAConfig`: :data:`CALIBRATION` (the official schedule: 140 critic steps, 60 input
steps) and :data:`FAST` (a shorter schedule for the course; see its docstring for what was cut and why).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.checks import as_int, require_finite
from course_lib.device import clock
from course_lib.input_iba.bottleneck import ALPHA_INIT, EPS, IBAResult, bottleneck, iba, smooth
from course_lib.input_iba.prior import REAL_SAMPLES, GANConfig, PriorResult, real_samples, train_prior
from course_lib.input_iba.welford import LayerStats, layer_output, named_layer

PRIOR_INITS = ("iba", "zero")


def input_iba_kl(x: torch.Tensor, lam: torch.Tensor, lam_g: torch.Tensor, mean: float | torch.Tensor = 0.0,
                 std: float | torch.Tensor = 1.0) -> torch.Tensor:
    """Per-element KL(P(Z_I|I) ‖ Q(Z_I)) in nats of the input bottleneck with the GAN prior (Zhang et al. Eq. 9):
    r̃ = (1 − λ_G)(I − μ)/((1 − λ_G Λ) σ), m = Λ r̃, v = (1 − Λ)²/(1 − λ_G Λ)², KL = −½ [1 + log v − m² − v].
    ``x`` the input I, ``lam`` Λ, ``lam_g`` λ_G (broadcastable); μ, σ the bottleneck noise (0, 1 in normalised
    input space). Equals IBA's KL when λ_G = 0 and is 0 where λ_G = 1."""
    denom = (1 - lam_g * lam).clamp_min(EPS)
    r_norm = (1 - lam_g) * (x - mean) / (denom * std)
    m = lam * r_norm
    log_v = 2 * (torch.log((1 - lam).clamp_min(EPS)) - torch.log(denom))
    return -0.5 * (1 + log_v - m ** 2 - log_v.exp())


@dataclass
class InputBottleneckResult:
    """:func:`input_bottleneck`'s output for N images: ``mask`` Λ (N, C, H, W) in [0, 1], ``kl`` (N, C, H, W) nats,
    ``loss`` (steps, N) the per-image objective."""

    mask: torch.Tensor
    kl: torch.Tensor
    loss: torch.Tensor


def input_bottleneck(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, lam_g: torch.Tensor, *,
                     beta: float = 20.0, steps: int = 60, lr: float = 1.0, samples: int = 10,
                     sigma: float | None = 1.0, mean: float = 0.0, std: float = 1.0) -> InputBottleneckResult:
    """The input bottleneck of InputIBA (Zhang et al. Eq. 8): Z_I = Λ ⊙ I + (1 − Λ) ⊙ ε, ε ~ N(``mean``,
    ``std``²), Λ = smooth_σ(sigmoid(α)), α₀ = 5; minimise mean_s CE(f(Z_I)) + β·mean(:func:`input_iba_kl`) over α
    with Adam, ``samples`` noise draws per step, all N images at once (sum of per-image losses). ``lam_g`` = λ_G
    (N, C, H, W) from the GAN prior (zeros: IBA on the input)."""
    n = len(images)
    alpha = torch.full_like(images, ALPHA_INIT, requires_grad=True)
    opt = torch.optim.Adam([alpha], lr=lr)
    targets_rep = targets.repeat(samples)
    x_rep = images.expand(samples, *images.shape)
    losses = []
    for _ in range(steps):
        lam = smooth(torch.sigmoid(alpha), sigma)
        z = bottleneck(x_rep, lam, mean, std, torch.randn_like(x_rep))
        logits = model(z.reshape(-1, *images.shape[1:]))
        ce = F.cross_entropy(logits, targets_rep, reduction="none").view(samples, n).mean(0)
        kl = input_iba_kl(images, lam, lam_g, mean, std)
        per_image = ce + beta * kl.flatten(1).mean(1)
        opt.zero_grad(set_to_none=True)
        per_image.sum().backward()
        opt.step()
        losses.append(per_image.detach())
    with torch.no_grad():
        lam = smooth(torch.sigmoid(alpha), sigma)
        kl = input_iba_kl(images, lam, lam_g, mean, std)
    return InputBottleneckResult(mask=lam, kl=kl, loss=torch.stack(losses) if losses else images.new_empty(0, n))


@dataclass(frozen=True)
class InputIBAConfig:
    """Every setting of the three stages.

    Stage 1 (IBA at ``layer``): ``feat_beta``, ``feat_steps``, ``feat_lr``, ``feat_samples`` noise draws,
    ``feat_sigma`` mask smoothing (default None = off, as the official InputIBA code does before its GAN stage;
    1.0 = plain IBA's smoothing. On this course's CNN the unsmoothed latent mask gives a much better prior).
    Stage 2 (WGAN prior): ``gan`` (:class:`~course_lib.input_iba.prior.GANConfig`), ``real_samples`` ("paper" or
    "official", see :func:`~course_lib.input_iba.prior.real_samples`), ``prior_init`` ("iba": mask logits from the
    IBA capacity map as in the official code; "zero": the ablation).
    Stage 3 (input bottleneck): ``input_beta``, ``input_steps``, ``input_lr``, ``input_samples``, ``input_sigma``;
    noise N(0, 1) in normalised input space.
    """

    layer: str = "pool1"
    feat_beta: float = 10.0
    feat_steps: int = 10
    feat_lr: float = 1.0
    feat_samples: int = 10
    feat_sigma: float | None = None
    gan: GANConfig = field(default_factory=GANConfig)
    real_samples: str = "paper"
    prior_init: str = "iba"
    input_beta: float = 20.0
    input_steps: int = 60
    input_lr: float = 1.0
    input_samples: int = 10
    input_sigma: float | None = 1.0

    def validate(self) -> InputIBAConfig:
        """Raise a clear error for an invalid setting; returns self."""
        for name in ("feat_beta", "input_beta"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} (β) must be a finite number > 0, got {value!r}")
        for name in ("feat_steps", "input_steps"):
            as_int(name, getattr(self, name), minimum=0)
        for name in ("feat_samples", "input_samples"):
            as_int(name, getattr(self, name), minimum=1)
        for name in ("epochs", "dataset_size", "batch_size", "critic_iter"):
            as_int(f"gan.{name}", getattr(self.gan, name), minimum=1 if name != "epochs" else 0)
        if self.real_samples not in REAL_SAMPLES:
            raise ValueError(f"real_samples must be one of {REAL_SAMPLES}, got {self.real_samples!r}")
        if self.prior_init not in PRIOR_INITS:
            raise ValueError(f"prior_init must be one of {PRIOR_INITS}, got {self.prior_init!r}")
        return self


#: "Before": the official InputIBA schedule at the course's design settings (feature β = 10, unsmoothed latent mask;
#: WGAN 20 epochs × 7 batches of 32 = 140 critic / 28 generator steps; input β = 20, 60 steps × 10 draws), run one
#: image at a time (``chunk=1``) as the official code does.
CALIBRATION = InputIBAConfig()
#: Smoke scale (structural checks only): WGAN 2 epochs (14 critic / 2 generator steps), 10 input steps.
SMOKE = InputIBAConfig(gan=GANConfig(epochs=2), input_steps=10)
#: "After": the course's fast schedule — all images of a batch optimised together, WGAN cut to 3 epochs (21 critic /
#: 4 generator steps) with reused fake batches (``GANConfig.fresh_fakes=False``), input bottleneck 30 steps × 5 noise
#: draws. Measured on 8 cluttered digits, one thread on a shared (loaded) CPU, same run: 25.4 → 2.8 s per image
#: (9.0×) against :data:`CALIBRATION` run one image at a time, energy-in-mask 0.816 → 0.835 (kept): the mask logits
#: barely move in the GAN stage (lr 0.003), the IBA initialisation carries the prior.
FAST = InputIBAConfig(gan=GANConfig(epochs=3, fresh_fakes=False), input_steps=30, input_samples=5)


@dataclass
class InputIBAResult:
    """InputIBA's outputs for N images of size H×W (all on the images' device, detached).

    ``feature_capacity`` (N, H, W): stage-1 IBA capacity, bits per input pixel (resized from the layer);
    ``lambda_g`` (N, H, W): the GAN prior's input mask λ_G (mean over channels), in [0, 1];
    ``input_mask`` (N, H, W): Λ (mean over channels), in [0, 1] — **the InputIBA attribution** (the official code
    returns this mask, not a KL); ``input_capacity`` (N, H, W): Σ_c KL of the input bottleneck in bits per pixel;
    ``feature``, ``prior``, ``input``: each stage's full result (masks per channel, loss histories);
    ``seconds``: wall-clock seconds of the whole batch (``seconds / N`` per image); ``stage_seconds``: the same
    split into ``{"feature": ..., "prior": ..., "input": ...}`` (summed over chunks)."""

    feature_capacity: torch.Tensor
    lambda_g: torch.Tensor
    input_mask: torch.Tensor
    input_capacity: torch.Tensor
    feature: IBAResult
    prior: PriorResult
    input: InputBottleneckResult
    seconds: float
    stage_seconds: dict = field(default_factory=dict)

    @property
    def attribution(self) -> torch.Tensor:
        """The InputIBA attribution map Λ, (N, H, W)."""
        return self.input_mask


def _first_conv_channels(model: nn.Module) -> int | None:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    return None


def check_inputs(model: nn.Module, images: torch.Tensor, targets, layer: str,
                 stats: LayerStats | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a batch for the attribution methods and return ``(images, targets)`` on the model's device:
    ``images`` a float tensor (N, C, H, W) with C = the first convolution's input channels and no NaN/inf;
    ``targets`` N class indices within the model's outputs; ``layer`` a module name of ``model``; ``stats`` (if
    given) of the same shape as ``layer``'s output for these images (feature statistics estimated at another
    resolution are refused)."""
    named_layer(model, layer)
    if not isinstance(images, torch.Tensor) or not images.is_floating_point() or images.dim() != 4:
        got = f"{type(images).__name__} of shape {tuple(images.shape)}" if isinstance(images, torch.Tensor) else \
            type(images).__name__
        raise ValueError(f"images must be a float tensor of shape (N, C, H, W), got {got}")
    channels = _first_conv_channels(model)
    if channels is not None and images.shape[1] != channels:
        raise ValueError(f"images have {images.shape[1]} channel(s) but the model's first convolution expects "
                         f"{channels} (shape (N, {channels}, H, W))")
    if len(images) == 0:
        raise ValueError("images is empty: got 0 images")
    require_finite("images", images)
    device = next(model.parameters()).device
    images = images.to(device)
    targets = torch.as_tensor(targets, device=device).reshape(-1)
    if targets.dtype.is_floating_point or targets.dtype == torch.bool or len(targets) != len(images):
        raise ValueError(f"targets must be {len(images)} integer class indices, got {targets.dtype} of shape "
                         f"{tuple(targets.shape)}")
    with torch.no_grad():
        classes = model(images[:1]).shape[-1]
        if stats is not None:
            shape = tuple(layer_output(model, layer, images[:1]).shape[1:])
            if shape != stats.shape:
                raise ValueError(f"layer {layer!r} gives features of shape {shape} for these images but the feature "
                                 f"statistics have shape {stats.shape}: estimate them on images of the same size "
                                 f"({tuple(images.shape[1:])})")
    if targets.min() < 0 or targets.max() >= classes:
        raise ValueError(f"targets must be class indices in [0, {classes}), got values {targets.min().item()}.."
                         f"{targets.max().item()}")
    return images, targets.long()


class InputIBA:
    """The three stages of InputIBA (Zhang et al. 2021, Algorithm 1) for a model, a latent ``layer`` and its feature
    statistics ``stats`` (:func:`~course_lib.input_iba.welford.estimate_layer_stats`):

    1. IBA at the layer → λ*, capacity (Schulz et al. Eq. 3) — :func:`~course_lib.input_iba.bottleneck.iba`;
    2. WGAN prior on the input → λ_G — :func:`~course_lib.input_iba.prior.train_prior` on
       :func:`~course_lib.input_iba.prior.real_samples`;
    3. input bottleneck with the GAN-prior KL → Λ — :func:`input_bottleneck`.

    :meth:`explain_batch` optimises the masks of several images at once (exactly independent problems)."""

    def __init__(self, model: nn.Module, stats: LayerStats, config: InputIBAConfig = CALIBRATION):
        self.model, self.config = model, config.validate()
        named_layer(model, config.layer)
        self.stats = stats

    def explain_batch(self, images: torch.Tensor, targets, *, chunk: int | None = None,
                      seed: int | None = 0) -> InputIBAResult:
        """InputIBA for ``images`` (N, C, H, W) and ``targets`` (N,), ``chunk`` images optimised together (default:
        all N). ``seed`` fixes every random draw (the global RNG state is restored afterwards)."""
        cfg = self.config
        images, targets = check_inputs(self.model, images, targets, cfg.layer, self.stats)
        chunk = len(images) if chunk is None else as_int("chunk", chunk, minimum=1)
        device = images.device
        t0 = clock(device)
        parts = []
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            if seed is not None:
                torch.manual_seed(as_int("seed", seed))
            for i in range(0, len(images), chunk):
                parts.append(self._run(images[i:i + chunk], targets[i:i + chunk]))
        seconds = clock(device) - t0
        return _concat(parts, seconds)

    def _run(self, images: torch.Tensor, targets: torch.Tensor) -> InputIBAResult:
        cfg, model, stats = self.config, self.model, self.stats.to(images.device)
        t0 = clock(images.device)
        feat = iba(model, images, targets, cfg.layer, stats, beta=cfg.feat_beta, steps=cfg.feat_steps,
                   lr=cfg.feat_lr, samples=cfg.feat_samples, sigma=cfg.feat_sigma)
        r = layer_output(model, cfg.layer, images)
        t1 = clock(images.device)
        real = real_samples(r, feat.mask, feat.kl, stats, cfg.gan.dataset_size, kind=cfg.real_samples)
        init = feat.capacity[:, None] if cfg.prior_init == "iba" else None
        prior = train_prior(model, cfg.layer, images, real, logits_init=init, config=cfg.gan)
        t2 = clock(images.device)
        inp = input_bottleneck(model, images, targets, prior.mask, beta=cfg.input_beta, steps=cfg.input_steps,
                               lr=cfg.input_lr, samples=cfg.input_samples, sigma=cfg.input_sigma)
        t3 = clock(images.device)
        return InputIBAResult(feature_capacity=feat.capacity, lambda_g=prior.mask.mean(1),
                              input_mask=inp.mask.mean(1), input_capacity=inp.kl.sum(1) / math.log(2),
                              feature=feat, prior=prior, input=inp, seconds=0.0,
                              stage_seconds={"feature": t1 - t0, "prior": t2 - t1, "input": t3 - t2})


def _concat(parts: list[InputIBAResult], seconds: float) -> InputIBAResult:
    if len(parts) == 1:
        return replace(parts[0], seconds=seconds)

    def cat(get, dim=0):
        return torch.cat([get(p) for p in parts], dim)

    feature = IBAResult(cat(lambda p: p.feature.capacity), cat(lambda p: p.feature.kl), cat(lambda p: p.feature.mask),
                        _cat_ragged([p.feature.loss for p in parts]))
    prior = PriorResult(cat(lambda p: p.prior.mask), cat(lambda p: p.prior.mu), cat(lambda p: p.prior.sigma),
                        _cat_ragged([p.prior.critic_loss for p in parts]),
                        _cat_ragged([p.prior.generator_loss for p in parts]))
    inp = InputBottleneckResult(cat(lambda p: p.input.mask), cat(lambda p: p.input.kl),
                                _cat_ragged([p.input.loss for p in parts]))
    stages = {k: sum(p.stage_seconds[k] for p in parts) for k in parts[0].stage_seconds}
    return InputIBAResult(cat(lambda p: p.feature_capacity), cat(lambda p: p.lambda_g), cat(lambda p: p.input_mask),
                          cat(lambda p: p.input_capacity), feature, prior, inp, seconds, stages)


def _cat_ragged(histories: list[torch.Tensor]) -> torch.Tensor:
    """Loss histories (steps, n_i) of the chunks side by side (the chunks share the schedule, so steps match)."""
    return torch.cat(histories, dim=1)


def explain_batch(model: nn.Module, images: torch.Tensor, targets, stats: LayerStats, *,
                  config: InputIBAConfig = CALIBRATION, chunk: int | None = None, seed: int | None = 0,
                  **overrides) -> InputIBAResult:
    """InputIBA for a batch: ``InputIBA(model, stats, config).explain_batch(images, targets)``; keyword
    ``overrides`` replace fields of ``config`` (e.g. ``input_beta=10``, ``real_samples="official"``)."""
    if overrides:
        config = replace(config, **overrides)
    return InputIBA(model, stats, config).explain_batch(images, targets, chunk=chunk, seed=seed)


def explain(model: nn.Module, image: torch.Tensor, target: int, stats: LayerStats, *,
            config: InputIBAConfig = CALIBRATION, seed: int | None = 0, **overrides) -> InputIBAResult:
    """InputIBA for one image (C, H, W) or (1, C, H, W) and its target class; the result has N = 1."""
    if isinstance(image, torch.Tensor) and image.dim() == 3:
        image = image[None]
    return explain_batch(model, image, [target], stats, config=config, seed=seed, **overrides)


def iba_attribution(model: nn.Module, images: torch.Tensor, targets, stats: LayerStats, *, layer: str = "pool1",
                    beta: float = 10.0, steps: int = 10, lr: float = 1.0, samples: int = 10,
                    sigma: float | None = 1.0, seed: int | None = 0) -> IBAResult:
    """Plain IBA (Schulz et al. 2020, Eq. 3) at ``layer`` for a validated batch — the baseline of the series; its
    ``capacity`` (N, H, W) in bits per input pixel is the attribution map."""
    if not (isinstance(beta, int | float) and math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta (β) must be a finite number > 0, got {beta!r}")
    images, targets = check_inputs(model, images, targets, layer, stats)
    return iba(model, images, targets, layer, stats, beta=beta, steps=as_int("steps", steps, minimum=0), lr=lr,
               samples=as_int("samples", samples, minimum=1), sigma=sigma, seed=seed)
