"""GPU-check hook (``make gpu-check``, :mod:`course_lib.gpu_check`): a smoke-scale pass of the counting component's
training and inference on the toy task, next to two learned baselines, and a fixed forward pass to compare."""
from __future__ import annotations

import torch

from course_lib.counting.models import make_model
from course_lib.counting.toy import ToyCountingDataset
from course_lib.counting.training import run_toy
from course_lib.gpu_check import amp_call


def smoke(device: torch.device, *, amp: bool) -> dict[str, float]:
    """The counter, the NMS baseline (threshold fit) and the set transformer: 30 steps each, then evaluation."""
    run = amp_call(run_toy, 0.5, 0.0, models=("counter", "nms", "set_transformer"), iterations=30, batch_size=64,
                   eval_batches=4, eval_batch_size=64, seed=0, device=device, progress=False, amp=amp)
    return {f"{name} accuracy": run.accuracy(name) for name in ("counter", "nms", "set_transformer")}


def fixed_forward(device: torch.device) -> torch.Tensor:
    """Logits of a seeded counting model and set transformer on a fixed toy batch (n = 10 boxes)."""
    batch = ToyCountingDataset(0.5, 0.2, seed=7).batch(64).to(device)
    outs = []
    for name in ("counter", "set_transformer"):
        model = make_model(name, 10, seed=0).to(device).eval()
        outs.append(model(batch.boxes, batch.attention))
    return torch.cat(outs, dim=1)
