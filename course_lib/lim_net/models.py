"""The networks: 2D click U-Net (interaction module), memory network (key / value encoders + decoder),
per-slice quality regressor (MRF scorer) and the DeepEdit-style 3D U-Net peer.

Sizes are workbook design choices scaled for CPUs; the paper uses an HRNet click network,
an XMem memory model and a ResNet-50 quality scorer, whose exact configurations are **[not retrieved]**.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _norm(c: int, dims: int = 2) -> nn.Module:
    groups = 4 if c % 4 == 0 else 1
    return nn.GroupNorm(groups, c)


class ConvBlock(nn.Sequential):
    """``n`` x (3x3 conv -> GroupNorm -> ReLU) in 2D or 3D; the first conv may be strided."""

    def __init__(self, c_in: int, c_out: int, *, n: int = 2, stride: int = 1, dims: int = 2):
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        layers: list[nn.Module] = []
        for i in range(n):
            layers += [conv(c_in if i == 0 else c_out, c_out, 3, stride=stride if i == 0 else 1, padding=1,
                            bias=False), _norm(c_out, dims), nn.ReLU(inplace=True)]
        super().__init__(*layers)


class ClickUNet2D(nn.Module):
    """2D interaction module: ``[image, pos map, neg map, prev mask] (B, 4, H, W)`` -> mask logits ``(B, 1, H, W)``.

    A U-Net with ``levels`` resolution levels of ``base * 2^l`` channels (base 16, 4 levels: about 0.49 M
    parameters), max-pool down, bilinear up + skip concatenation. Input sides must be divisible by
    ``2^(levels-1)``. Replaces the paper's HRNet click network at CPU scale.
    """

    def __init__(self, in_ch: int = 4, base: int = 16, levels: int = 4):
        super().__init__()
        if levels < 2:
            raise ValueError(f"levels must be >= 2, got {levels}")
        chans = [base * 2**i for i in range(levels)]
        self.levels = levels
        self.config = {"in_ch": in_ch, "base": base, "levels": levels}
        self.down = nn.ModuleList([ConvBlock(in_ch, chans[0])] +
                                  [ConvBlock(chans[i - 1], chans[i]) for i in range(1, levels)])
        self.up = nn.ModuleList([ConvBlock(chans[i + 1] + chans[i], chans[i]) for i in range(levels - 1)])
        self.head = nn.Conv2d(chans[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.down[0][0].in_channels:
            raise ValueError(f"expected input (B, {self.down[0][0].in_channels}, H, W), got {tuple(x.shape)}")
        m = 2 ** (self.levels - 1)
        if x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(f"H and W must be divisible by {m}, got {tuple(x.shape[-2:])}")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for i in reversed(range(self.levels - 1)):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = self.up[i](torch.cat([x, skips[i]], dim=1))
        return self.head(x)


class KeyEncoder(nn.Module):
    """Query/key encoder of one slice ``(B, 1, H, W)``: features at strides 1, 2, 4 and the key ``(B, C_k, H/4, W/4)``.

    The key is a 1x1 projection of the stride-4 features (STCN/XMem "key projection"); query and memory keys
    come from this same encoder, so the affinity compares like with like.
    """

    def __init__(self, key_dim: int = 32, width: int = 16):
        super().__init__()
        self.s1 = ConvBlock(1, width)
        self.s2 = ConvBlock(width, 2 * width, stride=2)
        self.s4 = ConvBlock(2 * width, 4 * width, stride=2)
        self.key = nn.Conv2d(4 * width, key_dim, 1)
        self.out_channels = (width, 2 * width, 4 * width)

    def forward(self, image: torch.Tensor):
        f1 = self.s1(image)
        f2 = self.s2(f1)
        f4 = self.s4(f2)
        return self.key(f4), (f1, f2, f4)


class ValueEncoder(nn.Module):
    """Value encoder: ``[image, mask] (B, 2, H, W)`` + the key encoder's stride-4 features -> ``(B, C_v, H/4, W/4)``."""

    def __init__(self, value_dim: int = 64, width: int = 16, feat_dim: int = 64):
        super().__init__()
        self.enc = nn.Sequential(ConvBlock(2, width, n=1), ConvBlock(width, 2 * width, n=1, stride=2),
                                 ConvBlock(2 * width, 4 * width, n=1, stride=2))
        self.fuse = ConvBlock(4 * width + feat_dim, value_dim, n=2)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, f4: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([self.enc(torch.cat([image, mask], dim=1)), f4], dim=1))


class MaskDecoder(nn.Module):
    """Decoder: memory readout ``(B, C_v, H/4, W/4)`` (+) query features (+) previous-slice mask -> logits.

    Two bilinear up-sampling steps with skip connections from the key encoder (strides 2 and 1). The soft mask
    of the previously segmented neighbour slice enters at strides 4 and 1: a cheap stand-in for XMem's sensory
    memory (a workbook design choice; set ``use_prev=False`` for the pure STCN readout decoder). With
    ``residual=True`` the output is a correction of the neighbour's mask,
    ``logits = head(x) + g (2 m_prev - 1)`` with a learned gain ``g`` (init 2): the network starts from "copy the
    neighbour's mask" and learns where the structure's outline moves (an option added after the propagation-vs-gap
    diagnostic showed plain propagation below copying; refining the course memory net with it for 600 iterations
    raised propagation on the training structures but lowered it on the unseen organs at gaps >= 4, so it is off
    by default and the course checkpoint does not use it).
    """

    def __init__(self, value_dim: int = 64, feats: tuple[int, int, int] = (16, 32, 64), use_prev: bool = True,
                 residual: bool = False):
        super().__init__()
        f1, f2, f4 = feats
        self.use_prev = use_prev
        if residual and not use_prev:
            raise ValueError("residual=True needs use_prev=True (the residual is added to the previous mask)")
        self.residual = residual
        if residual:  # logits = head(x) + g (2 prev - 1): "copy the neighbour's mask" is the starting point
            self.prev_gain = nn.Parameter(torch.tensor(2.0))
        extra = 1 if use_prev else 0
        self.b4 = ConvBlock(value_dim + f4 + extra, 64, n=2)
        self.b2 = ConvBlock(64 + f2, 32, n=1)
        self.b1 = ConvBlock(32 + f1 + extra, 16, n=1)
        self.head = nn.Conv2d(16, 1, 1)

    def forward(self, readout: torch.Tensor, feats, prev: torch.Tensor | None = None) -> torch.Tensor:
        f1, f2, f4 = feats
        if self.use_prev:
            if prev is None:
                prev = torch.zeros_like(f1[:, :1])
            p4 = F.adaptive_avg_pool2d(prev, f4.shape[-2:])
            x = self.b4(torch.cat([readout, f4, p4], dim=1))
        else:
            x = self.b4(torch.cat([readout, f4], dim=1))
        x = F.interpolate(x, size=f2.shape[-2:], mode="bilinear", align_corners=False)
        x = self.b2(torch.cat([x, f2], dim=1))
        x = F.interpolate(x, size=f1.shape[-2:], mode="bilinear", align_corners=False)
        x = self.b1(torch.cat([x, f1, prev], dim=1) if self.use_prev else torch.cat([x, f1], dim=1))
        if self.residual:
            return self.head(x) + self.prev_gain * (2 * prev - 1)
        return self.head(x)


class MemoryNet(nn.Module):
    """The memory model's trainable parts (STCN/XMem-lite): key encoder, value encoder, decoder.

    The readout between them (negative-L2 affinity, top-k softmax) has no parameters and lives in
    :mod:`course_lib.lim_net.memory`, together with the memory bank and the propagation loop.
    """

    def __init__(self, key_dim: int = 32, value_dim: int = 64, width: int = 16, use_prev: bool = True,
                 residual: bool = False):
        super().__init__()
        self.key_dim, self.value_dim = key_dim, value_dim
        self.config = {"key_dim": key_dim, "value_dim": value_dim, "width": width, "use_prev": use_prev,
                       "residual": residual}
        self.key_encoder = KeyEncoder(key_dim, width)
        feats = self.key_encoder.out_channels
        self.value_encoder = ValueEncoder(value_dim, width, feats[2])
        self.decoder = MaskDecoder(value_dim, feats, use_prev, residual)

    def encode_key(self, image: torch.Tensor):
        """``(B, 1, H, W)`` -> key ``(B, C_k, h, w)`` and the skip features."""
        if image.ndim != 4 or image.shape[1] != 1:
            raise ValueError(f"expected image (B, 1, H, W), got {tuple(image.shape)}")
        if image.shape[-1] % 4 or image.shape[-2] % 4:
            raise ValueError(f"H and W must be divisible by 4, got {tuple(image.shape[-2:])}")
        return self.key_encoder(image)

    def encode_value(self, image: torch.Tensor, mask: torch.Tensor, feats) -> torch.Tensor:
        """Value ``(B, C_v, h, w)`` of a slice and its (soft) mask ``(B, 1, H, W)``."""
        return self.value_encoder(image, mask, feats[2])

    def decode(self, readout: torch.Tensor, feats, prev: torch.Tensor | None = None) -> torch.Tensor:
        """Readout ``(B, C_v, h, w)`` + skip features (+ previous-slice soft mask ``(B, 1, H, W)``) -> logits."""
        return self.decoder(readout, feats, prev)


class QualityRegressor(nn.Module):
    """MRF scorer Q: ``[image, mask, mask above, mask below] (B, 4, H, W)`` -> predicted slice Dice in (0, 1).

    A small strided CNN + global average pooling + two fully-connected layers (the paper: an encoder and two
    FC blocks, ResNet-50 per the review; the training target is **[not retrieved]**; we regress per-slice Dice).
    The neighbouring slices of the same candidate give the scorer the along-z consistency cue.
    """

    def __init__(self, in_ch: int = 4, width: int = 16):
        super().__init__()
        self.config = {"in_ch": in_ch, "width": width}
        self.features = nn.Sequential(
            ConvBlock(in_ch, width, n=1, stride=2), ConvBlock(width, 2 * width, n=1, stride=2),
            ConvBlock(2 * width, 4 * width, n=1, stride=2), ConvBlock(4 * width, 4 * width, n=1, stride=2))
        self.fc = nn.Sequential(nn.Linear(8 * width + 1, 32), nn.ReLU(inplace=True), nn.Linear(32, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 4:
            raise ValueError(f"expected (B, 4, H, W) = [image, mask, mask above, mask below], got {tuple(x.shape)}")
        f = self.features(x)
        area = x[:, 1].mean(dim=(1, 2)).clamp_min(0)[:, None]
        pooled = torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3)), area.sqrt()], dim=1)
        return torch.sigmoid(self.fc(pooled))[:, 0]


class UNet3D(nn.Module):
    """DeepEdit-style 3D interactive peer: ``[image, pos guidance, neg guidance] (B, 3, Z, H, W)`` -> logits.

    A plain 3D U-Net (``levels`` levels of ``base * 2^l`` channels, 2x2x2 max-pooling, trilinear up-sampling
    + skips). Input sides must be divisible by ``2^(levels-1)``; :func:`pad_to_multiple` pads a volume.
    """

    def __init__(self, in_ch: int = 3, base: int = 8, levels: int = 4):
        super().__init__()
        chans = [base * 2**i for i in range(levels)]
        self.levels = levels
        self.config = {"in_ch": in_ch, "base": base, "levels": levels}
        self.down = nn.ModuleList([ConvBlock(in_ch, chans[0], dims=3)] +
                                  [ConvBlock(chans[i - 1], chans[i], dims=3) for i in range(1, levels)])
        self.up = nn.ModuleList([ConvBlock(chans[i + 1] + chans[i], chans[i], dims=3) for i in range(levels - 1)])
        self.head = nn.Conv3d(chans[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5:
            raise ValueError(f"expected (B, C, Z, H, W), got {tuple(x.shape)}")
        m = 2 ** (self.levels - 1)
        if any(s % m for s in x.shape[-3:]):
            raise ValueError(f"Z, H, W must be divisible by {m}, got {tuple(x.shape[-3:])}; use pad_to_multiple")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool3d(x, 2))
            skips.append(x)
        for i in reversed(range(self.levels - 1)):
            x = F.interpolate(x, scale_factor=2, mode="trilinear", align_corners=False)
            x = self.up[i](torch.cat([x, skips[i]], dim=1))
        return self.head(x)


def pad_to_multiple(x: torch.Tensor, multiple: int, dims: int = 3) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Zero-pad the last ``dims`` sides of ``x`` up to a multiple of ``multiple``; returns (padded, original sizes)."""
    sizes = tuple(x.shape[-dims:])
    pad: list[int] = []
    for s in reversed(sizes):
        pad += [0, (-s) % multiple]
    return F.pad(x, pad), sizes
