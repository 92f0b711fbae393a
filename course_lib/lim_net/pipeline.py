"""The multi-round interaction loop (Part A of the paper's figure): click -> 2D prompt mask -> memory propagation
-> MRF, and the "2D net on interacted slices + copy the nearest mask" ablation.

One :class:`LIMNetSession` segments one target volume over several rounds; :func:`run_session` drives it with the
simulated user. All sessions share the tiny API ``step(click) -> mask`` and ``masks`` (one bool volume per
round), which the peers in :mod:`course_lib.lim_net.peers` follow too.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from course_lib.checks import require_finite
from course_lib.lim_net.clicks import Click, encode_slice_clicks, interaction_input
from course_lib.lim_net.memory import MemoryBank, PropagationResult, build_permanent, propagate
from course_lib.lim_net.metrics import dice
from course_lib.lim_net.models import ClickUNet2D, MemoryNet, QualityRegressor, count_params
from course_lib.lim_net.mrf import learned_fuse, oracle_fuse
from course_lib.lim_net.user import first_click, next_click

MRF_MODES = ("none", "learned", "oracle", "copy")


@dataclasses.dataclass(frozen=True)
class InferenceConfig:
    """The visible inference knobs: memory (top-k, FIFO length, write interval), click encoding, threshold."""

    top_k: int | None = 20
    fifo_size: int = 4
    mem_every: int = 1
    click_mode: str = "disk"
    click_radius: float = 3.0
    threshold: float = 0.5
    bounded: bool = True  # rounds >= 2 re-propagate only up to the neighbouring interacted slices (MiVOS-style)


class LIMNet(nn.Module):
    """The three trained parts: 2D click U-Net, memory network, MRF quality regressor."""

    def __init__(self, click_net: ClickUNet2D | None = None, memory_net: MemoryNet | None = None,
                 quality_net: QualityRegressor | None = None):
        super().__init__()
        self.click_net = click_net or ClickUNet2D()
        self.memory_net = memory_net or MemoryNet()
        self.quality_net = quality_net or QualityRegressor()

    def param_counts(self) -> dict[str, int]:
        """Parameters of each part and of the interactive pipeline (click + memory nets; MRF scorer separate)."""
        c, m, q = (count_params(n) for n in (self.click_net, self.memory_net, self.quality_net))
        return {"click_net": c, "memory_net": m, "quality_net": q, "total": c + m + q}

    @torch.no_grad()
    def prompt_mask(self, image2d: torch.Tensor, clicks: list[Click], z: int, prev: torch.Tensor | None,
                    cfg: InferenceConfig) -> torch.Tensor:
        """The 2D interaction module on slice ``z``: probability map ``(H, W)`` from image, clicks, previous mask."""
        self.click_net.eval()
        H, W = image2d.shape
        maps = encode_slice_clicks(clicks, z, H, W, mode=cfg.click_mode, radius=cfg.click_radius,
                                   device=image2d.device)
        x = interaction_input(image2d, maps, prev)
        return torch.sigmoid(self.click_net(x))[0, 0]


class LIMNetSession:
    """Multi-round interactive segmentation of one volume with LIM-Net.

    ``mrf``: ``"none"`` (round t+1 replaces round t), ``"learned"`` (Eq. 4 with the quality regressor; the
    slice the user just clicked is pinned to the new round), ``"oracle"`` (Eq. 4 with the true per-slice error;
    needs ``gt``), ``"copy"`` (ablation: no propagation; every slice copies the prompt mask of the nearest
    interacted slice). State (clicks, prompts, candidates, fused masks, the last memory bank) is kept for
    inspection; :meth:`snapshot` / :meth:`restore` make re-running a round reproducible.
    """

    def __init__(self, model: LIMNet, image, *, mrf: str = "learned", cfg: InferenceConfig | None = None,
                 gt=None, device: torch.device | str | None = None):
        if mrf not in MRF_MODES:
            raise ValueError(f"mrf must be one of {MRF_MODES}, got {mrf!r}")
        if mrf == "oracle" and gt is None:
            raise ValueError("the oracle MRF needs the ground truth (gt=...)")
        device = torch.device(device) if device is not None else next(model.parameters()).device
        self.model, self.mrf, self.cfg = model, mrf, cfg or InferenceConfig()
        self.image = torch.as_tensor(np.asarray(image, dtype=np.float32), device=device)
        if self.image.ndim != 3:
            raise ValueError(f"image must be (Z, H, W), got {tuple(self.image.shape)}")
        require_finite("image (Z, H, W volume)", self.image)
        self.gt = None if gt is None else np.asarray(gt, dtype=bool)
        self.clicks: list[Click] = []
        self.prompts: dict[int, torch.Tensor] = {}
        self.candidates: list[np.ndarray] = []  # raw result of each round (before fusion)
        self.masks: list[np.ndarray] = []  # the result shown to the user after each round
        self.took_new: list[np.ndarray] = []
        self.scores: list[tuple[np.ndarray, np.ndarray]] = []
        self.last_propagation: PropagationResult | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.image.shape)

    @property
    def current(self) -> np.ndarray:
        """The latest fused mask (all False before the first round)."""
        return self.masks[-1] if self.masks else np.zeros(self.shape, dtype=bool)

    def memory_bank(self) -> MemoryBank:
        """The permanent memory built from the current prompts (for inspection)."""
        return build_permanent(self.model.memory_net, self.image, self.prompts, self.cfg.fifo_size)

    def step(self, click: Click) -> np.ndarray:
        """One round: add ``click``, re-run the 2D module on its slice, propagate, fuse. Returns the new mask."""
        if not isinstance(click, Click):
            raise TypeError(f"step needs a Click(z, y, x, positive), got {type(click).__name__}")
        Z, H, W = self.shape
        if not (0 <= click.z < Z and 0 <= click.y < H and 0 <= click.x < W):
            raise ValueError(f"click {click} outside the volume of shape {self.shape}")
        self.clicks.append(click)
        z = click.z
        prev = torch.as_tensor(self.current[z], dtype=torch.float32, device=self.image.device)
        prob = self.model.prompt_mask(self.image[z], self.clicks, z, prev if self.masks else None, self.cfg)
        self.prompts[z] = (prob > self.cfg.threshold).float()
        if self.mrf == "copy":
            new = self._copy_nearest()
        else:
            bounded = self.cfg.bounded and bool(self.masks)
            res = propagate(self.model.memory_net, self.image, self.prompts, z, top_k=self.cfg.top_k,
                            fifo_size=self.cfg.fifo_size, mem_every=self.cfg.mem_every, stop_at_prompts=bounded)
            self.last_propagation = res
            new = (res.probs > self.cfg.threshold).cpu().numpy()
            if bounded:  # slices beyond the neighbouring interacted slices keep the current result
                keep = ~res.covered.cpu().numpy()
                new[keep] = self.current[keep]
        self.candidates.append(new)
        if not self.masks or self.mrf in ("none", "copy"):
            fused, took = new, np.ones(Z, dtype=bool)
        elif self.mrf == "oracle":
            fused, took = oracle_fuse(self.current, new, self.gt)
        else:
            fused, took, sp, sn = learned_fuse(self.model.quality_net, self.image, self.current, new, pin=[z])
            self.scores.append((sp, sn))
        self.took_new.append(took)
        self.masks.append(fused)
        return fused

    def _copy_nearest(self) -> np.ndarray:
        zs = np.array(sorted(self.prompts))
        out = np.zeros(self.shape, dtype=bool)
        for z in range(self.shape[0]):
            nearest = int(zs[np.argmin(np.abs(zs - z))])
            out[z] = self.prompts[nearest].cpu().numpy() > 0.5
        return out

    def snapshot(self) -> dict:
        """A copy of the session state (clicks, prompts, masks) to restore later."""
        return {"clicks": list(self.clicks), "prompts": dict(self.prompts), "candidates": list(self.candidates),
                "masks": list(self.masks), "took_new": list(self.took_new), "scores": list(self.scores)}

    def restore(self, state: dict) -> None:
        """Return to a :meth:`snapshot`; the next :meth:`step` then reproduces the same round exactly."""
        for key, value in state.items():
            setattr(self, key, type(value)(value))


def run_session(session, gt, n_rounds: int = 6) -> list[float]:
    """Drive a session with the simulated user for ``n_rounds`` rounds; return the 3D Dice after each round.

    Round 1 uses :func:`~course_lib.lim_net.user.first_click`, later rounds :func:`~course_lib.lim_net.user.
    next_click` on the mask the session currently shows. A perfect mask ends the clicking (Dice stays 1).
    """
    gt = np.asarray(gt, dtype=bool)
    dices: list[float] = []
    for r in range(n_rounds):
        click = first_click(gt) if r == 0 else next_click(session.current, gt)
        if click is None:
            dices.append(dices[-1])
            continue
        dices.append(dice(session.step(click), gt))
    return dices
