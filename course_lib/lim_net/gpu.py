"""GPU-check hook (``make gpu-check``, :mod:`course_lib.gpu_check`): a smoke-scale pass of LIM-Net — the click U-Net
and the memory network trained a few steps on a synthetic volume, then a two-round interactive session with the
simulated user (click module, memory propagation, learned MRF fusion) — and a fixed forward pass to compare."""
from __future__ import annotations

import numpy as np
import torch

from course_lib.gpu_check import amp_call, autocast
from course_lib.lim_net.models import ClickUNet2D, MemoryNet
from course_lib.lim_net.pipeline import LIMNet, LIMNetSession, run_session
from course_lib.lim_net.synthetic import make_synthetic_volume
from course_lib.lim_net.train import memory_forward, train_click_net, train_memory_net, training_pool_structures


def _volume():
    vol = make_synthetic_volume((16, 64, 64), n_blobs=3, seed=0)
    labels = [int(k) for k in np.unique(vol.labels) if k > 0]
    return vol, training_pool_structures([(vol.image, vol.labels == k) for k in labels]), vol.labels == labels[0]


def smoke(device: torch.device, *, amp: bool) -> dict[str, float]:
    """6 steps of each network, then two rounds of the simulated user on one structure (3D Dice per round)."""
    vol, pool, gt = _volume()
    torch.manual_seed(0)
    click_net, memory_net = ClickUNet2D().to(device), MemoryNet().to(device)
    h_click = amp_call(train_click_net, click_net, pool, iters=6, batch=4, crop=64, seed=0, progress=False,
                       device=device, amp=amp)
    h_mem = amp_call(train_memory_net, memory_net, pool, iters=6, batch=2, crop=64, seed=0, progress=False,
                     device=device, amp=amp)
    model = LIMNet(click_net, memory_net).to(device).eval()
    with autocast(device, amp):
        dices = run_session(LIMNetSession(model, vol.image, mrf="learned", device=device), gt, n_rounds=2)
    return {"click_net loss": float(h_click["loss"].iloc[-1]), "memory_net loss": float(h_mem["loss"].iloc[-1]),
            "dice round 1": dices[0], "dice round 2": dices[1]}


def fixed_forward(device: torch.device) -> list[torch.Tensor]:
    """Seeded click U-Net logits and memory-network propagation logits (Eqs. 1-3) on fixed inputs."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 4, 64, 64, generator=gen)
    images = torch.rand(1, 4, 1, 32, 32, generator=gen)
    masks = (torch.rand(1, 4, 1, 32, 32, generator=gen) > 0.5).float()
    torch.manual_seed(0)
    click_net = ClickUNet2D().to(device).eval()
    torch.manual_seed(0)
    memory_net = MemoryNet().to(device).eval()
    return [click_net(x.to(device)), memory_forward(memory_net, images.to(device), masks.to(device))]
