"""Per-element feature statistics for the IBA prior Q(Z) = N(μ_R, σ_R²): Welford's running mean and variance.

Schulz et al. (ICLR 2020, §3.1) estimate μ_R and σ_R of a layer's feature map over data; :class:`WelfordEstimator`
does it in one pass, batch by batch (Welford's update, combined per batch with Chan et al.'s parallel formula), and
counts how often each element is non-zero to give the "active neuron" mask (elements non-zero in more than 1 % of
the samples; the IBA code multiplies both z and the KL by it).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from course_lib.checks import as_int, require_finite

#: σ_R floor of the IBA code (``min_std``) and the "active neuron" threshold (share of non-zero samples).
MIN_STD, ACTIVE_THRESHOLD = 0.01, 0.01


@dataclass(frozen=True)
class LayerStats:
    """μ_R, σ_R (floored at ``MIN_STD``) and the bool active-neuron mask of one layer, each of shape (C, H, W);
    ``n`` samples were used."""

    mean: torch.Tensor
    std: torch.Tensor
    active: torch.Tensor
    n: int

    def to(self, device) -> LayerStats:
        return LayerStats(self.mean.to(device), self.std.to(device), self.active.to(device), self.n)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.mean.shape)


class WelfordEstimator:
    """Running mean / variance / non-zero counts of samples of a fixed shape (Welford 1962; batches merged with
    Chan et al. 1979: δ = x̄_b − μ, μ ← μ + δ·n_b/n, M₂ ← M₂ + M₂,b + δ²·n_a·n_b/n). ``std()`` is the sample
    standard deviation (ddof = 1, as ``numpy.std(..., ddof=1)``)."""

    def __init__(self):
        self.n = 0
        self.m: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None
        self.nonzero: torch.Tensor | None = None

    def update(self, batch: torch.Tensor) -> WelfordEstimator:
        """Add a batch of samples, shape (N, *sample_shape); computed in float64."""
        if not isinstance(batch, torch.Tensor) or batch.dim() < 1 or len(batch) == 0:
            raise ValueError("WelfordEstimator.update expects a non-empty tensor of shape (N, *sample_shape)")
        x = batch.detach().double()
        if self.m is not None and x.shape[1:] != self.m.shape:
            raise ValueError(f"sample shape {tuple(x.shape[1:])} differs from the earlier samples' "
                             f"{tuple(self.m.shape)}")
        nb = len(x)
        mb = x.mean(0)
        m2b = ((x - mb) ** 2).sum(0)
        nzb = (x != 0).sum(0)
        if self.m is None:
            self.n, self.m, self.m2, self.nonzero = nb, mb, m2b, nzb
            return self
        n = self.n + nb
        delta = mb - self.m
        self.m = self.m + delta * (nb / n)
        self.m2 = self.m2 + m2b + delta ** 2 * (self.n * nb / n)
        self.nonzero = self.nonzero + nzb
        self.n = n
        return self

    def _need(self, k: int) -> None:
        if self.n < k:
            raise ValueError(f"WelfordEstimator needs at least {k} sample(s), has {self.n}")

    def mean(self) -> torch.Tensor:
        """μ = (1/n) Σ x."""
        self._need(1)
        return self.m.float()

    def var(self) -> torch.Tensor:
        """Sample variance M₂ / (n − 1)."""
        self._need(2)
        return (self.m2 / (self.n - 1)).float()

    def std(self) -> torch.Tensor:
        """Sample standard deviation √(M₂ / (n − 1))."""
        return self.var().sqrt()

    def active(self, threshold: float = ACTIVE_THRESHOLD) -> torch.Tensor:
        """Bool mask of the elements non-zero in more than ``threshold`` of the samples."""
        self._need(1)
        return self.nonzero.double() / self.n > threshold

    def stats(self, min_std: float = MIN_STD) -> LayerStats:
        """:class:`LayerStats` with σ floored at ``min_std``."""
        return LayerStats(self.mean(), self.std().clamp_min(min_std), self.active(), self.n)


class _Stop(Exception):
    """Raised by a capture hook to end a forward pass once the layer's output is known."""


def named_layer(model: nn.Module, layer: str) -> nn.Module:
    """The sub-module called ``layer`` (a name of ``model.named_modules()``); a clear error listing the valid
    names otherwise."""
    modules = dict(model.named_modules())
    if not isinstance(layer, str) or layer == "" or layer not in modules:
        names = [name for name in modules if name]
        raise ValueError(f"layer {layer!r} is not a module of {type(model).__name__}; valid layer names: "
                         f"{', '.join(names)}")
    return modules[layer]


def layer_output(model: nn.Module, layer: str, images: torch.Tensor, *, grad: bool = False) -> torch.Tensor:
    """The output R of ``layer`` for ``images``; the forward pass stops there. ``grad=True`` keeps the graph (the
    generator's f(Z_G) of InputIBA needs gradients to its input)."""
    module = named_layer(model, layer)
    captured = []

    def hook(_module, _inputs, output):
        captured.append(output)
        raise _Stop

    handle = module.register_forward_hook(hook)
    try:
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            model(images)
    except _Stop:
        pass
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError(f"layer {layer!r} was not called in the forward pass of {type(model).__name__}")
    return captured[0]


def estimate_layer_stats(model: nn.Module, layer: str, images: torch.Tensor, *, batch_size: int = 250,
                         min_std: float = MIN_STD) -> LayerStats:
    """μ_R, σ_R and the active mask of ``layer`` over ``images`` (N, C, H, W) with :class:`WelfordEstimator`
    (Schulz et al. 2020 recommend ≥ 1 000 samples). Runs on the model's device; returns tensors there."""
    require_finite("images", images)
    batch_size = as_int("batch_size", batch_size, minimum=1)
    device = next(model.parameters()).device
    estimator = WelfordEstimator()
    for i in range(0, len(images), batch_size):
        estimator.update(layer_output(model, layer, images[i:i + batch_size].to(device)))
    return estimator.stats(min_std)
