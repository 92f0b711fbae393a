"""Uniform quantisation from scratch: quantisers, observers, PTQ, QAT with a clipped STE, and real int8.

The affine scheme of Jacob et al. (CVPR 2018, Eq. 1): a real value ``r`` is stored as an integer ``q`` with
``r ≈ S (q − Z)``; symmetric quantisation fixes ``Z = 0``. Rounding to a grid of step ``Δ = S`` adds an error
uniform on ``[−Δ/2, Δ/2]`` whose mean square is ``Δ²/12`` (inside the clipping range). Observers choose the range
(min/max, a percentile, or the range minimising the mean squared error); PTQ quantises a trained model and
calibrates its activations on a few batches; QAT trains through the quantiser with the straight-through estimator
(Bengio, Léonard & Courville 2013), clipped outside the range (as in BinaryConnect / Hubara et al. 2016).
:func:`to_int8` turns a calibrated model into ``torch.ao`` quantized modules, so the int8 model really runs on the
CPU's int8 kernels (x86 / fbgemm) and its bytes and latency are measured.
"""
from __future__ import annotations

import copy
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.checks import as_int

OBSERVERS = ("minmax", "percentile", "mse")
_QUANT = (nn.Linear, nn.Conv1d, nn.Conv2d)


def check_bits(bits) -> int:
    """``bits`` as an int in 1..16 (``ValueError`` otherwise: fewer than one bit stores nothing, and more than 16
    is not what these quantisers are for)."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
        raise ValueError(f"bits must be an int between 1 and 16, got {bits!r}")
    return bits


def qrange(bits: int, *, symmetric: bool, reduce_range: bool = False) -> tuple[int, int]:
    """Integer range: symmetric (signed, restricted) ``[−(2^{b−1}−1), 2^{b−1}−1]`` (1 bit: ``{−1, +1}``, see
    :func:`fake_quantize`); affine (unsigned) ``[0, 2^b − 1]`` (``reduce_range``: one bit less, as the x86 int8
    kernels need for activations)."""
    bits = check_bits(bits)
    if symmetric:
        return (-1, 1) if bits == 1 else (-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1)
    b = bits - 1 if reduce_range and bits > 1 else bits
    return 0, 2 ** b - 1


def _reduce(x: torch.Tensor, axis: int | None, fn):
    """Apply a reduction over every dim except ``axis`` (per channel) or over all (per tensor)."""
    if axis is None:
        return fn(x.reshape(-1))
    return fn(x.transpose(0, axis).reshape(x.shape[axis], -1).T)


def _view(t: torch.Tensor, x: torch.Tensor, axis: int | None) -> torch.Tensor:
    if axis is None:
        return t
    shape = [1] * x.dim()
    shape[axis] = -1
    return t.reshape(shape)


def qparams(lo: torch.Tensor, hi: torch.Tensor, bits: int, *, symmetric: bool, reduce_range: bool = False):
    """Scale and zero point from a range ``[lo, hi]`` (Jacob et al. 2018, §2.1): symmetric
    ``S = max(|lo|, |hi|) / q_max, Z = 0``; affine ``S = (hi − lo) / (q_max − q_min)``, ``Z = q_min − round(lo / S)``
    (the range is first widened to contain 0, so that zero is exactly representable)."""
    qmin, qmax = qrange(bits, symmetric=symmetric, reduce_range=reduce_range)
    eps = torch.finfo(torch.float32).eps
    if symmetric:
        #: Symmetric: $S = \max(|\mathrm{lo}|, |\mathrm{hi}|) / q_{\max}$, $Z = 0$.
        scale = torch.maximum(lo.abs(), hi.abs()) / max(qmax, 1)
        return scale.clamp_min(eps), torch.zeros_like(scale, dtype=torch.int64)
    #: Affine: the range is widened to contain 0, $S = (\mathrm{hi} - \mathrm{lo}) / (q_{\max} - q_{\min})$ and
    #: $Z = q_{\min} - \mathrm{round}(\mathrm{lo}/S)$, so that $r = 0$ maps exactly to the integer $Z$.
    lo, hi = lo.clamp_max(0), hi.clamp_min(0)
    scale = ((hi - lo) / (qmax - qmin)).clamp_min(eps)
    zero = (qmin - torch.round(lo / scale)).clamp(qmin, qmax).to(torch.int64)
    return scale, zero


def fake_quantize(x: torch.Tensor, scale, zero_point, bits: int, *, symmetric: bool, axis: int | None = None,
                  reduce_range: bool = False) -> torch.Tensor:
    """Quantise and dequantise (Jacob et al. 2018, Eq. 1): ``x̂ = S · (clamp(round(x / S) + Z, q_min, q_max) − Z)``;
    ``axis`` = the channel axis of per-channel ``scale`` / ``zero_point`` (None: per tensor). One bit (symmetric)
    keeps only the sign: ``x̂ = S · sign(x)``. The rounding error inside the range has mean square ``Δ²/12``."""
    qmin, qmax = qrange(bits, symmetric=symmetric, reduce_range=reduce_range)
    s = _view(torch.as_tensor(scale, dtype=x.dtype, device=x.device), x, axis)
    z = _view(torch.as_tensor(zero_point, device=x.device), x, axis).to(x.dtype)
    if symmetric and bits == 1:
        return s * torch.where(x >= 0, 1.0, -1.0).to(x.dtype)
    #: Quantise: $q = \mathrm{clamp}(\mathrm{round}(x/S) + Z,\ q_{\min},\ q_{\max})$ — the only lossy step.
    q = torch.clamp(torch.round(x / s) + z, qmin, qmax)
    #: Dequantise: $\hat x = S\,(q - Z)$; inside the range $|x - \hat x| \le \Delta/2$ with $\Delta = S$.
    return s * (q - z)


def observe(x: torch.Tensor, bits: int, *, observer: str = "minmax", symmetric: bool = True, axis: int | None = None,
            percentile: float = 99.99, reduce_range: bool = False, grid: int = 46) -> tuple[torch.Tensor, torch.Tensor]:
    """The range ``(lo, hi)`` an observer picks for ``x`` (per channel along ``axis``, or per tensor):
    ``"minmax"`` — the extremes; ``"percentile"`` — the ``percentile`` and ``100 − percentile`` quantiles (clips
    outliers); ``"mse"`` — the range ``α · [min, max]``, α on a grid in [0.1, 1], minimising the mean squared
    quantisation error (clipping error traded against rounding error ``Δ²/12``) over ``grid`` values of α."""
    if observer not in OBSERVERS:
        raise ValueError(f"observer must be one of {OBSERVERS}, got {observer!r}")
    check_bits(bits)
    x = x.detach().float()
    #: Min/max: the extremes (per channel along ``axis``) — nothing is clipped, a single outlier sets the step.
    lo = _reduce(x, axis, lambda t: t.min(0).values if axis is not None else t.min())
    hi = _reduce(x, axis, lambda t: t.max(0).values if axis is not None else t.max())
    #: Percentile: clip the tails to the $p$-th and $(100-p)$-th percentiles.
    if observer == "percentile":
        if not 50 < percentile <= 100:
            raise ValueError(f"percentile must be in (50, 100], got {percentile!r}")
        flat = x.reshape(-1) if axis is None else x.transpose(0, axis).reshape(x.shape[axis], -1)
        if flat.shape[-1] > 2 ** 24:
            flat = flat[..., torch.randperm(flat.shape[-1])[: 2 ** 24]]
        lo = torch.quantile(flat, 1 - percentile / 100, dim=-1)
        hi = torch.quantile(flat, percentile / 100, dim=-1)
    elif observer == "mse":
        #: MSE observer: try the ranges $\alpha\,[\mathrm{lo}, \mathrm{hi}]$ for a grid of $\alpha$ at once
        #: (one broadcast over the grid) and keep, per channel, the one with the least $\|x - \hat x\|^2$.
        g = as_int("grid", grid, minimum=1)
        grid_values = torch.linspace(0.1, 1.0, g, device=x.device)
        alphas = grid_values.reshape(-1, *([1] * lo.dim()))
        sc, zp = qparams(lo * alphas, hi * alphas, bits, symmetric=symmetric, reduce_range=reduce_range)
        shape = [g] + [1] * x.dim()
        if axis is not None:
            shape[axis + 1] = -1
        sc, zp = sc.reshape(shape), zp.reshape(shape).to(x.dtype)
        qmin, qmax = qrange(bits, symmetric=symmetric, reduce_range=reduce_range)
        err = (sc * (torch.clamp(torch.round(x / sc) + zp, qmin, qmax) - zp) - x).pow(2)
        if axis is None:
            err = err.reshape(g, -1).mean(1)
        else:
            err = err.transpose(1, axis + 1).reshape(g, x.shape[axis], -1).mean(2)
        best = grid_values[err.argmin(0)]
        best = best.reshape(lo.shape)
        lo, hi = lo * best, hi * best
    return lo, hi


def quantize_tensor(x: torch.Tensor, bits: int, *, observer: str = "minmax", symmetric: bool = True,
                    per_channel: bool = True) -> torch.Tensor:
    """``x`` fake-quantised at ``bits`` with the range an observer picks (per output channel = axis 0)."""
    check_bits(bits)
    axis = 0 if per_channel and x.dim() > 1 else None
    if symmetric and bits == 1:  # sign × mean |x| per channel: the L2-optimal binary scale (Rastegari 2016)
        s = _reduce(x.detach().abs(), axis, lambda t: t.mean(0) if axis is not None else t.mean())
        return fake_quantize(x, s, torch.zeros_like(s), 1, symmetric=True, axis=axis)
    lo, hi = observe(x, bits, observer=observer, symmetric=symmetric, axis=axis)
    s, z = qparams(lo, hi, bits, symmetric=symmetric)
    return fake_quantize(x, s, z, bits, symmetric=symmetric, axis=axis)


def sqnr_db(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Signal-to-quantisation-noise ratio ``10 log10(Σ x² / Σ (x − x̂)²)`` in dB (≈ 6.02 dB per bit)."""
    noise = (x - x_hat).pow(2).sum()
    return float(10 * torch.log10(x.pow(2).sum() / noise.clamp_min(1e-30)))


# --------------------------------------------------------------------------------------------- weight PTQ
def _check_model(model) -> None:
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"expected an nn.Sequential of Conv/Linear/ReLU/... layers, got {type(model).__name__}")


def quantize_weights(model: nn.Module, bits: int, *, observer: str = "minmax", symmetric: bool = True,
                     per_channel: bool = True) -> nn.Module:
    """Weight-only PTQ: a copy of ``model`` whose Linear/Conv weights are fake-quantised at ``bits`` (biases stay
    float32, as in integer-only inference where they are int32)."""
    check_bits(bits)
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    out = copy.deepcopy(model)
    with torch.no_grad():
        for m in out.modules():
            if isinstance(m, _QUANT):
                m.weight.copy_(quantize_tensor(m.weight, bits, observer=observer, symmetric=symmetric,
                                               per_channel=per_channel))
    return out


# ------------------------------------------------------------------------------- PTQ with calibrated activations
class ActQuant(nn.Module):
    """Fake-quantises activations (affine, unsigned, per tensor). First ``observing`` (collects every value it sees
    during calibration), then :meth:`freeze` picks the range with an observer; afterwards it quantises."""

    def __init__(self, bits: int = 8, observer: str = "minmax", reduce_range: bool = True):
        super().__init__()
        self.bits, self.observer, self.reduce_range = check_bits(bits), observer, reduce_range
        self.observing, self.seen = True, []
        self.register_buffer("scale", torch.tensor(1.0))
        self.register_buffer("zero_point", torch.tensor(0, dtype=torch.int64))

    def forward(self, x):
        if self.observing:
            self.seen.append(x.detach().reshape(-1)[:: max(1, x.numel() // 65536)])
            return x
        return fake_quantize(x, self.scale, self.zero_point, self.bits, symmetric=False,
                             reduce_range=self.reduce_range)

    def freeze(self) -> None:
        if not self.seen:
            raise RuntimeError("ActQuant saw no data: run calibration batches through the model first")
        lo, hi = observe(torch.cat(self.seen), self.bits, observer=self.observer, symmetric=False,
                         reduce_range=self.reduce_range)
        self.scale, self.zero_point = qparams(lo, hi, self.bits, symmetric=False, reduce_range=self.reduce_range)
        self.observing, self.seen = False, []


def ptq(model: nn.Sequential, calib_x: torch.Tensor, bits: int = 8, *, act_bits: int = 8,
        observer: str = "minmax", act_observer: str = "minmax", per_channel: bool = True,
        reduce_range: bool = True) -> nn.Sequential:
    """Post-training quantisation with calibrated activations (Jacob et al. 2018, §2 and §3): weights quantised
    symmetric per channel at ``bits``; activations affine at ``act_bits`` after the input and after each
    Linear/Conv (after its ReLU, i.e. Conv+ReLU fused), their ranges observed on ``calib_x``. Returns a new
    Sequential with :class:`ActQuant` modules in place (a simulation: float arithmetic on quantised values;
    :func:`to_int8` makes it run in int8)."""
    _check_model(model)
    check_bits(act_bits)
    #: Weights: symmetric, one scale per output channel, $\hat W = S_c \cdot \mathrm{clamp}(\mathrm{round}(W/S_c))$.
    qmodel = quantize_weights(model, bits, observer=observer, per_channel=per_channel)
    #: Activations: an affine quantizer after the input and after each layer's output — after its ReLU when one
    #: follows (Conv+ReLU fused, Jacob et al. §3), so the ReLU's zero is an exact code.
    layers, mods = [ActQuant(act_bits, act_observer, reduce_range)], list(qmodel)
    for i, m in enumerate(mods):
        layers.append(m)
        is_q = isinstance(m, _QUANT)
        fused_relu = isinstance(m, nn.ReLU) and i > 0 and isinstance(mods[i - 1], _QUANT)
        if (is_q and not (i + 1 < len(mods) and isinstance(mods[i + 1], nn.ReLU))) or fused_relu:
            layers.append(ActQuant(act_bits, act_observer, reduce_range))
    sim = nn.Sequential(*layers).eval()
    #: Calibration: run a few hundred inputs through, let each quantizer observe its range, then freeze
    #: $S, Z$ (no labels, no gradients).
    with torch.no_grad():
        sim(calib_x)
    for m in sim.modules():
        if isinstance(m, ActQuant):
            m.freeze()
    sim.weight_bits = bits
    return sim


def to_int8(sim: nn.Sequential, *, engine: str = "x86") -> nn.Sequential:
    """The calibrated PTQ model ``sim`` (8-bit, from :func:`ptq`) as ``torch.ao`` quantized modules with *our*
    scales and zero points: ``Quantize`` → int8 ``ConvReLU2d`` / ``LinearReLU`` / ``Linear`` (weights ``qint8``
    per channel, activations ``quint8``) → ``DeQuantize``. The result runs on the CPU's int8 kernels (``engine``
    x86/fbgemm or qnnpack); CPU only."""
    import torch.ao.nn.intrinsic.quantized as nniq
    import torch.ao.nn.quantized as nnq

    _check_model(sim)
    if getattr(sim, "weight_bits", None) != 8:
        raise ValueError("to_int8 needs an 8-bit model from ptq(model, calib_x, bits=8)")
    if engine not in torch.backends.quantized.supported_engines:
        raise ValueError(f"engine must be one of {torch.backends.quantized.supported_engines}, got {engine!r}")
    torch.backends.quantized.engine = engine
    mods = list(sim)
    out, i = [], 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantized tensor creation is deprecated in favour of torchao
        while i < len(mods):
            m = mods[i]
            if isinstance(m, ActQuant) and i == 0:
                out.append(nnq.Quantize(float(m.scale), int(m.zero_point), torch.quint8))
                i += 1
                continue
            if isinstance(m, _QUANT):
                relu = i + 1 < len(mods) and isinstance(mods[i + 1], nn.ReLU)
                act = mods[i + 2] if relu else mods[i + 1]
                if not isinstance(act, ActQuant):
                    raise ValueError(f"layer {i} has no calibrated output quantiser")
                out.append(_int8_layer(m, relu, act, nnq, nniq))
                i += 3 if relu else 2
                continue
            if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.Flatten)):
                out.append(copy.deepcopy(m))
                i += 1
                continue
            raise ValueError(f"to_int8 does not handle layer {i} ({type(m).__name__})")
        out.append(nnq.DeQuantize())
    return nn.Sequential(*out).eval()


def _int8_layer(m, relu: bool, act: ActQuant, nnq, nniq):
    w = m.weight.detach().float()
    amax = _reduce(w.abs(), 0, lambda t: t.max(0).values).clamp_min(1e-8)
    scales = (amax / 127).double()
    qw = torch.quantize_per_channel(w, scales, torch.zeros_like(scales, dtype=torch.int64), 0, torch.qint8)
    bias = m.bias.detach().float() if m.bias is not None else None
    if isinstance(m, nn.Linear):
        q = (nniq.LinearReLU if relu else nnq.Linear)(m.in_features, m.out_features)
    else:
        cls = {nn.Conv1d: (nniq.ConvReLU1d, nnq.Conv1d), nn.Conv2d: (nniq.ConvReLU2d, nnq.Conv2d)}[type(m)]
        q = cls[0 if relu else 1](m.in_channels, m.out_channels, m.kernel_size, stride=m.stride, padding=m.padding,
                                  dilation=m.dilation, groups=m.groups, bias=m.bias is not None)
    q.set_weight_bias(qw, bias)
    q.scale, q.zero_point = float(act.scale), int(act.zero_point)
    return q


# ---------------------------------------------------------------------------------------------------- QAT
class _ClippedSTE(torch.autograd.Function):
    """Forward: fake quantisation. Backward: the straight-through estimator, ∂x̂/∂x ≈ 1 inside the clipping range
    and 0 outside (Bengio et al. 2013; Hubara et al. 2016)."""

    @staticmethod
    def forward(ctx, x, scale, zero_point, bits, symmetric, axis):
        qmin, qmax = qrange(bits, symmetric=symmetric)
        s = _view(scale, x, axis)
        z = _view(zero_point, x, axis).to(x.dtype)
        ctx.save_for_backward((x >= s * (qmin - z) - s / 2) & (x <= s * (qmax - z) + s / 2))
        return fake_quantize(x, scale, zero_point, bits, symmetric=symmetric, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return grad * inside, None, None, None, None, None


def ste_range(w: torch.Tensor, bits: int, *, observer: str = "mse", symmetric: bool = True, axis: int | None = 0,
              grid: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and zero point for :func:`ste_quantize` from the current weights (1 bit: ``mean |w|`` per channel)."""
    check_bits(bits)
    if symmetric and bits == 1:
        s = _reduce(w.detach().abs(), axis, lambda t: t.mean(0) if axis is not None else t.mean())
        return s, torch.zeros_like(s, dtype=torch.int64)
    lo, hi = observe(w, bits, observer=observer, symmetric=symmetric, axis=axis, grid=grid)
    return qparams(lo, hi, bits, symmetric=symmetric)


def ste_quantize(w: torch.Tensor, bits: int, scale=None, zero_point=None, *, observer: str = "mse",
                 symmetric: bool = True, axis: int | None = 0) -> torch.Tensor:
    """Fake-quantise ``w`` in the forward pass with a **clipped straight-through** gradient: ``∂L/∂w = ∂L/∂ŵ`` where
    ``w`` is inside the clipping range, 0 outside. ``scale``/``zero_point`` default to :func:`ste_range` of ``w``."""
    check_bits(bits)
    if scale is None:
        scale, zero_point = ste_range(w, bits, observer=observer, symmetric=symmetric, axis=axis)
    #: The forward pass sees the quantised weight $\hat w$; the backward pass copies the gradient straight
    #: through, $\partial L/\partial w \approx \partial L/\partial \hat w \cdot \mathbb{1}[w \in \text{range}]$
    #: (rounding has zero gradient almost everywhere, so the true derivative would stop learning).
    return _ClippedSTE.apply(w, scale, zero_point, bits, symmetric, axis)


class QATWrap(nn.Module):
    """A Linear/Conv whose weight passes through :func:`ste_quantize` in every forward pass (weight-only QAT). The
    range is re-observed every ``refresh`` training calls and held in between, so weights that drift outside it
    are clipped (and get no gradient) until the next refresh."""

    def __init__(self, layer: nn.Module, bits: int, observer: str = "mse", refresh: int = 10):
        super().__init__()
        self.layer, self.bits, self.observer = layer, check_bits(bits), observer
        self.refresh, self.calls = as_int("refresh", refresh, minimum=1), 0
        scale, zero = ste_range(layer.weight, bits, observer=observer)
        self.register_buffer("scale", scale)
        self.register_buffer("zero_point", zero)

    def forward(self, x):
        if self.training:
            if self.calls % self.refresh == 0:
                self.scale, self.zero_point = ste_range(self.layer.weight, self.bits, observer=self.observer)
            self.calls += 1
        w = ste_quantize(self.layer.weight, self.bits, self.scale, self.zero_point)
        if isinstance(self.layer, nn.Linear):
            return F.linear(x, w, self.layer.bias)
        return self.layer._conv_forward(x, w, self.layer.bias)


def qat(model: nn.Sequential, split, bits: int, *, epochs: int, lr: float = 1e-3, batch_size: int = 64,
        seed: int = 0, observer: str = "mse", device=None, progress: bool = False):
    """Weight-only quantisation-aware training from a trained ``model``: each Linear/Conv wrapped in
    :class:`QATWrap`, trained through the one loop (:func:`course_lib.low_power.models.train`). Returns
    ``(quantised model, history)``: the model's weights are the final fake-quantised ones (a plain Sequential)."""
    from course_lib.low_power.models import train

    _check_model(model)
    check_bits(bits)
    epochs = as_int("epochs", epochs, minimum=1)
    wrapped = nn.Sequential(*[QATWrap(copy.deepcopy(m), bits, observer) if isinstance(m, _QUANT)
                              else copy.deepcopy(m) for m in model])
    hist = train(wrapped, split, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device,
                 progress=progress, desc=f"QAT int{bits}")
    out = nn.Sequential(*[m.layer if isinstance(m, QATWrap) else m for m in wrapped])
    with torch.no_grad():
        for m in wrapped:
            if isinstance(m, QATWrap):
                m.layer.weight.copy_(ste_quantize(m.layer.weight, bits, m.scale, m.zero_point))  # as evaluated
    return out.eval(), hist


# ------------------------------------------------------------------------------------------- packed storage
def pack_state(model: nn.Module, bits: int, *, observer: str = "minmax") -> dict[str, torch.Tensor]:
    """A state dict that really stores ``bits``-bit weights: per Linear/Conv, the integer codes packed into uint8
    (``8 // bits`` codes per byte for bits ∈ {1, 2, 4}; int8 as int8; other widths in int16), a float32 scale per
    output channel, and the float32 bias. ``cost.serialized_bytes`` of it is the quantised file size."""
    check_bits(bits)
    state = {}
    for name, m in model.named_modules():
        if not isinstance(m, _QUANT):
            continue
        w = m.weight.detach().float()
        lo, hi = observe(w, bits, observer=observer, symmetric=True, axis=0)
        s, _ = qparams(lo, hi, bits, symmetric=True)
        qmin, qmax = qrange(bits, symmetric=True)
        q = torch.clamp(torch.round(w / _view(s, w, 0)), qmin, qmax).to(torch.int16).reshape(-1)
        if bits in (1, 2, 4):
            per = 8 // bits
            codes = (q - qmin).to(torch.uint8)
            codes = F.pad(codes, (0, (-len(codes)) % per)).reshape(-1, per)
            shifts = torch.arange(per, dtype=torch.uint8) * bits
            q = (codes << shifts).sum(1).to(torch.uint8)
        elif bits <= 8:
            q = q.to(torch.int8)
        state[f"{name}.qweight"] = q
        state[f"{name}.scale"] = s.float()
        if m.bias is not None:
            state[f"{name}.bias"] = m.bias.detach().float().clone()
    return state


# -------------------------------------------------------------------------------------------------- peers
def torch_ao_static(model: nn.Sequential, calib_x: torch.Tensor, *, engine: str = "x86") -> nn.Module:
    """The peer: ``torch.ao.quantization`` eager static int8 (fuse Conv/Linear+ReLU, ``get_default_qconfig(engine)``,
    ``prepare``, calibrate on ``calib_x``, ``convert``). ``torch.ao.quantization`` is deprecated in favour of
    torchao (its warnings are silenced here)."""
    import torch.ao.quantization as tq

    _check_model(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.backends.quantized.engine = engine
        m = copy.deepcopy(model).cpu().eval()
        mods = list(m)
        pairs = [[str(i), str(i + 1)] for i, x in enumerate(mods)
                 if isinstance(x, _QUANT) and i + 1 < len(mods) and isinstance(mods[i + 1], nn.ReLU)]
        if pairs:
            m = tq.fuse_modules(m, pairs)
        net = nn.Sequential(tq.QuantStub(), m, tq.DeQuantStub())
        net.qconfig = tq.get_default_qconfig(engine)
        tq.prepare(net, inplace=True)
        with torch.no_grad():
            net(calib_x)
        tq.convert(net, inplace=True)
    return net.eval()


def torch_ao_dynamic(model: nn.Module) -> nn.Module:
    """The peer for Linear-only int8: ``torch.ao.quantization.quantize_dynamic`` (weights int8, activations
    quantised on the fly; convolutions stay float32). Deprecated in favour of torchao."""
    import torch.ao.quantization as tq

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tq.quantize_dynamic(copy.deepcopy(model).cpu().eval(), {nn.Linear}, dtype=torch.qint8)


def torchao_int8(model: nn.Module):
    """The peer from torchao (``quantize_(model, Int8DynamicActivationInt8WeightConfig())``) on Linear layers.
    Returns the quantised copy, or raises ``RuntimeError`` saying why torchao does not run here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

            m = copy.deepcopy(model).cpu().eval()
            quantize_(m, Int8DynamicActivationInt8WeightConfig())
            return m
    except Exception as exc:  # torchao's CPU support varies by version: report, do not crash the notebook
        raise RuntimeError(f"torchao int8 did not run on this CPU: {type(exc).__name__}: {exc}") from exc


# --------------------------------------------------------------------------------------------------- study
def study(preset, *, device=None, progress: bool = False) -> dict:
    """Every quantisation measurement of notebook 1 and of the claims, on ``preset.model``'s cached baselines:
    weight-only PTQ sweep (min/max and MSE observers), PTQ int8 with calibrated activations as a real int8 model
    (x86 kernels) beside ``torch.ao`` static / dynamic and torchao, bytes, latency and QAT. Returns plain data:
    ``{"sweep": DataFrame, "int8": DataFrame (per seed), "peers": DataFrame, "qat": DataFrame, ...}``."""
    import pandas as pd

    from course_lib import cost
    from course_lib.low_power.data import load
    from course_lib.low_power.models import DATASET_OF, accuracy, baseline

    split = load(DATASET_OF[preset.model])
    x, y = split.x_test, split.y_test
    sweep, int8_rows, peers = [], [], []
    for seed in preset.seeds:
        model = baseline(preset.model, seed, device="cpu")
        fp32 = accuracy(model, x, y)
        for bits in preset.weight_bits:
            for obs in ("minmax", "mse"):
                acc = accuracy(quantize_weights(model, bits, observer=obs), x, y)
                sweep.append({"seed": seed, "bits": bits, "observer": obs, "fp32": fp32, "accuracy": acc,
                              "drop": fp32 - acc, "analytic_bytes": cost.analytic_bytes(model, bits),
                              "serialized_bytes": cost.serialized_bytes(pack_state(model, bits))})
        calib = split.x_train[: preset.calib_samples]
        sim = ptq(model, calib, 8)
        real = to_int8(sim)
        ao = torch_ao_static(model, calib)
        acc_real, acc_ao = accuracy(real, x, y), accuracy(ao, x, y)
        with torch.no_grad():
            same = float((real(x).argmax(1) == ao(x).argmax(1)).float().mean())
        int8_rows.append({"seed": seed, "fp32": fp32, "sim_int8": accuracy(sim, x, y), "real_int8": acc_real,
                          "torch_ao_static": acc_ao, "same_prediction_vs_ao": 100 * same,
                          "drop": fp32 - acc_real,
                          "analytic_ratio": cost.analytic_bytes(model) / cost.analytic_bytes(model, 8),
                          "serialized_ratio": cost.serialized_bytes(model) / cost.serialized_bytes(real),
                          "ao_serialized_ratio": cost.serialized_bytes(model) / cost.serialized_bytes(ao)})
        if seed == preset.seeds[0]:
            candidates = {"fp32": (model, 32), "ours int8 (x86 kernels)": (real, 8),
                          "torch.ao static int8": (ao, 8), "torch.ao dynamic int8": (torch_ao_dynamic(model), 32)}
            if getattr(preset, "torchao_peer", True):
                try:
                    candidates["torchao int8 dyn-act"] = (torchao_int8(model), 32)
                except RuntimeError as exc:
                    print(exc)
            peers_df = cost.table(candidates, (x, y), example=split.example(), repeats=preset.latency_repeats)
            if "torchao int8 dyn-act" in peers_df.index:  # weights are torchao tensor subclasses: no analytic count
                peers_df.loc["torchao int8 dyn-act", "analytic_bytes"] = float("nan")
            peers_df["energy_proxy_uJ"] = [
                cost.energy_proxy(int(r.MACs), int(r.serialized_bytes),
                                  dtype="int8" if "static" in n or "x86" in n else "fp32")["proxy_uJ"]
                for n, r in peers_df.iterrows()]
            peers.append(peers_df)
    qat_rows = []
    for seed in preset.train_seeds:
        model = baseline(preset.model, seed, device="cpu")
        for bits in preset.qat_bits:
            qmodel, hist = qat(model, split, bits, epochs=preset.qat_epochs, lr=preset.qat_lr, seed=seed,
                               device=device, progress=progress)
            qat_rows.append({"seed": seed, "bits": bits, "ptq_minmax": accuracy(quantize_weights(model, bits), x, y),
                             "qat": accuracy(qmodel.cpu(), x, y), "seconds": float(hist["seconds"].sum())})
    return {"sweep": pd.DataFrame(sweep), "int8": pd.DataFrame(int8_rows), "peers": peers[0],
            "qat": pd.DataFrame(qat_rows), "split": split}


def mnist_int8(calib_samples: int = 256) -> dict:
    """PTQ int8 (real int8 kernels) of the cached MNIST t10k CNN on the registry's MNIST test split: fp32 and int8
    accuracy and the drop. Raises ``DataUnavailable`` when the registry data is missing."""
    from course_lib.low_power.data import load_mnist
    from course_lib.low_power.models import accuracy, baseline

    split = load_mnist()
    model = baseline("mnist_cnn", 0, device="cpu")
    real = to_int8(ptq(model, split.x_train[:calib_samples], 8))
    fp32, q = accuracy(model, split.x_test, split.y_test), accuracy(real, split.x_test, split.y_test)
    return {"fp32": fp32, "int8": q, "drop": fp32 - q}
