"""GPU-check hook (``make gpu-check``, :mod:`course_lib.gpu_check`) of the low-power series: the digits CNN trained
for a few epochs through the one loop on ``device``, then the compressed variants evaluated on the same device
(fake-quantized int8 / int4 weights, 50 % global magnitude pruning, SVD factorisation, the depthwise-separable swap);
and a fixed float32 forward pass of the seeded base model and its factorised twin to compare devices.

The data are scikit-learn's bundled digits (no download). The real int8 backend (``torch.ao`` quantized kernels) is
CPU-only, so it is not part of the accelerator check.
"""
from __future__ import annotations

import torch

from course_lib.gpu_check import amp_call
from course_lib.low_power import factorization, models
from course_lib.low_power.data import load_digits

EPOCHS = 2


def _variants(base: torch.nn.Module) -> dict[str, torch.nn.Module]:
    from course_lib.low_power import pruning, quantization

    out = {"SVD rank 8": factorization.factorize_model(base, ["6"], rank=8),
           "depthwise-separable": factorization.separable_model(base)}
    for bits in (8, 4):
        out[f"int{bits} weights"] = quantization.quantize_weights(base, bits)
    out["pruned 50%"] = pruning.prune_magnitude(base, 0.5)[0]
    out["structured 50%"] = pruning.prune_channels(base, 0.5)
    return out


def smoke(device: torch.device, *, amp: bool) -> dict[str, float]:
    """Train the digits CNN for :data:`EPOCHS` epochs (AMP when asked), then the test accuracy [%] of it and of
    each compressed variant on ``device``."""
    split = load_digits()
    base = models.build("digits_cnn", seed=0)
    amp_call(models.train, base, split, epochs=EPOCHS, seed=0, device=device, amp=amp)
    base = base.to(device).eval()
    data = split.to(device)
    metrics = {"fp32 accuracy": models.accuracy(base, data.x_test, data.y_test)}
    for name, model in _variants(base).items():
        metrics[f"{name} accuracy"] = models.accuracy(model.to(device).eval(), data.x_test, data.y_test)
    return metrics


def fixed_forward(device: torch.device) -> torch.Tensor:
    """Logits of the seeded (untrained) digits CNN and of its rank-8 factorisation on 32 fixed digits."""
    x = load_digits().x_test[:32].to(device)
    base = models.build("digits_cnn", seed=0).to(device).eval()
    low_rank = factorization.factorize_model(base, ["6"], rank=8).eval()
    with torch.no_grad():
        return torch.cat([base(x), low_rank(x)], dim=1)
