"""GPU-check hook (``make gpu-check``, :mod:`course_lib.gpu_check`): a smoke-scale training of the cluttered-digits
CNN through the course's loop, then InputIBA's three stages (IBA, WGAN prior, input bottleneck) on two images;
and a fixed forward pass (logits and the per-element IBA KL) to compare devices."""
from __future__ import annotations

import torch

from course_lib.gpu_check import amp_call
from course_lib.input_iba.attributor import InputIBAConfig, explain_batch
from course_lib.input_iba.bottleneck import iba_kl
from course_lib.input_iba.data import cluttered_digits
from course_lib.input_iba.model import TrainConfig, make_cnn, train_cnn
from course_lib.input_iba.prior import GANConfig
from course_lib.input_iba.welford import estimate_layer_stats, layer_output

#: Smoke schedule of the three stages (a few seconds on one CPU core).
SMOKE_CONFIG = InputIBAConfig(feat_steps=5, gan=GANConfig(epochs=2, dataset_size=32, batch_size=16, critic_iter=2),
                              input_steps=10, input_samples=5)


def smoke(device: torch.device, *, amp: bool) -> dict[str, float]:
    """Train the CNN for one epoch of 256 canvases (AMP when asked), then InputIBA on 2 test images (float32)."""
    cfg = TrainConfig(n_train=256, n_test=64, epochs=1, batch_size=64)
    model, history, acc = amp_call(train_cnn, cfg, device=device, amp=amp, progress=False)
    model.requires_grad_(False)
    stats = estimate_layer_stats(model, "pool1", cluttered_digits(128, seed=5).images.to(device))
    test = cluttered_digits(2, split="test", seed=6)
    res = explain_batch(model, test.images.to(device), test.labels.to(device), stats, config=SMOKE_CONFIG, seed=0)
    return {"train loss": float(history["train_loss"].iloc[-1]), "test accuracy": acc,
            "input-bottleneck loss (last step)": res.input.loss[-1].mean().item(),
            "mean Λ": res.input_mask.mean().item(), "mean λ_G": res.lambda_g.mean().item(),
            "feature capacity [bits]": res.feature_capacity.sum(dim=(1, 2)).mean().item()}


def fixed_forward(device: torch.device) -> torch.Tensor:
    """Logits of a seeded CNN on 8 fixed canvases, and the IBA KL at ``pool1`` for a fixed mask λ = 0.7."""
    model = make_cnn(0).to(device).eval()
    images = cluttered_digits(8, split="test", seed=3).images.to(device)
    stats = estimate_layer_stats(model, "pool1", images)
    with torch.no_grad():
        logits = model(images)
        kl = iba_kl(layer_output(model, "pool1", images), torch.full((), 0.7, device=device), stats.mean, stats.std)
    return torch.cat([logits.flatten(), kl.mean(dim=(1, 2, 3))])
