"""GPU-check hook (``make gpu-check``, :mod:`course_lib.gpu_check`): the feature CNN trained for a few steps through
the MCNCC score, then the full rotation + translation search of a small synthetic gallery on the device, and a fixed
forward pass (CNN features + sliding MCNCC) to compare CPU and accelerator."""
from __future__ import annotations

import numpy as np
import torch

from course_lib.mcncc import experiments, metrics, search, weighted
from course_lib.mcncc.features import GaborBank, TreadCNN
from course_lib.mcncc.ncc import sliding_scores


def smoke(device: torch.device, *, amp: bool) -> dict[str, float]:
    """Two epochs of TreadCNN training through MCNCC (AMP when asked), then Gabor-feature retrieval of 10 synthetic
    patterns with 2 rotations on ``device``: top-1 of MCNCC and cosine, and the training loss."""
    cfg = weighted.CNNConfig(epochs=2, batches_per_epoch=2, batch=16, patterns=32)
    _, hist = weighted.train_cnn(cfg, device=device, amp=amp)
    refs, qs, ms, labels = experiments.synthetic_gallery(10, (64, 32), 0, 10.0, 0.5)
    bank = GaborBank().to(device)
    res = search.score_gallery(qs, ms, refs, bank, search.angles_for(2, 10.0), pad=4)
    out = {k: metrics.cmc_summary(res.scores[k], labels)["top-1"] for k in ("mcncc", "cosine")}
    out["cnn loss"] = float(hist["train_loss"].iloc[-1])
    return out


def fixed_forward(device: torch.device) -> torch.Tensor:
    """A seeded TreadCNN on a fixed image, and the float32 sliding MCNCC / cosine maps of a fixed random template
    over a fixed random image (FFT path), concatenated."""
    torch.manual_seed(0)
    net = TreadCNN(8, 8).to(device).eval()
    x = torch.as_tensor(np.random.default_rng(0).random((1, 1, 32, 24)), dtype=torch.float32, device=device)
    img = torch.as_tensor(np.random.default_rng(1).random((2, 4, 30, 20)), dtype=torch.float32, device=device)
    tpl = img[1:, :, 5:20, 3:15] * 2.0 + 1.0
    with torch.no_grad():
        feats = net(x).flatten()
        s = sliding_scores(img, tpl, None, scores=("mcncc", "cosine"), method="fft")
    return torch.cat([feats, s.mcncc.flatten(), s.cosine.flatten()])
