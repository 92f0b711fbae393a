"""Monotone piecewise-linear activation f: [0, 1] → [0, 1] with f(0) = 0 and f(1) = 1 (paper §3).
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.checks import as_int


class _PiecewiseEval(torch.autograd.Function):
    """f(x) = csum[i] + frac(d·x)·w[i], i = ⌊d·x⌋ (x clamped to [0, 1]), with a hand-written backward.

    The lookups use ``index_select`` on a flat index and the weight gradients use ``bincount``; on CPU this is
    several times faster than autograd through ``csum[idx]`` (whose backward scatter-adds into d slots).
    Gradients: ∂f/∂x = d·w[i] inside [0, 1] (0 outside, as for the clamp), ∂f/∂csum[k] = [i = k], ∂f/∂w[k] =
    frac·[i = k].
    """

    @staticmethod
    def forward(ctx, x, csum, w):
        d = w.numel()
        y = x.clamp(0.0, 1.0) * d
        idx = y.floor().clamp_(max=d - 1)
        frac = y - idx
        flat = idx.long().reshape(-1)
        w_sel = w.index_select(0, flat).view_as(x)
        ctx.save_for_backward(x, flat, frac, w_sel)
        ctx.pieces = d
        return csum.index_select(0, flat).view_as(x) + frac * w_sel

    @staticmethod
    def backward(ctx, grad):
        x, flat, frac, w_sel = ctx.saved_tensors
        grad_x = grad_csum = grad_w = None
        d = int(ctx.pieces)
        if ctx.needs_input_grad[0]:
            grad_x = grad * w_sel * (d * ((x >= 0) & (x <= 1)).to(grad.dtype))
        if ctx.needs_input_grad[1]:
            grad_csum = torch.bincount(flat, grad.reshape(-1), minlength=d).to(grad.dtype)
        if ctx.needs_input_grad[2]:
            grad_w = torch.bincount(flat, (grad * frac).reshape(-1), minlength=d).to(grad.dtype)
        return grad_x, grad_csum, grad_w


class PiecewiseLinear(nn.Module):
    """Monotone piecewise-linear function on [0, 1] with ``d`` equal pieces (paper Eq. for f_k).

    Parameters ``weight`` (w ∈ ℝ^d, initialised to ones ⇒ identity). Piece i has slope d·|w_i| / Σ|w|, so f is
    monotone, f(0) = 0 and f(1) = 1. Evaluation is O(1) per input via a cumulative sum: f(x) = cumsum_{<i}(w̄)
    + frac(d·x) · w̄_i with i = ⌊d·x⌋ and w̄ = |w| / Σ|w|.

    The official code keeps d + 1 weights with w₀ ≡ 0; this module stores only the d live ones (same
    function). Inputs are clamped to [0, 1] (every input of the counter already lies there).
    """

    def __init__(self, d: int = 16):
        super().__init__()
        self.d = d = as_int("d (number of pieces)", d, minimum=1)
        self.weight = nn.Parameter(torch.ones(d))

    @classmethod
    def step(cls, threshold: float, d: int = 16) -> PiecewiseLinear:
        """A hand-set (near-)step function: 0 up to the piece containing ``threshold``, 1 after it.

        All slope sits on the single piece [k/d, (k+1)/d) with k = ⌊d·threshold⌋, so f(x) = 0 for x ≤ k/d and
        f(x) = 1 for x ≥ (k+1)/d. Used to test the de-duplication algebra without training.
        """
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold must lie in [0, 1), got {threshold}")
        f = cls(d)
        with torch.no_grad():
            f.weight.zero_()
            f.weight[int(threshold * d)] = 1.0
        return f

    def normalised_slopes(self) -> torch.Tensor:
        """w̄ = |w| / Σ|w| (the increase of f over each piece); guards Σ|w| = 0 (then f ≡ 0)."""
        w = self.weight.abs()
        return w / w.sum().clamp_min(1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluate f elementwise on a tensor of any shape (values outside [0, 1] are clamped)."""
        if not torch.is_tensor(x):
            raise TypeError(f"PiecewiseLinear expects a torch.Tensor, got {type(x).__name__}")
        w = self.normalised_slopes().to(x.dtype)
        csum = torch.cat([w.new_zeros(1), torch.cumsum(w, 0)[:-1]])  # f at the left end of each piece
        if x.is_cuda:  # autograd through indexing: its CUDA backward has a deterministic implementation
            y = x.clamp(0.0, 1.0) * self.d
            idx = y.detach().floor().clamp_(max=self.d - 1)
            return csum[idx.long()] + (y - idx) * w[idx.long()]
        return _PiecewiseEval.apply(x, csum, w)

    @torch.no_grad()
    def curve(self, num: int = 101) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, f(x)) on ``num`` evenly spaced points of [0, 1] (for plots of the learned functions)."""
        x = torch.linspace(0.0, 1.0, num, device=self.weight.device)
        return x, self(x)

    def extra_repr(self) -> str:
        return f"d={self.d}"
